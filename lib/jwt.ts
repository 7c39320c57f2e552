// HS256 JSON Web Tokens: the subscriber tokens of docs/protocol.md, "Publishing and subscribing rights".
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a verified subscriber token allows. */
export interface TokenGrant {
  /** Channel names and `uid:<uid>` entries the bearer may read. */
  readonly subscribe: ReadonlySet<string>;
  /** Channel names the bearer may publish to. */
  readonly publish: ReadonlySet<string>;
}

export type VerifyResult = { ok: true; grant: TokenGrant } | { ok: false; reason: string };

function decodeSegment(segment: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new Error('not base64url');
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

function names(value: unknown): Set<string> {
  return new Set(Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : []);
}

/**
 * Verifies a compact JWT signed HS256 with `secret`. Any other `alg`, `none` included, is
 * refused; `exp` and `nbf` hold when present. `now` is in Unix seconds.
 */
export function verifyJwt(token: string, secret: string, now: number): VerifyResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed token' };
  const [head, body, signature] = parts as [string, string, string];
  let header: unknown;
  let claims: unknown;
  try {
    header = decodeSegment(head);
    claims = decodeSegment(body);
  } catch {
    return { ok: false, reason: 'malformed token' };
  }
  if (typeof header !== 'object' || header === null || (header as { alg?: unknown }).alg !== 'HS256') {
    return { ok: false, reason: 'only HS256 tokens are accepted' };
  }
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const given = /^[A-Za-z0-9_-]+$/.test(signature) ? Buffer.from(signature, 'base64url') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature' };
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return { ok: false, reason: 'malformed claims' };
  const { exp, nbf, holdpush } = claims as { exp?: unknown; nbf?: unknown; holdpush?: unknown };
  if (exp !== undefined && (typeof exp !== 'number' || now >= exp)) return { ok: false, reason: 'token expired' };
  if (nbf !== undefined && (typeof nbf !== 'number' || now < nbf)) return { ok: false, reason: 'token not yet valid' };
  const grant = typeof holdpush === 'object' && holdpush !== null ? (holdpush as { subscribe?: unknown; publish?: unknown }) : {};
  return { ok: true, grant: { subscribe: names(grant.subscribe), publish: names(grant.publish) } };
}

/** Signs claims as an HS256 JWT: for tests, tools and apps that mint subscriber tokens. */
export function signJwt(claims: object, secret: string): string {
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}
