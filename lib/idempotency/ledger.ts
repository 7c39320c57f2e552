// The ledger of idempotency keys a store keeps: per key, the first request's fingerprint and answer.

/** An answer worth replaying: what the first request with a key got. */
export interface IdempotentAnswer {
  readonly status: number;
  /** Header pairs beside those every answer carries (`Content-Type`, `Location`). */
  readonly headers: readonly string[];
  readonly body: string;
}

export type Claim =
  /** The key is this request's to publish with; `ticket` settles it. */
  | { readonly kind: 'first'; readonly ticket: string }
  /** A request with the same fingerprint succeeded within the TTL: this is its answer. */
  | { readonly kind: 'replay'; readonly answer: IdempotentAnswer }
  /** The key was used for a different request. */
  | { readonly kind: 'conflict' }
  /** A request with the same fingerprint is being published elsewhere: ask again shortly. */
  | { readonly kind: 'pending' };

/**
 * Where publishes with an `Idempotency-Key` are decided: one ledger per deployment (a process, a
 * cluster's primary, a Redis), so that a key is decided once however many processes see it.
 */
export interface IdempotencyLedger {
  /** Claims `key` for a request whose fingerprint is given; never waits for another request. */
  claim(key: string, fingerprint: string, ttlMs: number): Promise<Claim>;
  /**
   * Ends a claim: the answer is remembered for `ttlMs` (a success), or with null the claim is
   * forgotten, so the request may be tried again. A ticket that no longer holds the key is ignored.
   */
  settle(key: string, ticket: string, answer: IdempotentAnswer | null, ttlMs: number): Promise<void>;
}

/**
 * How long a claim holds its key before it is taken for abandoned (its process died
 * mid-publish): far longer than a publish takes while its store answers.
 */
export const CLAIM_LEASE_MS = 15_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isIdempotentAnswer(value: unknown): value is IdempotentAnswer {
  return isObject(value) && typeof value.status === 'number' && typeof value.body === 'string' && Array.isArray(value.headers) && value.headers.every((item) => typeof item === 'string');
}

export function isClaim(value: unknown): value is Claim {
  if (!isObject(value)) return false;
  switch (value.kind) {
    case 'first':
      return typeof value.ticket === 'string';
    case 'replay':
      return isIdempotentAnswer(value.answer);
    case 'conflict':
    case 'pending':
      return true;
    default:
      return false;
  }
}
