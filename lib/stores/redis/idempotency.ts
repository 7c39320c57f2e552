/**
 * The Redis store's idempotency ledger: one expiring key per idempotency key, shared by every
 * server on the Redis (LUA_CLAIM and LUA_SETTLE in scripts.ts). Memory is Redis's: each key
 * lives for the TTL (a claim for its lease), whatever their number.
 */
import { randomBytes } from 'node:crypto';
import { CLAIM_LEASE_MS, type Claim, type IdempotencyLedger, isIdempotentAnswer } from '../../idempotency/ledger';
import { list, text } from './codec';
import { SCRIPTS, type Script } from './scripts';

const CONFLICT: Claim = { kind: 'conflict' };
const PENDING: Claim = { kind: 'pending' };

function milliseconds(ms: number): string {
  return String(Math.max(1, Math.round(ms)));
}

export function createRedisLedger(run: (script: Script, args: (string | Buffer)[]) => Promise<unknown>): IdempotencyLedger {
  return {
    async claim(key, fingerprint) {
      // The ticket holds the fingerprint, so that settling can write it beside the answer.
      const ticket = `${fingerprint}\n${randomBytes(8).toString('hex')}`;
      const reply = list(await run(SCRIPTS.claim, [key, fingerprint, ticket, milliseconds(CLAIM_LEASE_MS)]));
      switch (text(reply[0])) {
        case 'first':
          return { kind: 'first', ticket };
        case 'conflict':
          return CONFLICT;
        case 'pending':
          return PENDING;
        default: {
          const answer: unknown = JSON.parse(text(reply[1]));
          if (!isIdempotentAnswer(answer)) throw new Error('redis holds a malformed answer for an idempotency key');
          return { kind: 'replay', answer };
        }
      }
    },
    async settle(key, ticket, answer, ttlMs) {
      const args = answer === null ? [key, ticket, milliseconds(ttlMs), '0'] : [key, ticket, milliseconds(ttlMs), '1', JSON.stringify(answer)];
      await run(SCRIPTS.settle, args);
    },
  };
}
