// What a request's Accept header asks for.
import type { IncomingMessage } from 'node:http';

/** Whether a request's `Accept` names a type (plain substring match on the media range). */
export function accepts(req: IncomingMessage, type: string): boolean {
  const accept = req.headers.accept;
  return accept !== undefined && accept.toLowerCase().includes(type);
}

/** A browser's form post: its `Accept` puts HTML before JSON (or names no JSON at all). */
export function prefersHtml(req: IncomingMessage): boolean {
  const accept = (req.headers.accept ?? '').toLowerCase();
  const html = accept.indexOf('text/html');
  if (html < 0) return false;
  const json = accept.indexOf('application/json');
  return json < 0 || html < json;
}
