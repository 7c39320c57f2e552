import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RedisClientLike, loadRedis } from '../lib/stores/redis/client';
import { type RedisStore, type RedisStoreOptions, createRedisStore } from '../lib/stores/redis/store';
import { createHoldpushServer } from '../lib/http/http-server';
import { type StoredMessage, StoreUnavailableError } from '../lib/stores/store';
import { openStream, request } from './support/http';
import { type RedisServer, startRedis } from './support/redis-server';

const TOKEN = /^[0-9A-Za-z._~-]{1,512}$/;

let redis: RedisServer;
let prefixCount = 0;
const open: RedisStore[] = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const store of open) await store.close();
  await redis.stop();
});

/** A store on the shared Redis; each test gets its own key prefix, so tests do not meet. */
function makeStore(overrides: Partial<RedisStoreOptions> = {}, prefix?: string): RedisStore {
  const store = createRedisStore({
    url: redis.url,
    buffer: 100,
    messageTtl: 60,
    maxChannels: 1000,
    isHeld: () => false,
    keyPrefix: prefix ?? `t${++prefixCount}:`,
    commandTimeout: 1000,
    ...overrides,
  });
  open.push(store);
  return store;
}

function input(text: string) {
  return { data: Buffer.from(text), contentType: 'text/plain' };
}

function bodies(messages: readonly StoredMessage[]): string[] {
  return messages.map((m) => m.data.toString());
}

function seqOf(token: string): number {
  return Number(token.slice(token.lastIndexOf('-') + 1));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until some connection to this Redis subscribes to `channel` (PUBSUB NUMSUB). */
async function subscribedAgain(url: string, channel: string, ms = 5000): Promise<void> {
  const { createClient } = loadRedis() as unknown as { createClient(options: unknown): RedisClientLike & { connect(): Promise<unknown>; close?(): Promise<unknown> } };
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const deadline = Date.now() + ms;
    for (;;) {
      const reply = (await client.sendCommand(['PUBSUB', 'NUMSUB', channel])) as unknown[];
      if (Number(reply[1]) > 0) return;
      if (Date.now() > deadline) throw new Error(`nobody subscribed to ${channel} within ${ms} ms`);
      await sleep(20);
    }
  } finally {
    await client.close?.();
  }
}

async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('redis store: the MessageStore contract', { timeout: 20000 }, () => {
  test('append then read, in order, with well-formed increasing tokens', async () => {
    const store = makeStore();
    await store.ready();
    assert.equal(store.kind, 'redis');
    const start = await store.head();
    assert.match(start, TOKEN);
    const sent: StoredMessage[] = [];
    for (const text of ['one', 'two', 'three']) sent.push(await store.append('a', input(text)));
    for (const message of sent) {
      assert.match(message.token, TOKEN);
      assert.equal(message.id, `${Math.floor(message.time / 1000)}:${message.token}`);
      assert.equal(message.channel, 'a');
      assert.equal(message.contentType, 'text/plain');
    }
    assert.ok(seqOf(sent[0]!.token) < seqOf(sent[1]!.token) && seqOf(sent[1]!.token) < seqOf(sent[2]!.token));
    const all = await store.read(['a'], null, 10);
    assert.deepEqual(bodies(all.messages), ['one', 'two', 'three']);
    assert.equal(all.gap, false);
    assert.equal(all.more, false);
    assert.equal(all.head, sent[2]!.token);
    const fromStart = await store.read(['a'], start, 10);
    assert.deepEqual(bodies(fromStart.messages), ['one', 'two', 'three']);
    assert.equal(fromStart.gap, false);
    const rest = await store.read(['a'], sent[0]!.token, 10);
    assert.deepEqual(bodies(rest.messages), ['two', 'three']);
    const none = await store.read(['a'], sent[2]!.token, 10);
    assert.deepEqual(none.messages, []);
    assert.equal(none.head, await store.head());
    const limited = await store.read(['a'], null, 2);
    assert.deepEqual(bodies(limited.messages), ['one', 'two']);
    assert.equal(limited.more, true);
    assert.equal(limited.head, sent[1]!.token);
  });

  test('binary bodies, content types and event names come back byte for byte', async () => {
    const store = makeStore();
    const data = Buffer.from([0, 255, 10, 13, 0x80, 0x7b, 0x22]);
    const message = await store.append('bin', { data, contentType: 'application/octet-stream', event: 'tick' });
    const read = await store.read(['bin'], null, 10);
    assert.deepEqual(read.messages[0]!.data, data);
    assert.equal(read.messages[0]!.event, 'tick');
    assert.equal(read.messages[0]!.contentType, 'application/octet-stream');
    assert.equal(read.messages[0]!.token, message.token);
    assert.equal(read.messages[0]!.time, message.time);
    const plain = await store.append('bin', input('x'));
    assert.equal(plain.event, undefined);
    assert.equal((await store.read(['bin'], message.token, 1)).messages[0]!.event, undefined);
  });

  test('several channels are merged in publish order', async () => {
    const store = makeStore();
    const start = await store.head();
    await store.append('a', input('a1'));
    await store.append('b', input('b1'));
    await store.append('a', input('a2'));
    await store.append('c', input('c1'));
    await store.append('b', input('b2'));
    const read = await store.read(['b', 'a'], start, 10);
    assert.deepEqual(bodies(read.messages), ['a1', 'b1', 'a2', 'b2']);
    const two = await store.read(['a', 'b', 'nothing'], start, 2);
    assert.deepEqual(bodies(two.messages), ['a1', 'b1']);
    assert.equal(two.more, true);
  });

  test('two stores on one Redis share channels, and tokens stay ordered across them', async () => {
    const prefix = `shared${++prefixCount}:`;
    const a = makeStore({}, prefix);
    const b = makeStore({}, prefix);
    await Promise.all([a.ready(), b.ready()]);
    const heardOnB: StoredMessage[] = [];
    b.watch({ message: (m) => heardOnB.push(m), deleted: () => undefined });
    const tokens: string[] = [];
    const work: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const store = i % 2 === 0 ? a : b;
      work.push(store.append('x', input(`m${i}`)).then((m) => void tokens.push(m.token)));
    }
    await Promise.all(work);
    const read = await b.read(['x'], null, 100);
    assert.equal(read.messages.length, 40);
    const seqs = read.messages.map((m) => seqOf(m.token));
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    assert.equal(new Set(seqs).size, 40);
    // A position handed out by A works on B.
    const third = read.messages[2]!;
    const fromA = await a.read(['x'], third.token, 100);
    const fromB = await b.read(['x'], third.token, 100);
    assert.deepEqual(bodies(fromA.messages), bodies(fromB.messages));
    assert.equal(fromB.messages.length, 37);
    // B heard every message, its own and A's, each once, in publish order.
    await eventually(() => heardOnB.length === 40);
    const heard = heardOnB.map((m) => seqOf(m.token));
    assert.deepEqual(heard, [...heard].sort((x, y) => x - y));
    assert.deepEqual(heard, seqs);
  });

  test('an append tells local watchers before it settles, and hands back the object they saw', async () => {
    const store = makeStore();
    await store.ready();
    let heard: StoredMessage | undefined;
    const unwatch = store.watch({ message: (m) => void (heard = m), deleted: () => undefined });
    const message = await store.append('w', input('hi'));
    assert.equal(heard, message);
    unwatch();
    await store.append('w', input('unheard'));
    assert.equal(heard, message);
  });

  test('trimming to the buffer is a gap for a client behind it, not for one ahead', async () => {
    const store = makeStore({ buffer: 3 });
    const start = await store.head();
    const sent: StoredMessage[] = [];
    for (let i = 1; i <= 5; i++) sent.push(await store.append('g', input(`m${i}`)));
    const behind = await store.read(['g'], start, 10);
    assert.equal(behind.gap, true);
    assert.deepEqual(bodies(behind.messages), ['m3', 'm4', 'm5']);
    const atFirstDropped = await store.read(['g'], sent[0]!.token, 10);
    assert.equal(atFirstDropped.gap, true);
    const atLastDropped = await store.read(['g'], sent[1]!.token, 10);
    assert.equal(atLastDropped.gap, false);
    assert.deepEqual(bodies(atLastDropped.messages), ['m3', 'm4', 'm5']);
    const oldest = await store.read(['g'], null, 10);
    assert.equal(oldest.gap, false);
    assert.equal((await store.info('g'))!.messages, 3);
    await eventually(() => store.stats().evicted === 2);
  });

  test('a message past its TTL is dropped, and that is a gap', async () => {
    const store = makeStore({ messageTtl: 0.3 });
    const start = await store.head();
    await store.append('t', input('old'));
    await sleep(400);
    const fresh = await store.append('t', input('new'));
    const read = await store.read(['t'], start, 10);
    assert.equal(read.gap, true);
    assert.deepEqual(bodies(read.messages), ['new']);
    await sleep(400);
    const later = await store.read(['t'], fresh.token, 10);
    assert.equal(later.gap, false);
    const fromStart = await store.read(['t'], start, 10);
    assert.equal(fromStart.gap, true);
    assert.deepEqual(fromStart.messages, []);
    await eventually(() => store.stats().expired === 2);
  });

  test('tokens this Redis never issued are gaps, from the oldest message', async () => {
    const store = makeStore();
    await store.append('n', input('first'));
    const head = await store.head();
    const epoch = head.slice(0, head.indexOf('-'));
    for (const stranger of ['zzz-1-1', `${epoch}-1-999999`, 'not-a-token', `${epoch}x-0-0`, 'abc']) {
      const read = await store.read(['n'], stranger, 10);
      assert.equal(read.gap, true, stranger);
      assert.deepEqual(bodies(read.messages), ['first'], stranger);
    }
    const current = await store.read(['n'], head, 10);
    assert.equal(current.gap, false);
  });

  test('follows compares tokens; a never-issued position is before everything', async () => {
    const store = makeStore();
    const a = await store.append('f', input('1'));
    const b = await store.append('f', input('2'));
    assert.equal(store.follows(b.token, a.token), true);
    assert.equal(store.follows(a.token, b.token), false);
    assert.equal(store.follows(a.token, a.token), false);
    assert.equal(store.follows(a.token, 'other-1-1'), true);
    assert.equal(store.follows(a.token, 'garbage'), true);
  });

  test('touch, info, delete and the deleted event on another store', async () => {
    const prefix = `del${++prefixCount}:`;
    const a = makeStore({}, prefix);
    const b = makeStore({}, prefix);
    await Promise.all([a.ready(), b.ready()]);
    const deletedOnB: string[] = [];
    const deletedOnA: string[] = [];
    b.watch({ message: () => undefined, deleted: (c) => deletedOnB.push(c) });
    a.watch({ message: () => undefined, deleted: (c) => deletedOnA.push(c) });
    assert.equal(await a.info('d'), null);
    assert.equal(await a.touch(['d']), true);
    const touched = await b.info('d');
    assert.equal(touched!.messages, 0);
    assert.equal(touched!.lastMessageId, undefined);
    assert.ok(Math.abs(touched!.requested! - Date.now()) < 5000);
    const message = await a.append('d', input('x'));
    assert.equal((await b.info('d'))!.lastMessageId, message.id);
    assert.equal(await b.delete('d'), true);
    assert.deepEqual(deletedOnB, ['d']);
    await eventually(() => deletedOnA.length === 1);
    assert.deepEqual(deletedOnA, ['d']);
    assert.equal(await a.info('d'), null);
    assert.equal(await a.delete('d'), false);
    assert.deepEqual((await a.read(['d'], null, 10)).messages, []);
  });

  test('the channel limit covers the whole Redis', async () => {
    const prefix = `lim${++prefixCount}:`;
    const a = makeStore({ maxChannels: 2 }, prefix);
    const b = makeStore({ maxChannels: 2 }, prefix);
    assert.equal(await a.touch(['c1']), true);
    await b.append('c2', input('x'));
    assert.equal(await b.touch(['c3']), false);
    assert.equal(await a.touch(['c1', 'c2']), true);
    await assert.rejects(a.append('c3', input('y')), (err: unknown) => err instanceof StoreUnavailableError && err.code === 'too_many_channels');
    await a.append('c1', input('fine'));
  });

  test('an empty channel nobody holds is forgotten after its grace', async () => {
    const store = makeStore({ channelGrace: 200 });
    await store.ready();
    assert.equal(await store.touch(['idle']), true);
    assert.notEqual(await store.info('idle'), null);
    store.released('idle');
    await sleep(1300);
    assert.equal(await store.info('idle'), null);
    assert.equal(store.stats().channels, 0);
  });

  test('a held channel stays alive past its grace', async () => {
    const store = makeStore({ channelGrace: 300, isHeld: (c) => c === 'held' });
    await store.ready();
    assert.equal(await store.touch(['held', 'loose']), true);
    await sleep(1300);
    assert.notEqual(await store.info('held'), null);
    assert.equal(await store.info('loose'), null);
  });

  test('messages survive a restart of the store', async () => {
    const prefix = `restart${++prefixCount}:`;
    const first = makeStore({}, prefix);
    const start = await first.head();
    await first.append('r', input('kept'));
    await first.close();
    const second = makeStore({}, prefix);
    const read = await second.read(['r'], start, 10);
    assert.equal(read.gap, false);
    assert.deepEqual(bodies(read.messages), ['kept']);
  });

  test("an embedder's own connected client is used and left open", async () => {
    const { createClient } = loadRedis() as unknown as { createClient(options: unknown): RedisClientLike & { connect(): Promise<unknown>; ping?(): Promise<string> } };
    const client = createClient({ url: redis.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const prefix = `own${++prefixCount}:`;
      const store = createRedisStore({ client, buffer: 10, messageTtl: 60, maxChannels: 10, isHeld: () => false, keyPrefix: prefix });
      const other = makeStore({}, prefix);
      await Promise.all([store.ready(), other.ready()]);
      const heard: string[] = [];
      store.watch({ message: (m) => heard.push(m.data.toString()), deleted: () => undefined });
      await other.append('e', input('from the other'));
      const mine = await store.append('e', input('mine'));
      await eventually(() => heard.length === 2);
      assert.deepEqual(heard, ['from the other', 'mine']);
      await store.close();
      assert.equal(client.isReady, true);
      assert.equal(await client.sendCommand(['EXISTS', `${prefix}s:e`]), 1);
      assert.equal((await other.read(['e'], null, 10)).head, mine.token);
    } finally {
      await client.close?.();
    }
  });

  test('a closed store refuses work', async () => {
    const store = makeStore();
    await store.close();
    await store.close();
    await assert.rejects(store.append('z', input('x')), StoreUnavailableError);
  });
});

describe('redis store: Redis goes away and comes back', { timeout: 20000 }, () => {
  test('without persistence: fails fast while down, recovers by itself, old positions are gaps', async () => {
    const own = await startRedis();
    try {
      const store = createRedisStore({ url: own.url, buffer: 10, messageTtl: 60, maxChannels: 100, isHeld: () => false, commandTimeout: 1000 });
      try {
        await store.ready();
        const before = await store.append('k', input('before'));
        await own.kill();
        const began = Date.now();
        await assert.rejects(store.append('k', input('lost')), (err: unknown) => err instanceof StoreUnavailableError && err.code === 'store_unavailable');
        await assert.rejects(store.read(['k'], null, 10), StoreUnavailableError);
        await assert.rejects(store.head(), StoreUnavailableError);
        await assert.rejects(store.touch(['k']), StoreUnavailableError);
        assert.ok(Date.now() - began < 1500, `took ${Date.now() - began} ms`);
        await own.start();
        // The store's event connection comes back on its own schedule; a message appended before
        // it has subscribed again wakes no watcher (held subscribers re-read instead).
        await subscribedAgain(own.url, 'holdpush:events');
        const heard: string[] = [];
        store.watch({ message: (m) => heard.push(m.data.toString()), deleted: () => undefined });
        let after: StoredMessage | undefined;
        const deadline = Date.now() + 5000;
        while (after === undefined) {
          try {
            after = await store.append('k', input('after'));
          } catch (err) {
            assert.ok(err instanceof StoreUnavailableError);
            if (Date.now() > deadline) throw err;
            await sleep(50);
          }
        }
        const read = await store.read(['k'], before.token, 10);
        assert.equal(read.gap, true);
        assert.deepEqual(bodies(read.messages), ['after']);
        await eventually(() => heard.length > 0);
        assert.deepEqual(heard, ['after']);
      } finally {
        await store.close();
      }
    } finally {
      await own.stop();
    }
  });

  test('Redis wiped while the event connection is away: what is published meanwhile still wakes held channels', async (t) => {
    const own = await startRedis();
    t.after(() => own.stop());
    const store = createRedisStore({ url: own.url, buffer: 10, messageTtl: 60, maxChannels: 100, isHeld: (name) => name === 'w', commandTimeout: 1000 });
    const other = createRedisStore({ url: own.url, buffer: 10, messageTtl: 60, maxChannels: 100, isHeld: () => false });
    const { createClient } = loadRedis() as unknown as { createClient(options: unknown): RedisClientLike & { connect(): Promise<unknown>; close?(): Promise<unknown> } };
    const admin = createClient({ url: own.url });
    admin.on('error', () => undefined);
    const heard: string[] = [];
    store.watch({ message: (m) => heard.push(m.data.toString()), deleted: () => undefined });
    try {
      await Promise.all([store.ready(), other.ready(), admin.connect()]);
      await store.touch(['w']);
      await store.append('w', input('before'));
      await eventually(() => heard.length === 1);
      // A wipe, the event connections cut, and a message, all before node-redis's first
      // reconnect (50 ms): the store can only learn of it by catching up.
      await admin.sendCommand(['FLUSHALL']);
      await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await other.append('w', input('while away'));
      await eventually(() => heard.length === 2, 5000);
      assert.deepEqual(heard, ['before', 'while away']);
    } finally {
      await Promise.all([store.close(), other.close(), admin.close?.()]);
    }
  });

  test('with persistence: no acknowledged message is lost, positions stay valid, other servers hear again', async () => {
    const own = await startRedis({ persist: true });
    try {
      const options = { url: own.url, buffer: 10_000, messageTtl: 60, maxChannels: 100, isHeld: (c: string) => c === 'p', commandTimeout: 1000 };
      const a = createRedisStore(options);
      const b = createRedisStore(options);
      try {
        await Promise.all([a.ready(), b.ready()]);
        assert.equal(await b.touch(['p']), true);
        const heardOnB: string[] = [];
        b.watch({ message: (m) => heardOnB.push(m.data.toString()), deleted: () => undefined });
        const acknowledged: string[] = [];
        const start = await a.head();
        let stop = false;
        const publisher = (async () => {
          for (let i = 0; !stop; i++) {
            try {
              await a.append('p', input(`m${i}`));
              acknowledged.push(`m${i}`);
            } catch (err) {
              assert.ok(err instanceof StoreUnavailableError);
            }
            await sleep(5);
          }
        })();
        await sleep(150);
        await own.kill();
        await sleep(200);
        await own.start();
        await eventually(() => acknowledged.length > 0 && a.stats().channels > 0, 5000);
        const count = acknowledged.length;
        await eventually(() => acknowledged.length > count + 5, 5000);
        stop = true;
        await publisher;
        const read = await b.read(['p'], start, 1000);
        assert.equal(read.gap, false);
        const stored = bodies(read.messages);
        for (const text of acknowledged) assert.ok(stored.includes(text), `${text} was acknowledged but is missing`);
        const last = acknowledged[acknowledged.length - 1];
        await eventually(() => heardOnB.includes(last!), 3000);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await own.stop();
    }
  });

  test('a Redis that never answers: commands fail within the timeout', async () => {
    const store = createRedisStore({ url: 'redis://127.0.0.1:1', buffer: 10, messageTtl: 60, maxChannels: 100, isHeld: () => false, commandTimeout: 300 });
    try {
      const began = Date.now();
      await assert.rejects(store.append('x', input('y')), StoreUnavailableError);
      await assert.rejects(store.read(['x'], null, 1), StoreUnavailableError);
      assert.ok(Date.now() - began < 1500);
      assert.deepEqual(store.stats(), { channels: 0, bufferBytes: 0, expired: 0, evicted: 0 });
    } finally {
      await store.close();
    }
  });
});

describe('redis store: without the redis package', () => {
  test('createRedisStore says to npm install redis', async () => {
    // Resolving 'redis' fails in the child, as it does where the package is not installed.
    const code = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'redis') { const e = new Error("Cannot find module 'redis'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
        return resolve.call(this, request, ...rest);
      };
      try { require(${JSON.stringify(join(__dirname, '..', 'lib', 'stores', 'redis', 'store.ts'))}).createRedisStore({ buffer: 1, messageTtl: 1, maxChannels: 1, isHeld: () => false }); }
      catch (e) { process.stdout.write(e.message); process.exit(3); }`;
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', '-e', code], { timeout: 10000 }, (_err, stdout) => resolve({ code: child.exitCode, stdout }));
    });
    assert.equal(result.code, 3);
    assert.match(result.stdout, /npm install redis/);
  });
});

describe('two holdpush servers on one Redis', { timeout: 30000 }, () => {
  interface Server {
    url: string;
    close(): Promise<void>;
  }

  async function startHoldpush(url: string, prefix: string, overrides: Partial<RedisStoreOptions> = {}): Promise<Server> {
    const { server, holdpush } = createHoldpushServer({
      log: 'off',
      holdTimeout: 5,
      store: (context) => createRedisStore({ url, keyPrefix: prefix, commandTimeout: 1000, ...context, ...overrides }),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      async close() {
        await holdpush.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  test('publish on A: long-poll, EventSource and batch subscribers on B receive; positions from A work on B', async () => {
    const prefix = `e2e${++prefixCount}:`;
    const a = await startHoldpush(redis.url, prefix);
    const b = await startHoldpush(redis.url, prefix);
    try {
      const polled = request(`${b.url}/sub/x`);
      const batched = request(`${b.url}/sub/x`, { headers: { Accept: 'application/json' } });
      const stream = openStream(`${b.url}/sub/x`);
      await stream.waitFor(':');
      // A counts B's subscribers once B's presence tick has shared them: then A's publish is a 201.
      const deadline = Date.now() + 5000;
      while (((await request(`${a.url}/pub/x`, { headers: { Accept: 'application/json' } })).json() as { subscribers: number }).subscribers !== 3) {
        assert.ok(Date.now() < deadline, "A never counted B's three subscribers");
        await sleep(20);
      }
      const published = await request(`${a.url}/pub/x`, { method: 'POST', body: 'hello', headers: { 'Content-Type': 'text/plain' } });
      assert.equal(published.status, 201);
      const reply = await polled;
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'hello');
      assert.equal(reply.headers['content-type'], 'text/plain');
      const etag = reply.headers.etag as string;
      assert.match(etag, TOKEN);
      const batch = (await batched).json() as { messages: { id: string; data: string }[]; gap: boolean; last: string };
      assert.deepEqual(batch.messages.map((m) => m.data), ['hello']);
      assert.equal(batch.gap, false);
      assert.equal(batch.last.split(':')[1], etag);
      const text = await stream.waitFor('data: hello');
      assert.match(text, new RegExp(`id: \\d+:${etag}\\n`));
      stream.close();

      await request(`${a.url}/pub/x`, { method: 'POST', body: 'second' });
      const next = await request(`${b.url}/sub/x`, { headers: { 'If-None-Match': etag } });
      assert.equal(next.status, 200);
      assert.equal(next.text, 'second');
      assert.equal(next.headers['x-holdpush-gap'], undefined);
      const info = (await request(`${b.url}/pub/x`, { headers: { Accept: 'application/json' } })).json() as { messages: number; last_message_id: string };
      assert.equal(info.messages, 2);
      assert.equal(info.last_message_id.split(':')[1], next.headers.etag);
      const stats = (await request(`${b.url}/stats`)).json() as { store: string };
      assert.equal(stats.store, 'redis');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a client behind the trimmed buffer gets X-Holdpush-Gap on the other server', async () => {
    const prefix = `e2e${++prefixCount}:`;
    const a = await startHoldpush(redis.url, prefix, { buffer: 2 });
    const b = await startHoldpush(redis.url, prefix, { buffer: 2 });
    try {
      await request(`${a.url}/pub/g`, { method: 'POST', body: 'one' });
      const first = await request(`${b.url}/sub/g`);
      const position = first.headers.etag as string;
      for (const body of ['two', 'three', 'four']) await request(`${a.url}/pub/g`, { method: 'POST', body });
      const behind = await request(`${b.url}/sub/g`, { headers: { 'If-None-Match': position } });
      assert.equal(behind.status, 200);
      assert.equal(behind.text, 'three');
      assert.equal(behind.headers['x-holdpush-gap'], '1');
      const batch = (await request(`${b.url}/sub/g?last_event_id=${encodeURIComponent(position)}`, { headers: { Accept: 'application/json' } })).json() as { gap: boolean; messages: { data: string }[] };
      assert.equal(batch.gap, true);
      assert.deepEqual(batch.messages.map((m) => m.data), ['three', 'four']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a holdpush restart keeps the messages', async () => {
    const prefix = `e2e${++prefixCount}:`;
    const a = await startHoldpush(redis.url, prefix);
    await request(`${a.url}/pub/r`, { method: 'POST', body: 'before' });
    const position = (await request(`${a.url}/sub/r`)).headers.etag as string;
    await request(`${a.url}/pub/r`, { method: 'POST', body: 'missed' });
    await a.close();
    const again = await startHoldpush(redis.url, prefix);
    try {
      const reply = await request(`${again.url}/sub/r`, { headers: { 'If-None-Match': position } });
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'missed');
      assert.equal(reply.headers['x-holdpush-gap'], undefined);
    } finally {
      await again.close();
    }
  });

  test('Redis killed: 503 with a JSON error and Retry-After, then service resumes by itself', async () => {
    const own = await startRedis({ persist: true });
    const a = await startHoldpush(own.url, 'down:');
    const b = await startHoldpush(own.url, 'down:');
    try {
      await request(`${a.url}/pub/d`, { method: 'POST', body: 'kept' });
      const position = (await request(`${b.url}/sub/d`)).headers.etag as string;
      await own.kill();
      const began = Date.now();
      const refused = await request(`${a.url}/pub/d`, { method: 'POST', body: 'refused' });
      assert.equal(refused.status, 503);
      assert.equal((refused.json() as { error: string }).error, 'store_unavailable');
      assert.ok(refused.headers['retry-after'] !== undefined);
      const sub = await request(`${b.url}/sub/d`, { headers: { 'If-None-Match': position } });
      assert.equal(sub.status, 503);
      assert.ok(sub.headers['retry-after'] !== undefined);
      assert.ok(Date.now() - began < 3000);
      await own.start();
      let status = 0;
      const deadline = Date.now() + 5000;
      while (status !== 202) {
        status = (await request(`${a.url}/pub/d`, { method: 'POST', body: 'after' })).status;
        if (Date.now() > deadline) throw new Error(`publish never recovered: ${status}`);
        if (status !== 202) await sleep(50);
      }
      const held = request(`${b.url}/sub/d`, { headers: { 'If-None-Match': position } });
      const reply = await held;
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'after');
      assert.equal(reply.headers['x-holdpush-gap'], undefined);
      // B hears A again: a held long-poll on B wakes for a message published on A.
      const waiting = request(`${b.url}/sub/d`, { headers: { 'If-None-Match': reply.headers.etag as string } });
      await sleep(300);
      await request(`${a.url}/pub/d`, { method: 'POST', body: 'woken' });
      assert.equal((await waiting).text, 'woken');
    } finally {
      await a.close();
      await b.close();
      await own.stop();
    }
  });
});
