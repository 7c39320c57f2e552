import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RedisClientLike } from '../lib/stores/redis/client';
import { type RedisServer, startRedis } from './support/redis-server';
import { type RepollServer, clockAllowance, repoll, startRedisHoldpush, statsClient } from './support/redis-repoll';

// The Redis store's cache of recent messages over a long stream (test/redis-cache.test.ts has the
// rest): subscribers re-polling on two servers get every message once, in order, with no gap.

let redis: RedisServer;
let stats: RedisClientLike;
const servers: RepollServer[] = [];

before(async () => {
  redis = await startRedis();
  stats = await statsClient(redis.url);
});

after(async () => {
  for (const server of servers) await server.close();
  await (stats as { close?(): Promise<unknown> }).close?.();
  await redis.stop();
});

test('20 subscribers re-polling 2,000 messages over two servers on one Redis lose nothing, and the publishes alone cost Redis', { timeout: 60000 }, async (t) => {
  for (let i = 0; i < 2; i++) servers.push(await startRedisHoldpush(redis.url, 'long:'));
  const messages = 2000;
  // repoll() checks every answer: 200, the next message in order, no X-Holdpush-Gap.
  const run = await repoll(servers, stats, 'long', 20, messages);
  t.diagnostic(`${run.deliveries} deliveries in order with no gap; ${run.scripts} scripts in ${run.seconds.toFixed(1)} s (${(run.scripts / messages).toFixed(2)} per publish, ${(run.scripts / run.deliveries).toFixed(3)} per delivery)`);
  assert.equal(run.deliveries, 40000);
  // Two scripts per publish (the append, and the channel's figures for the publisher's answer).
  assert.ok((run.scripts - clockAllowance(2, run.seconds)) / messages <= 2.05, `${run.scripts} scripts`);
});
