import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RedisClientLike } from '../lib/stores/redis/client';
import { MESSAGE_OVERHEAD, RecentCache } from '../lib/stores/recent-cache';
import { parseToken } from '../lib/stores/redis/codec';
import { type RedisStore, type RedisStoreOptions, createRedisStore } from '../lib/stores/redis/store';
import { RecentTouches } from '../lib/stores/touches';
import { type StoredMessage, messageId } from '../lib/stores/store';
import { type RedisServer, startRedis } from './support/redis-server';
import { type RepollServer, callsBetween, clockAllowance, commandCalls, repoll, startRedisHoldpush, statsClient } from './support/redis-repoll';
import { waitFor } from './support/wait';

// The Redis store's per-server cache of recent messages (lib/stores/recent-cache.ts):
// first the cache alone, then what it saves Redis, counted in INFO commandstats.

function message(channel: string, seq: number, text = `${channel}${seq}`, epoch = 'e1'): StoredMessage {
  const token = `${epoch}-${1000 + seq}-${seq}`;
  return { channel, token, id: messageId(1000 + seq, token), time: 1000 + seq, contentType: 'text/plain', event: undefined, data: Buffer.from(text) };
}

const tokenOf = (seq: number, epoch = 'e1') => `${epoch}-${1000 + seq}-${seq}`;
const texts = (messages: readonly StoredMessage[] | undefined) => messages?.map((m) => m.data.toString());

function cache(options: Partial<ConstructorParameters<typeof RecentCache>[0]> = {}): RecentCache {
  return new RecentCache({ perChannel: 100, bytes: 1 << 20, trustMs: 60_000, parse: parseToken, ...options });
}

describe('the recent cache alone', () => {
  test('answers from the first message after the one that started its run, merging channels in order', () => {
    const c = cache();
    assert.equal(c.read(['a'], tokenOf(1), 10), undefined, 'nothing heard yet');
    c.heard(message('a', 1));
    assert.equal(c.read(['a'], tokenOf(1), 10), undefined, 'the first message heard only starts the run');
    c.heard(message('a', 2));
    c.heard(message('b', 3));
    c.heard(message('a', 4));
    assert.deepEqual(texts(c.read(['a'], tokenOf(1), 10)?.messages), ['a2', 'a4']);
    const both = c.read(['b', 'a'], tokenOf(2), 10);
    assert.deepEqual(texts(both?.messages), ['b3', 'a4']);
    assert.deepEqual({ gap: both?.gap, more: both?.more, head: both?.head }, { gap: false, more: false, head: tokenOf(4) });
    const limited = c.read(['a', 'b'], tokenOf(1), 2);
    assert.deepEqual([texts(limited?.messages), limited?.more, limited?.head], [['a2', 'b3'], true, tokenOf(3)]);
    const none = c.read(['a'], tokenOf(4), 10);
    assert.deepEqual([none?.messages, none?.head], [[], tokenOf(4)]);
    // b heard nothing before 3, and a line starts at the run's start: a position there is covered.
    assert.deepEqual(texts(c.read(['b'], tokenOf(1), 10)?.messages), ['b3']);
  });

  test('Redis answers what the cache cannot: no position, a position before the run, ahead of it, of another epoch, unreadable; a channel without a line', () => {
    const c = cache();
    for (let seq = 5; seq <= 8; seq++) c.heard(message('a', seq));
    assert.notEqual(c.read(['a'], tokenOf(5), 10), undefined);
    for (const position of [null, tokenOf(4), tokenOf(9), tokenOf(6, 'e2'), 'garbage']) assert.equal(c.read(['a'], position, 10), undefined, String(position));
    assert.equal(c.read(['a', 'other'], tokenOf(6), 10), undefined);
  });

  test('a hole, another epoch or an unreadable token empties it; the run starts again', () => {
    const c = cache();
    for (let seq = 1; seq <= 3; seq++) c.heard(message('a', seq));
    c.heard(message('a', 5));
    assert.equal(c.read(['a'], tokenOf(3), 10), undefined, 'a hole: 4 was never heard');
    assert.equal(c.figures().messages, 0);
    c.heard(message('a', 6));
    assert.deepEqual(texts(c.read(['a'], tokenOf(5), 10)?.messages), ['a6']);
    c.heard(message('a', 1, 'wiped', 'e2'));
    assert.equal(c.read(['a'], tokenOf(5), 10), undefined, 'Redis wiped: a new epoch');
    c.heard(message('a', 2, 'fresh', 'e2'));
    assert.deepEqual(texts(c.read(['a'], tokenOf(1, 'e2'), 10)?.messages), ['fresh']);
    c.reset();
    assert.equal(c.read(['a'], tokenOf(1, 'e2'), 10), undefined, 'reset: the event stream went away');
  });

  test('per channel at most its cap: older positions go to Redis', () => {
    const c = cache({ perChannel: 3 });
    for (let seq = 1; seq <= 6; seq++) c.heard(message('g', seq));
    assert.deepEqual(c.figures(), { channels: 1, messages: 3, bytes: 3 * (2 + MESSAGE_OVERHEAD) });
    assert.equal(c.read(['g'], tokenOf(2), 10), undefined, 'g3 was dropped here');
    assert.deepEqual(texts(c.read(['g'], tokenOf(3), 10)?.messages), ['g4', 'g5', 'g6']);
  });

  test('within the byte budget: the channels heard least lately lose their oldest first, then go', () => {
    const c = cache({ bytes: 4 * (2 + MESSAGE_OVERHEAD) });
    c.heard(message('a', 1));
    c.heard(message('a', 2));
    c.heard(message('a', 3));
    c.heard(message('b', 4));
    c.heard(message('b', 5));
    c.heard(message('b', 6));
    assert.deepEqual(c.figures(), { channels: 2, messages: 4, bytes: 4 * (2 + MESSAGE_OVERHEAD) });
    assert.equal(c.read(['a'], tokenOf(1), 10), undefined, 'a2 was dropped');
    assert.deepEqual(texts(c.read(['a'], tokenOf(2), 10)?.messages), ['a3']);
    c.heard(message('b', 7));
    assert.deepEqual(c.figures(), { channels: 1, messages: 4, bytes: 4 * (2 + MESSAGE_OVERHEAD) });
    assert.equal(c.read(['a'], tokenOf(3), 10), undefined, 'a went whole');
    c.heard(message('a', 8));
    assert.equal(c.read(['a'], tokenOf(3), 10), undefined, 'a line made again starts at the newest message heard then');
    assert.deepEqual(texts(c.read(['a'], tokenOf(7), 10)?.messages), ['a8']);
    const big = cache({ bytes: 100 });
    big.heard(message('x', 1));
    big.heard(message('x', 2, 'y'.repeat(200)));
    assert.deepEqual(big.figures(), { channels: 0, messages: 0, bytes: 0 }, 'a message past the whole budget is not kept');
  });

  test('a message past its trust (half the TTL) is dropped: a position before it goes to Redis', () => {
    let clock = 0;
    const c = cache({ trustMs: 50, now: () => clock });
    c.heard(message('t', 1));
    c.heard(message('t', 2));
    clock = 30;
    c.heard(message('t', 3));
    assert.deepEqual(texts(c.read(['t'], tokenOf(1), 10)?.messages), ['t2', 't3']);
    clock = 50;
    assert.equal(c.read(['t'], tokenOf(1), 10), undefined, 't2 is past its trust');
    assert.deepEqual(texts(c.read(['t'], tokenOf(2), 10)?.messages), ['t3']);
    clock = 80;
    assert.equal(c.read(['t'], tokenOf(2), 10), undefined);
    assert.equal(c.read(['t'], tokenOf(3), 10), undefined, 'the line went with its last message');
    assert.deepEqual(c.figures(), { channels: 0, messages: 0, bytes: 0 });
  });

  test('what Redis says it dropped (another server trimmed to its shorter buffer) is not answered any more', () => {
    const c = cache();
    for (let seq = 1; seq <= 5; seq++) c.heard(message('s', seq));
    c.dropped('s', 3);
    assert.equal(c.read(['s'], tokenOf(2), 10), undefined);
    assert.deepEqual(texts(c.read(['s'], tokenOf(3), 10)?.messages), ['s4', 's5']);
    c.dropped('s', 1);
    assert.deepEqual(texts(c.read(['s'], tokenOf(3), 10)?.messages), ['s4', 's5'], 'an older drop changes nothing');
    c.dropped('s', 5);
    assert.equal(c.read(['s'], tokenOf(5), 10), undefined, 'all dropped: the line goes');
  });

  test('a channel this server deletes is neither answered nor cached until the deletion comes back; what came before it is never answered again', () => {
    const c = cache();
    c.heard(message('d', 1));
    c.heard(message('d', 2));
    c.deleting('d');
    assert.equal(c.read(['d'], tokenOf(1), 10), undefined);
    c.heard(message('d', 3, 'published before the delete'));
    assert.equal(c.read(['d'], tokenOf(2), 10), undefined);
    c.deleted('d');
    c.heard(message('d', 4, 'after'));
    assert.equal(c.read(['d'], tokenOf(2), 10), undefined, 'a position from before the deletion: Redis says');
    assert.deepEqual(texts(c.read(['d'], tokenOf(3), 10)?.messages), ['after']);
  });
});

describe('touches remembered', () => {
  test('within the window a touch costs nothing; touches on their way are shared; a refusal is not remembered; a deletion forgets', async () => {
    let clock = 0;
    const touches = new RecentTouches(1000, () => clock);
    let calls = 0;
    let answer = true;
    const redis = async () => {
      calls += 1;
      return answer;
    };
    assert.deepEqual(await Promise.all([touches.touch(['a', 'b'], redis), touches.touch(['a', 'b'], redis)]), [true, true]);
    assert.equal(calls, 1, 'the second shared the first');
    clock = 999;
    assert.equal(await touches.touch(['b'], redis), true);
    assert.equal(calls, 1, 'b within the window');
    clock = 1000;
    assert.equal(await touches.touch(['b'], redis), true);
    assert.equal(calls, 2, 'past the window: Redis again');
    answer = false;
    assert.equal(await touches.touch(['c'], redis), false);
    assert.equal(await touches.touch(['c'], redis), false);
    assert.equal(calls, 4, 'a refusal is asked again');
    answer = true;
    touches.forget('b');
    assert.equal(await touches.touch(['b'], redis), true);
    assert.equal(calls, 5, 'deleted: Redis again');
  });
});

describe('the recent cache on a real Redis', { timeout: 60000 }, () => {
  let redis: RedisServer;
  let stats: RedisClientLike;
  let prefixes = 0;
  const stores: RedisStore[] = [];
  const servers: RepollServer[] = [];

  before(async () => {
    redis = await startRedis();
    stats = await statsClient(redis.url);
  });

  after(async () => {
    for (const server of servers) await server.close();
    for (const store of stores) await store.close();
    await (stats as { close?(): Promise<unknown> }).close?.();
    await redis.stop();
  });

  async function makeStore(prefix: string, overrides: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
    const store = createRedisStore({ url: redis.url, keyPrefix: prefix, buffer: 1000, messageTtl: 60, maxChannels: 1000, isHeld: () => true, commandTimeout: 2000, ...overrides });
    stores.push(store);
    await store.ready();
    return store;
  }

  async function serve(count: number): Promise<RepollServer[]> {
    const prefix = `serve${++prefixes}:`;
    const made: RepollServer[] = [];
    for (let i = 0; i < count; i++) made.push(await startRedisHoldpush(redis.url, prefix));
    servers.push(...made);
    return made;
  }

  test('re-polls within the cached range take no Redis call', async (t) => {
    const store = await makeStore(`reads${++prefixes}:`);
    const sent: StoredMessage[] = [];
    for (let i = 0; i < 200; i++) sent.push(await store.append('c', { data: Buffer.from(`m${i}`), contentType: 'text/plain' }));
    const earlier = await commandCalls(stats);
    let reads = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 1; i < sent.length; i++) {
        const read = await store.read(['c'], (sent[i - 1] as StoredMessage).token, 1);
        assert.deepEqual([texts(read.messages), read.gap], [[`m${i}`], false]);
        reads += 1;
      }
      assert.equal(await store.touch(['c']), true);
    }
    const { scripts } = callsBetween(earlier, await commandCalls(stats));
    t.diagnostic(`${reads} reads and 5 touches from the cache: ${scripts} scripts in Redis meanwhile (the clock's)`);
    // The presence tick and the sweep follow the clock (at most three a second); a read each would be ~1000.
    assert.ok(scripts <= 6, `no script per read: ${scripts} for ${reads} reads`);
    // The first message this store heard started its run: a position before the second goes to Redis.
    assert.equal((await store.read(['c'], (sent[0] as StoredMessage).token, 1)).messages[0]?.data.toString(), 'm1');
  });

  // An HTTP publish is one script: the append, which answers with the channel's info for the publisher's answer too.
  const PER_PUBLISH = 1;

  test('Redis scripts per published message stay one (the publish\'s own) as held subscribers of one channel go from 10 to 100 (one server)', async (t) => {
    const [server] = await serve(1);
    const figures: { subscribers: number; perPublish: number; commandsPerPublish: number }[] = [];
    for (const subscribers of [10, 100]) {
      const messages = 100;
      const run = await repoll([server as RepollServer], stats, `one${subscribers}`, subscribers, messages);
      const perPublish = (run.scripts - clockAllowance(1, run.seconds)) / messages;
      figures.push({ subscribers, perPublish, commandsPerPublish: run.commands / messages });
      t.diagnostic(`${subscribers} subscribers, ${messages} messages, ${run.deliveries} deliveries in ${run.seconds.toFixed(1)} s: ${run.scripts} scripts (${(run.scripts / messages).toFixed(2)} per publish, ${(run.scripts / run.deliveries).toFixed(3)} per delivery), ${run.commands} commands (${(run.commands / messages).toFixed(1)} per publish, with those scripts run)`);
      assert.ok(perPublish <= PER_PUBLISH + 0.05, `the publish's own scripts beside the clock's: ${run.scripts} scripts in ${run.seconds.toFixed(1)} s for ${messages} publishes`);
    }
    assert.ok(Math.abs((figures[1]?.commandsPerPublish ?? 0) - (figures[0]?.commandsPerPublish ?? 0)) < 5, `commands per publish as for 10: ${JSON.stringify(figures)}`);
  });

  test('and with two servers: scripts per publish stay one', async (t) => {
    const pair = await serve(2);
    for (const subscribers of [10, 100]) {
      const messages = 100;
      const run = await repoll(pair, stats, `two${subscribers}`, subscribers, messages);
      t.diagnostic(`two servers, ${subscribers} subscribers, ${messages} messages: ${run.scripts} scripts in ${run.seconds.toFixed(1)} s (${(run.scripts / messages).toFixed(2)} per publish, ${(run.scripts / run.deliveries).toFixed(3)} per delivery), ${(run.commands / messages).toFixed(1)} commands per publish`);
      assert.ok((run.scripts - clockAllowance(2, run.seconds)) / messages <= PER_PUBLISH + 0.05, `${run.scripts} scripts for ${messages} publishes`);
    }
  });

  test('servers with different buffers: a message the shorter one trimmed is not served by the longer one as if no gap', async () => {
    const prefix = `trim${++prefixes}:`;
    const long = await makeStore(prefix, { buffer: 100 });
    const short = await makeStore(prefix, { buffer: 2 });
    await long.append('warm', { data: Buffer.from('w'), contentType: 'text/plain' });
    const sent: StoredMessage[] = [];
    for (let i = 1; i <= 3; i++) sent.push(await long.append('b', { data: Buffer.from(`m${i}`), contentType: 'text/plain' }));
    assert.deepEqual(texts((await long.read(['b'], (sent[0] as StoredMessage).token, 10)).messages), ['m2', 'm3']);
    // The short one's appends trim the stream to two: m1 to m3 go, and the long one hears so.
    for (let i = 4; i <= 5; i++) sent.push(await short.append('b', { data: Buffer.from(`m${i}`), contentType: 'text/plain' }));
    await waitFor(async () => (await long.read(['b'], (sent[3] as StoredMessage).token, 10)).messages.length === 1, 5000, 'the long one to hear m5');
    const behind = await long.read(['b'], (sent[0] as StoredMessage).token, 10);
    assert.deepEqual([behind.gap, texts(behind.messages)], [true, ['m4', 'm5']]);
    const batch = await short.appendMany([{ channel: 'b', data: Buffer.from('m6'), contentType: 'text/plain' }]);
    await waitFor(async () => (await long.read(['b'], (sent[4] as StoredMessage).token, 10)).messages.length === 1, 5000, 'the long one to hear m6');
    const batchBehind = await long.read(['b'], (sent[2] as StoredMessage).token, 10);
    assert.deepEqual([batchBehind.gap, texts(batchBehind.messages)], [true, ['m5', 'm6']], `after the batch ${batch[0]?.token}`);
  });

  test('DELETE on another server: the cached channel is read from Redis again, and what it held is not served', async () => {
    const prefix = `del${++prefixes}:`;
    const a = await makeStore(prefix);
    const b = await makeStore(prefix);
    const deleted: string[] = [];
    b.watch({ message: () => undefined, deleted: (channel) => deleted.push(channel) });
    await a.append('warm', { data: Buffer.from('w'), contentType: 'text/plain' });
    const first = await a.append('x', { data: Buffer.from('one'), contentType: 'text/plain' });
    const second = await a.append('x', { data: Buffer.from('two'), contentType: 'text/plain' });
    await waitFor(async () => (await b.read(['x'], first.token, 10)).messages.length === 1, 5000, 'B to hear both');
    const earlier = await commandCalls(stats);
    assert.deepEqual(texts((await b.read(['x'], first.token, 10)).messages), ['two']);
    assert.equal(callsBetween(earlier, await commandCalls(stats)).scripts <= 2, true, 'cached on B');
    assert.equal(await a.delete('x'), true);
    await waitFor(() => deleted.includes('x'), 5000, 'B to hear the deletion');
    const gone = await commandCalls(stats);
    const read = await b.read(['x'], first.token, 10);
    assert.deepEqual(read.messages, [], 'the deleted message is not served');
    assert.ok(callsBetween(gone, await commandCalls(stats)).scripts >= 1, 'Redis answered');
    assert.deepEqual((await b.read(['x'], second.token, 10)).messages, []);
    // Its own DELETE too.
    const third = await b.append('x', { data: Buffer.from('three'), contentType: 'text/plain' });
    await b.append('x', { data: Buffer.from('four'), contentType: 'text/plain' });
    assert.deepEqual(texts((await b.read(['x'], third.token, 10)).messages), ['four']);
    assert.equal(await b.delete('x'), true);
    assert.deepEqual((await b.read(['x'], third.token, 10)).messages, []);
  });

  test('Redis restarted wiped: nothing cached is served; old positions are gaps, as Redis says', async () => {
    const own = await startRedis();
    const store = createRedisStore({ url: own.url, buffer: 100, messageTtl: 60, maxChannels: 1000, isHeld: () => true, commandTimeout: 1000 });
    stores.push(store);
    try {
      await store.ready();
      await store.append('r', { data: Buffer.from('start'), contentType: 'text/plain' });
      const one = await store.append('r', { data: Buffer.from('one'), contentType: 'text/plain' });
      await store.append('r', { data: Buffer.from('two'), contentType: 'text/plain' });
      assert.deepEqual(texts((await store.read(['r'], one.token, 10)).messages), ['two']);
      await own.kill();
      await own.start();
      // Back once Redis answers again: a read from the old position then is Redis's answer.
      await waitFor(
        async () => {
          try {
            const read = await store.read(['r'], one.token, 10);
            return read.gap && read.messages.length === 0;
          } catch {
            return false;
          }
        },
        10000,
        'a gap and no message for the old position',
      );
      const fresh = await store.append('r', { data: Buffer.from('new'), contentType: 'text/plain' });
      await store.append('r', { data: Buffer.from('newer'), contentType: 'text/plain' });
      assert.deepEqual(texts((await store.read(['r'], fresh.token, 10)).messages), ['newer']);
      const old = await store.read(['r'], one.token, 10);
      assert.deepEqual([old.gap, texts(old.messages)], [true, ['new', 'newer']]);
    } finally {
      await own.stop();
    }
  });
});
