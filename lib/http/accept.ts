// What a request's Accept header asks for.
import type { IncomingMessage } from 'node:http';

/** Whether a request's `Accept` names a type (plain substring match on the media range). */
export function accepts(req: IncomingMessage, type: string): boolean {
  return firstAccepted(req, [type]) !== undefined;
}

/**
 * The first of `types` (lower-case, in the caller's order of preference) that a request's
 * `Accept` names, the header lower-cased once however many are asked (subscribes and publish
 * answers ask on every request).
 */
export function firstAccepted<T extends string>(req: IncomingMessage, types: readonly T[]): T | undefined {
  const accept = req.headers.accept;
  if (accept === undefined) return undefined;
  const lower = accept.toLowerCase();
  for (const type of types) if (lower.includes(type)) return type;
  return undefined;
}

/** A browser's form post: its `Accept` puts HTML before JSON (or names no JSON at all). */
export function prefersHtml(req: IncomingMessage): boolean {
  const accept = (req.headers.accept ?? '').toLowerCase();
  const html = accept.indexOf('text/html');
  if (html < 0) return false;
  const json = accept.indexOf('application/json');
  return json < 0 || html < json;
}
