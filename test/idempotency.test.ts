import assert from 'node:assert/strict';
import type { Agent } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { IdempotencyCache } from '../lib/idempotency/cache';
import { IdempotencyConflictError, createHoldpush } from '../lib/index';
import { createRedisStore } from '../lib/stores/redis/store';
import { type Answer, call, postBatch } from './support/batch-helpers';
import { type ClusterRun, type Pinned, killGroup, pinWorkers, startCluster } from './support/cluster-run';
import { type Running, startServer } from './support/http';
import { type RedisServer, startRedis } from './support/redis-server';
import { eventually } from './support/wait';

/**
 * One side of a deployment: where requests go, and the keep-alive connections that reach it (a
 * cluster's workers are told apart by them); none means a connection per request.
 */
interface Side {
  readonly base: string;
  readonly agents: readonly Agent[];
}

let unique = 0;
/** A name no other test uses (servers may share a store). */
function fresh(what: string): string {
  unique += 1;
  return `${what}${unique}-${process.pid}`;
}

function agentOf(side: Side, i = 0): Agent | undefined {
  return side.agents.length === 0 ? undefined : side.agents[i % side.agents.length];
}

function pubOne(side: Side, channel: string, body: string, key: string, i = 0): Promise<Answer> {
  return call(`${side.base}/pub/${channel}`, { method: 'POST', headers: { 'Idempotency-Key': key, 'Content-Type': 'text/plain' }, body, agent: agentOf(side, i) });
}

function batchOf(channel: string, count: number, prefix = 'm'): { messages: { channel: string; data: string }[] } {
  return { messages: Array.from({ length: count }, (_, i) => ({ channel, data: `${prefix}${i}` })) };
}

/** Messages the deployment holds on a channel (channel info, JSON). */
async function queued(side: Side, channel: string): Promise<number> {
  const info = await call(`${side.base}/pub/${channel}`, { headers: { Accept: 'application/json' }, agent: agentOf(side) });
  return info.status === 404 ? 0 : info.json<{ messages: number }>().messages;
}

/** The first answer with a key, then the same request elsewhere: the same status and body, marked replayed; nothing new published. */
async function replays(a: Side, b: Side): Promise<void> {
  const channel = fresh('replay');
  const key = fresh('key-');
  const first = await pubOne(a, channel, 'hello', key);
  assert.equal(first.status, 202);
  assert.equal(first.headers['idempotent-replayed'], undefined);
  const again = await pubOne(b, channel, 'hello', key);
  assert.equal(again.status, 202);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(again.text, first.text);
  assert.equal(await queued(a, channel), 1);

  const batchKey = fresh('batch-');
  const batch = batchOf(channel, 5);
  const published = await postBatch(a.base, batch, { 'Idempotency-Key': batchKey }, agentOf(a));
  assert.equal(published.status, 200);
  const replayed = await postBatch(b.base, batch, { 'Idempotency-Key': batchKey }, agentOf(b));
  assert.equal(replayed.status, 200);
  assert.equal(replayed.headers['idempotent-replayed'], 'true');
  assert.deepEqual(replayed.json<{ ids: string[] }>().ids, published.json<{ ids: string[] }>().ids);
  assert.equal(await queued(b, channel), 6);
}

/** The same key with another body, channel or route: 409, nothing published. */
async function conflicts(a: Side, b: Side): Promise<void> {
  const channel = fresh('conflict');
  const key = fresh('key-');
  assert.equal((await pubOne(a, channel, 'one', key)).status, 202);
  const refusals = [
    await pubOne(b, channel, 'two', key),
    await pubOne(b, `${channel}x`, 'one', key),
    await postBatch(b.base, { messages: [{ channel, data: 'one' }] }, { 'Idempotency-Key': key }, agentOf(b)),
    await call(`${b.base}/send`, { method: 'POST', headers: { 'Idempotency-Key': key, 'Content-Type': 'text/plain' }, body: 'one', agent: agentOf(b) }),
  ];
  for (const refusal of refusals) {
    assert.equal(refusal.status, 409, refusal.text);
    assert.equal(refusal.json<{ error: string }>().error, 'idempotency_conflict');
  }
  assert.equal(await queued(a, channel), 1);
  assert.equal(await queued(a, `${channel}x`), 0);
}

/** 20 identical requests at once (spread over both sides): one publishes, 19 get its answer. */
async function concurrent(a: Side, b: Side): Promise<void> {
  const channel = fresh('together');
  const key = fresh('key-');
  const batch = batchOf(channel, 3);
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? postBatch(a.base, batch, { 'Idempotency-Key': key }, agentOf(a, i >> 1)) : postBatch(b.base, batch, { 'Idempotency-Key': key }, agentOf(b, i >> 1)))));
  for (const answer of answers) assert.equal(answer.status, 200, answer.text);
  const ids = answers.map((answer) => JSON.stringify(answer.json<{ ids: string[] }>().ids));
  assert.equal(new Set(ids).size, 1, 'every request got the same ids');
  assert.equal(answers.filter((answer) => answer.headers['idempotent-replayed'] === undefined).length, 1, 'one request published');
  assert.equal(answers.filter((answer) => answer.headers['idempotent-replayed'] === 'true').length, 19);
  assert.equal(await queued(a, channel), 3);
}

/**
 * With a short TTL: the key is replayed until it expires, then the same request publishes again.
 * Asked until the answer is no longer a replay (a replay publishes nothing, so asking is free).
 */
async function expires(a: Side, b: Side): Promise<void> {
  const channel = fresh('expiry');
  const key = fresh('key-');
  const batch = batchOf(channel, 2);
  const first = await postBatch(a.base, batch, { 'Idempotency-Key': key }, agentOf(a));
  assert.equal(first.status, 200);
  const firstIds = first.json<{ ids: string[] }>().ids;
  const answer = await eventually(
    () => postBatch(b.base, batch, { 'Idempotency-Key': key }, agentOf(b)),
    (reply) => {
      assert.equal(reply.status, 200);
      if (reply.headers['idempotent-replayed'] !== 'true') return true;
      assert.deepEqual(reply.json<{ ids: string[] }>().ids, firstIds, 'a replay has the first ids');
      return false;
    },
    10000,
    'the key to expire',
  );
  const ids = answer.json<{ ids: string[] }>().ids;
  assert.notDeepEqual(ids, firstIds, 'published again after the TTL');
  assert.equal(await queued(a, channel), 4);
  const again = await postBatch(a.base, batch, { 'Idempotency-Key': key }, agentOf(a));
  assert.equal(again.headers['idempotent-replayed'], 'true', 'the new answer is remembered in turn');
  assert.deepEqual(again.json<{ ids: string[] }>().ids, ids);
}

describe('Idempotency-Key in one process', () => {
  let server: Running;
  let short: Running;
  let side: Side;
  before(async () => {
    [server, short] = await Promise.all([startServer(), startServer({ idempotencyTtl: 0.5 })]);
    side = { base: server.url, agents: [] };
  });
  after(() => Promise.all([server?.close(), short?.close()]));

  test('a replay within the TTL: same status and body or ids, Idempotent-Replayed: true, nothing published', () => replays(side, side));
  test('/send is replayed too', async () => {
    const key = fresh('send-');
    const send = () => call(`${server.url}/send`, { method: 'POST', headers: { 'Idempotency-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify({ message: 'hi', uid: 'ann' }) });
    const before = server.holdpush.stats().messages.published;
    const first = await send();
    assert.equal(first.status, 200);
    const again = await send();
    assert.equal(again.status, 200);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.text, first.text);
    assert.equal(server.holdpush.stats().messages.published, before + 1);
  });
  test('the same key for another request: 409', () => conflicts(side, side));
  test('20 identical requests at once publish once', () => concurrent(side, side));
  test('after the TTL the same request publishes again', () => expires({ base: short.url, agents: [] }, { base: short.url, agents: [] }));

  test('a key that is not 1-255 visible ASCII characters: 400 on every publish route, nothing published', async () => {
    const before = server.holdpush.stats().messages.published;
    for (const key of ['', 'has space', 'x'.repeat(256), 'caf\u00e9']) {
      const answers = [
        await call(`${server.url}/pub/badkey`, { method: 'POST', headers: { 'Idempotency-Key': key }, body: 'x' }),
        await postBatch(server.url, { messages: [{ channel: 'badkey', data: 'x' }] }, { 'Idempotency-Key': key }),
        await call(`${server.url}/send`, { method: 'POST', headers: { 'Idempotency-Key': key, 'Content-Type': 'text/plain' }, body: 'x' }),
      ];
      for (const answer of answers) {
        assert.equal(answer.status, 400, JSON.stringify(key));
        assert.equal(answer.json<{ error: string }>().error, 'bad_idempotency_key');
      }
    }
    assert.equal(server.holdpush.stats().messages.published, before);
    assert.equal((await call(`${server.url}/pub/badkey`, { method: 'POST', headers: { 'Idempotency-Key': `~${'x'.repeat(254)}` }, body: 'x' })).status, 202, '255 characters is a key');
  });

  test('a refused publish is not remembered: the same key may be retried', async (t) => {
    const tight = await startServer({ maxChannels: 1 });
    t.after(() => tight.close());
    assert.equal((await call(`${tight.url}/pub/full`, { method: 'POST', body: 'x' })).status, 202);
    const key = fresh('retry-');
    const refused = await postBatch(tight.url, { messages: [{ channel: 'other', data: 'x' }] }, { 'Idempotency-Key': key });
    assert.equal(refused.status, 503);
    assert.equal((await call(`${tight.url}/pub/full`, { method: 'DELETE' })).status, 200);
    const retried = await postBatch(tight.url, { messages: [{ channel: 'other', data: 'x' }] }, { 'Idempotency-Key': key });
    assert.equal(retried.status, 200);
    assert.equal(retried.headers['idempotent-replayed'], undefined, 'the retry published');
    const replayed = await postBatch(tight.url, { messages: [{ channel: 'other', data: 'x' }] }, { 'Idempotency-Key': key });
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.equal(tight.holdpush.stats().messages.published, 2);
  });

  test('the embedding API: idempotencyKey on publish() and publishMany()', async () => {
    const holdpush = createHoldpush();
    try {
      const first = await holdpush.publish('emb', 'x', { idempotencyKey: 'k1' });
      assert.equal(first.replayed, false);
      const again = await holdpush.publish('emb', 'x', { idempotencyKey: 'k1' });
      assert.deepEqual(again, { ...first, replayed: true });
      await assert.rejects(holdpush.publish('emb', 'y', { idempotencyKey: 'k1' }), (error: unknown) => error instanceof IdempotencyConflictError && error.code === 'idempotency_conflict');
      await assert.rejects(holdpush.publishMany([{ channel: 'emb', data: 'x' }], { idempotencyKey: 'k1' }), IdempotencyConflictError);
      await assert.rejects(holdpush.publish('emb', 'x', { idempotencyKey: '' }), TypeError);
      await assert.rejects(holdpush.publish('emb', 'x', { idempotencyKey: 7 as unknown as string }), /^TypeError: idempotencyKey must be/);
      const many = await Promise.all(Array.from({ length: 5 }, () => holdpush.publishMany([{ channel: 'emb', data: 'a' }, { channel: 'emb2', data: 'b' }], { idempotencyKey: 'k2' })));
      assert.equal(new Set(many.map((result) => result.ids.join())).size, 1);
      assert.equal(many.filter((result) => !result.replayed).length, 1);
      assert.equal(holdpush.stats().messages.published, 3);
    } finally {
      await holdpush.close();
    }
    for (const idempotencyTtl of [0, -1, Number.NaN, '300']) {
      assert.throws(() => createHoldpush({ idempotencyTtl: idempotencyTtl as number }), /^TypeError: idempotencyTtl must be a positive number/);
    }
  });
});

/** Connections pinned to two workers: `count` to each. */
async function workerSides(run: ClusterRun, count: number): Promise<{ a: Side; b: Side; pinned: Pinned[] }> {
  const [one, two] = (await pinWorkers(run.url, 2, count, 200)) as [Pinned[], Pinned[]];
  assert.notEqual(one[0]?.pid, two[0]?.pid);
  return { a: { base: run.url, agents: one.map((p) => p.agent) }, b: { base: run.url, agents: two.map((p) => p.agent) }, pinned: [...one, ...two] };
}

describe('Idempotency-Key with --workers 2: the primary decides, requests pinned to different workers', { timeout: 60000 }, () => {
  let run: ClusterRun;
  let short: ClusterRun;
  let sides: Awaited<ReturnType<typeof workerSides>>;
  let shortSides: Awaited<ReturnType<typeof workerSides>>;
  before(async () => {
    [run, short] = await Promise.all([startCluster({ HP_WORKERS: '2' }), startCluster({ HP_WORKERS: '2', HP_IDEMPOTENCY_TTL: '0.5' })]);
    [sides, shortSides] = await Promise.all([workerSides(run, 10), workerSides(short, 1)]);
  });
  after(() => {
    for (const pinned of [...(sides?.pinned ?? []), ...(shortSides?.pinned ?? [])]) pinned.agent.destroy();
    if (run !== undefined) killGroup(run.child);
    if (short !== undefined) killGroup(short.child);
  });

  test('replayed on the other worker', () => replays(sides.a, sides.b));
  test('409 on the other worker', () => conflicts(sides.a, sides.b));
  test('20 identical requests at once, 10 on each worker, publish once', () => concurrent(sides.a, sides.b));
  test('after the TTL the other worker publishes again', () => expires(shortSides.a, shortSides.b));
});

describe('Idempotency-Key on two servers sharing one Redis', { timeout: 60000 }, () => {
  let redis: RedisServer;
  let servers: Running[] = [];
  before(async () => {
    redis = await startRedis();
    const on = (idempotencyTtl: number) => startServer({ idempotencyTtl, store: (context) => createRedisStore({ url: redis.url, ...context }) });
    servers = await Promise.all([on(300), on(300), on(0.5), on(0.5)]);
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await redis?.stop();
  });
  const side = (i: number): Side => ({ base: (servers[i] as Running).url, agents: [] });

  test('replayed by the other server', () => replays(side(0), side(1)));
  test('409 from the other server', () => conflicts(side(0), side(1)));
  test('20 identical requests at once, 10 to each server, publish once', () => concurrent(side(0), side(1)));
  test('after the TTL the other server publishes again', () => expires(side(2), side(3)));
});

describe('the in-process ledger (memory store, cluster primary): its bounds', () => {
  const answer = (body: string) => ({ status: 200, headers: ['Content-Type', 'text/plain'], body });

  function settled(cache: IdempotencyCache, key: string, body = 'x'): void {
    const claim = cache.claim(key, `fp-${key}`);
    assert.equal(claim.kind, 'first');
    cache.settle(key, (claim as { ticket: string }).ticket, answer(body), 60_000);
  }

  test('past maxKeys the oldest answers are forgotten first; a claim in flight is never dropped', () => {
    const cache = new IdempotencyCache({ maxKeys: 3, maxBytes: 1 << 20, leaseMs: 60_000 });
    const flying = cache.claim('flying', 'fp-flying');
    assert.equal(flying.kind, 'first');
    for (const key of ['a', 'b', 'c', 'd']) settled(cache, key);
    assert.equal(cache.size, 3);
    assert.equal(cache.claim('flying', 'fp-flying').kind, 'pending', 'the claim in flight stayed');
    assert.equal(cache.claim('a', 'fp-a').kind, 'first', 'a, b and c were the oldest answers: forgotten');
    assert.equal(cache.claim('d', 'fp-d').kind, 'replay');
  });

  test('past maxBytes the oldest answers are forgotten too', () => {
    const cache = new IdempotencyCache({ maxKeys: 100, maxBytes: 300, leaseMs: 60_000 });
    for (const key of ['k1', 'k2', 'k3']) settled(cache, key, 'y'.repeat(100));
    assert.equal(cache.claim('k1', 'fp-k1').kind, 'first');
    assert.equal(cache.claim('k3', 'fp-k3').kind, 'replay');
  });

  test('an answer lives for its TTL, a claim for its lease; a wrong ticket settles nothing; a gone owner lets go', () => {
    const cache = new IdempotencyCache({ maxKeys: 10, maxBytes: 1 << 20, leaseMs: 0 });
    const first = cache.claim('lapsed', 'fp');
    assert.equal(cache.claim('lapsed', 'fp').kind, 'first', 'a claim past its lease is taken over');
    cache.settle('lapsed', (first as { ticket: string }).ticket, answer('late'), 60_000);
    assert.notEqual(cache.claim('lapsed', 'fp').kind, 'replay', 'the lapsed claim\'s ticket settled nothing');

    const held = new IdempotencyCache({ maxKeys: 10, maxBytes: 1 << 20, leaseMs: 60_000 });
    const claim = held.claim('k', 'fp');
    held.settle('k', (claim as { ticket: string }).ticket, answer('a'), 0);
    assert.equal(held.claim('k', 'fp').kind, 'first', 'an answer past its TTL is forgotten');
    held.claim('mine', 'fp', 7);
    held.claim('theirs', 'fp', 8);
    held.abandon(7);
    assert.equal(held.claim('mine', 'fp').kind, 'first');
    assert.equal(held.claim('theirs', 'fp').kind, 'pending');
    assert.equal(held.claim('theirs', 'other').kind, 'conflict');
  });
});
