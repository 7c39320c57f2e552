// Who may publish and subscribe (docs/protocol.md, "Publishing and subscribing rights").
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createAddressSet } from './http/address';
import type { ClientOf } from './http/client-address';
import type { ErrorCode } from './errors';
import type { HeaderPairs } from './http/answer';
import { verifyJwt } from './jwt';

export interface Refusal {
  readonly status: 401 | 403;
  readonly code: ErrorCode;
  readonly message: string;
}

const CHALLENGE: HeaderPairs = ['WWW-Authenticate', 'Bearer realm="holdpush"'];

export function refusalHeaders(refusal: Refusal): HeaderPairs {
  return refusal.status === 401 ? CHALLENGE : [];
}

export function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compares secrets in constant time whatever their lengths. */
export function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

/**
 * The token of an `Authorization: Bearer` header; '' for a malformed Bearer header; undefined
 * when there is none or it uses another scheme (a browser sends `Basic` by itself on a site
 * behind HTTP auth: the query or form token must still count then).
 */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined || !/^Bearer(?:[ \t]|$)/i.test(header)) return undefined;
  const match = /^Bearer[ \t]+([^ \t]+)[ \t]*$/i.exec(header);
  return match === null ? '' : match[1];
}

export interface RightsOptions {
  publishToken: string | undefined;
  subscribeSecret: string | undefined;
  publishAllow: readonly string[];
}

export interface Rights {
  /** Null when the request may publish to `channel` (a channel name, or null for `/send`). */
  publish(req: IncomingMessage, channel: string | null, formToken?: string): Refusal | null;
  /** Null when the request may read every one of `names` (channels, or `uid:<uid>`). */
  subscribe(req: IncomingMessage, names: readonly string[], queryToken: string | null): Refusal | null;
}

/** Why a forwarded request was refused: the fix is one of two flags. */
const UNKNOWN_CLIENT = 'this request came through a proxy that is not trusted, so its client is unknown: publish with --publish-token, or name the proxy in --trust-proxy so --publish-allow can judge its client';

/** `clientOf` reads a request's client address (the peer's, or the one trusted proxies forwarded). */
export function createRights(options: RightsOptions, clientOf: ClientOf): Rights {
  const publishDigest = options.publishToken === undefined ? undefined : digest(options.publishToken);
  const allowed = createAddressSet(options.publishAllow);
  const secret = options.subscribeSecret;

  /** A subscriber token may carry publishing rights for the channels it names. */
  function tokenMayPublish(token: string | undefined, channel: string | null): boolean {
    if (secret === undefined || token === undefined || token === '' || channel === null) return false;
    const result = verifyJwt(token, secret, Date.now() / 1000);
    return result.ok && result.grant.publish.has(channel);
  }

  return {
    publish(req, channel, formToken) {
      const token = bearerToken(req) ?? formToken;
      if (publishDigest !== undefined) {
        if (token !== undefined && token !== '' && sameSecret(token, publishDigest)) return null;
        if (tokenMayPublish(token, channel)) return null;
        if (token === undefined || token === '') return { status: 401, code: 'unauthorized', message: 'publishing needs Authorization: Bearer <publish token>' };
        return { status: 401, code: 'unauthorized', message: 'the publish token is not valid' };
      }
      const client = clientOf(req);
      if (!client.viaUntrustedProxy && allowed(client.address)) return null;
      if (tokenMayPublish(token, channel)) return null;
      if (client.viaUntrustedProxy) return { status: 403, code: 'forbidden', message: UNKNOWN_CLIENT };
      return { status: 403, code: 'forbidden', message: 'this address may not publish (see --publish-allow)' };
    },
    subscribe(req, names, queryToken) {
      if (secret === undefined) return null;
      const token = bearerToken(req) ?? queryToken ?? undefined;
      if (token === undefined || token === '') return { status: 401, code: 'unauthorized', message: 'subscribing needs a token (Authorization: Bearer or ?token=)' };
      const result = verifyJwt(token, secret, Date.now() / 1000);
      if (!result.ok) return { status: 401, code: 'unauthorized', message: `the subscriber token was refused: ${result.reason}` };
      for (const name of names) {
        if (!result.grant.subscribe.has(name)) return { status: 403, code: 'forbidden', message: `the token does not grant ${name}` };
      }
      return null;
    },
  };
}
