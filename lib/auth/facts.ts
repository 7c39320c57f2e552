// The facts of a request that the app is told, checked before they leave.
import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../errors';
import { HEADER_VALUE } from './answer';
import type { AuthFacts, AuthOp } from './types';

/**
 * Most characters of the client's values passed on to the app, all together (`Cookie`,
 * `Authorization`, `User-Agent`, the URI, the channels): with holdpush's own headers they stay
 * under the 16 KiB of headers that Node (and so most apps) accepts by default.
 */
export const MAX_FORWARDED = 12 * 1024;

export type FactsResult =
  | { readonly ok: true; readonly facts: AuthFacts }
  | { readonly ok: false; readonly status: 400 | 431; readonly code: ErrorCode; readonly message: string };

const NOT_A_HEADER: FactsResult = {
  ok: false,
  status: 400,
  code: 'bad_request',
  message: 'a value holdpush passes to the app that authorizes requests (Cookie, Authorization, User-Agent, the URI, a uid) is not one line of text',
};

const TOO_LARGE: FactsResult = {
  ok: false,
  status: 431,
  code: 'headers_too_large',
  message: `Cookie, Authorization, User-Agent, the URI and the channels may together be at most ${MAX_FORWARDED} characters when the app authorizes requests`,
};

/**
 * The facts of a request that the app is told, checked here at the edge: node:http would
 * throw on a value it cannot send (possible when an app's middleware rewrote a header), and
 * an app's server would refuse headers past its limit.
 */
export function readFacts(req: IncomingMessage, op: AuthOp, channels: readonly string[], clientAddress: string | undefined): FactsResult {
  const cookie: unknown = req.headers.cookie;
  const authorization: unknown = req.headers.authorization;
  const userAgent: unknown = req.headers['user-agent'];
  const uri: unknown = req.url ?? '/';
  const method: unknown = req.method ?? 'GET';
  let total = 0;
  for (const value of [cookie, authorization, userAgent, uri, method, clientAddress, ...channels]) {
    if (value === undefined) continue;
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) return NOT_A_HEADER;
    total += value.length;
  }
  if (total > MAX_FORWARDED) return TOO_LARGE;
  return {
    ok: true,
    facts: {
      op,
      channels,
      cookie: (cookie as string | undefined) || undefined,
      authorization: (authorization as string | undefined) || undefined,
      userAgent: (userAgent as string | undefined) || undefined,
      uri: uri as string,
      method: method as string,
      clientAddress: clientAddress || undefined,
    },
  };
}
