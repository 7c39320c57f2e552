// Publishing exactly once per key: one gate per holdpush instance, in front of its store's ledger.
import { StoreUnavailableError } from '../stores/store';
import { CLAIM_LEASE_MS, type IdempotencyLedger, type IdempotentAnswer } from './ledger';

export type GateResult =
  | { readonly kind: 'answer'; readonly answer: IdempotentAnswer; readonly replayed: boolean }
  | { readonly kind: 'conflict' };

export interface IdempotencyGate {
  /**
   * Runs `publish` unless a request with this key ran it already: then its answer (replayed),
   * or a conflict when that request was a different one. A publish that throws is forgotten,
   * so a retry publishes; requests sharing its attempt get the same error.
   */
  run(key: string, fingerprint: string, publish: () => Promise<IdempotentAnswer>): Promise<GateResult>;
}

/** Longest wait for a key in flight elsewhere: past the claim's lease, so an abandoned claim is taken over first. */
const WAIT_MS = CLAIM_LEASE_MS + 1000;
const FIRST_PAUSE_MS = 5;
const LONGEST_PAUSE_MS = 100;

const CONFLICT: GateResult = { kind: 'conflict' };

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Requests of this process with one key share the first one's attempt; the ledger decides
 * between processes, and a key in flight in another process is asked about again until it is
 * decided (within a bound).
 */
export function createIdempotencyGate(ledger: IdempotencyLedger, ttlMs: number): IdempotencyGate {
  /** Attempts in flight in this process, by key. */
  const inFlight = new Map<string, { readonly fingerprint: string; readonly done: Promise<GateResult> }>();

  async function attempt(key: string, fingerprint: string, publish: () => Promise<IdempotentAnswer>): Promise<GateResult> {
    const deadline = Date.now() + WAIT_MS;
    let wait = FIRST_PAUSE_MS;
    for (;;) {
      const claim = await ledger.claim(key, fingerprint, ttlMs);
      switch (claim.kind) {
        case 'conflict':
          return CONFLICT;
        case 'replay':
          return { kind: 'answer', answer: claim.answer, replayed: true };
        case 'first': {
          let answer: IdempotentAnswer;
          try {
            answer = await publish();
          } catch (error) {
            await ledger.settle(key, claim.ticket, null, ttlMs).catch(() => undefined);
            throw error;
          }
          // Published: the answer stands even if it cannot be remembered (the claim's lease then ends it).
          await ledger.settle(key, claim.ticket, answer, ttlMs).catch(() => undefined);
          return { kind: 'answer', answer, replayed: false };
        }
        case 'pending':
          if (Date.now() + wait > deadline) throw new StoreUnavailableError('store_unavailable', 'a request with this Idempotency-Key is still being published; retry shortly');
          await pause(wait);
          wait = Math.min(wait * 2, LONGEST_PAUSE_MS);
      }
    }
  }

  return {
    async run(key, fingerprint, publish) {
      const current = inFlight.get(key);
      if (current !== undefined) {
        if (current.fingerprint !== fingerprint) return CONFLICT;
        const shared = await current.done;
        return shared.kind === 'answer' ? { ...shared, replayed: true } : shared;
      }
      const done = attempt(key, fingerprint, publish);
      inFlight.set(key, { fingerprint, done });
      try {
        return await done;
      } finally {
        inFlight.delete(key);
      }
    },
  };
}
