// The idempotency ledger of one process (the memory store) or of a cluster's primary, bounded.
import { CLAIM_LEASE_MS, type Claim, type IdempotencyLedger, type IdempotentAnswer } from './ledger';

export interface CacheLimits {
  /** Keys remembered at once. @defaultValue 100000 */
  readonly maxKeys: number;
  /** Characters of keys, fingerprints and answers remembered at once. @defaultValue 32 MiB */
  readonly maxBytes: number;
  /** Milliseconds a claim holds its key without being settled. @defaultValue CLAIM_LEASE_MS */
  readonly leaseMs: number;
}

export const CACHE_LIMITS: CacheLimits = { maxKeys: 100_000, maxBytes: 32 * 1024 * 1024, leaseMs: CLAIM_LEASE_MS };

interface Entry {
  readonly fingerprint: string;
  /** The claim's ticket while it is in flight; undefined once settled. */
  readonly ticket: string | undefined;
  readonly answer: IdempotentAnswer | undefined;
  /** Unix ms when the entry is forgotten (the lease of a claim, the TTL of an answer). */
  readonly until: number;
  readonly bytes: number;
  /** Who claimed it (a cluster worker's id; 0 here), so a worker that dies lets go of its claims. */
  readonly owner: number;
}

const CONFLICT: Claim = { kind: 'conflict' };
const PENDING: Claim = { kind: 'pending' };

function answerBytes(answer: IdempotentAnswer): number {
  let bytes = answer.body.length;
  for (const item of answer.headers) bytes += item.length;
  return bytes;
}

/**
 * Entries sit in the order they were claimed or settled. Answers share one TTL, so the settled
 * ones also expire in that order and are swept from the front; claims in flight are few and
 * skipped. Past `maxKeys` or `maxBytes`, the oldest answers are forgotten early (a retry after
 * that publishes again); claims in flight are never dropped, they end with their requests.
 */
export class IdempotencyCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private nextTicket = 1;

  constructor(private readonly limits: CacheLimits = CACHE_LIMITS) {}

  get size(): number {
    return this.entries.size;
  }

  claim(key: string, fingerprint: string, owner = 0): Claim {
    const now = Date.now();
    this.sweep(now);
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.until > now) {
      if (entry.fingerprint !== fingerprint) return CONFLICT;
      return entry.answer === undefined ? PENDING : { kind: 'replay', answer: entry.answer };
    }
    if (entry !== undefined) this.remove(key, entry);
    const ticket = String(this.nextTicket++);
    this.insert(key, { fingerprint, ticket, answer: undefined, until: now + this.limits.leaseMs, bytes: key.length + fingerprint.length, owner });
    return { kind: 'first', ticket };
  }

  settle(key: string, ticket: string, answer: IdempotentAnswer | null, ttlMs: number): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.ticket !== ticket) return;
    this.remove(key, entry);
    if (answer === null) return;
    const bytes = key.length + entry.fingerprint.length + answerBytes(answer);
    this.insert(key, { fingerprint: entry.fingerprint, ticket: undefined, answer, until: Date.now() + ttlMs, bytes, owner: entry.owner });
  }

  /** Forgets the claims in flight of an owner that went away (its requests will never settle them). */
  abandon(owner: number): void {
    for (const [key, entry] of this.entries) if (entry.ticket !== undefined && entry.owner === owner) this.remove(key, entry);
  }

  /** This cache as a store's ledger. */
  ledger(): IdempotencyLedger {
    return {
      claim: async (key, fingerprint) => this.claim(key, fingerprint),
      settle: async (key, ticket, answer, ttlMs) => this.settle(key, ticket, answer, ttlMs),
    };
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private insert(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
    const { maxKeys, maxBytes } = this.limits;
    if (this.entries.size <= maxKeys && this.bytes <= maxBytes) return;
    for (const [oldKey, old] of this.entries) {
      if (this.entries.size <= maxKeys && this.bytes <= maxBytes) break;
      if (old.ticket === undefined) this.remove(oldKey, old);
    }
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  /** Drops expired entries from the front, up to the first answer still alive. */
  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.until > now) {
        if (entry.ticket === undefined) break;
        continue;
      }
      this.remove(key, entry);
    }
  }
}
