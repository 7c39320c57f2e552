import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { type RedisClientLike, loadRedis } from '../lib/stores/redis/client';
import { type RedisStoreOptions, createRedisStore } from '../lib/stores/redis/store';
import { type StoredMessage, StoreUnavailableError } from '../lib/stores/store';
import { openStream, request } from './support/http';
import { callsBetween, clockAllowance, commandCalls, startRedisHoldpush, statsClient } from './support/redis-repoll';
import { startRedis } from './support/redis-server';
import { useRedisStores } from './support/redis-stores';
import { eventually, waitFor } from './support/wait';

// What every store does is in test/store-contract.test.ts; here is what the Redis store does
// besides: several stores on one Redis, Redis going away, and two holdpush servers sharing one.

const TOKEN = /^[0-9A-Za-z._~-]{1,512}$/;

const stores = useRedisStores();
/** Key prefixes of tests that make their stores together (one prefix, several stores). */
let prefixCount = 0;

function input(text: string) {
  return { data: Buffer.from(text), contentType: 'text/plain' };
}

function bodies(messages: readonly StoredMessage[]): string[] {
  return messages.map((m) => m.data.toString());
}

function seqOf(token: string): number {
  return Number(token.slice(token.lastIndexOf('-') + 1));
}

/** A connection of the test's own, for commands no store sends (PUBSUB, FLUSHALL, CLIENT, CONFIG). */
async function admin(url: string): Promise<RedisClientLike> {
  const client = loadRedis().createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Connections subscribed to `channel` now (PUBSUB NUMSUB). */
async function subscribers(client: RedisClientLike, channel: string): Promise<number> {
  const reply = await client.sendCommand(['PUBSUB', 'NUMSUB', channel]);
  return Array.isArray(reply) ? Number(reply[1]) : 0;
}

describe('redis store: several stores on one Redis', { timeout: 20000 }, () => {
  test('two stores share channels, and tokens stay ordered across them', async () => {
    const prefix = `shared${++prefixCount}:`;
    const a = stores.make({}, prefix);
    const b = stores.make({}, prefix);
    await Promise.all([a.ready(), b.ready()]);
    assert.equal(a.kind, 'redis');
    const heardOnB: StoredMessage[] = [];
    b.watch({ message: (m) => heardOnB.push(m), deleted: () => undefined });
    const work: Promise<StoredMessage>[] = [];
    for (let i = 0; i < 40; i++) work.push((i % 2 === 0 ? a : b).append('x', input(`m${i}`)));
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
    await waitFor(() => heardOnB.length >= 40, 3000, 'B to hear 40 messages');
    assert.deepEqual(heardOnB.map((m) => seqOf(m.token)), seqs);
  });

  test('what one store touches, appends and deletes, the other sees; its watchers hear the deletion', async () => {
    const prefix = `del${++prefixCount}:`;
    const a = stores.make({}, prefix);
    const b = stores.make({}, prefix);
    await Promise.all([a.ready(), b.ready()]);
    const deletedOnA: string[] = [];
    a.watch({ message: () => undefined, deleted: (c) => deletedOnA.push(c) });
    assert.equal(await a.touch(['d']), true);
    assert.equal((await b.info('d'))?.messages, 0);
    const message = await a.append('d', input('x'));
    assert.equal((await b.info('d'))?.lastMessageId, message.id);
    assert.equal(await b.delete('d'), true);
    await waitFor(() => deletedOnA.length > 0, 3000, 'A to hear the deletion');
    assert.deepEqual(deletedOnA, ['d']);
    assert.equal(await a.info('d'), null);
    assert.equal(await a.delete('d'), false);
  });

  test('the channel limit covers the whole Redis', async () => {
    const prefix = `lim${++prefixCount}:`;
    const a = stores.make({ maxChannels: 2 }, prefix);
    const b = stores.make({ maxChannels: 2 }, prefix);
    assert.equal(await a.touch(['c1']), true);
    await b.append('c2', input('x'));
    assert.equal(await b.touch(['c3']), false);
    assert.equal(await a.touch(['c1', 'c2']), true);
    await assert.rejects(a.append('c3', input('y')), (err: unknown) => err instanceof StoreUnavailableError && err.code === 'too_many_channels');
    await a.append('c1', input('fine'));
  });

  test('messages survive a restart of the store', async () => {
    const prefix = `restart${++prefixCount}:`;
    const first = stores.make({}, prefix);
    const start = await first.head();
    await first.append('r', input('kept'));
    await first.close();
    const second = stores.make({}, prefix);
    const read = await second.read(['r'], start, 10);
    assert.equal(read.gap, false);
    assert.deepEqual(bodies(read.messages), ['kept']);
  });

  test("an embedder's own connected client is used and left open", async () => {
    const client = await admin(stores.url);
    try {
      const prefix = `own${++prefixCount}:`;
      const store = createRedisStore({ client, buffer: 10, messageTtl: 60, maxChannels: 10, isHeld: () => false, keyPrefix: prefix });
      const other = stores.make({}, prefix);
      await Promise.all([store.ready(), other.ready()]);
      const heard: string[] = [];
      store.watch({ message: (m) => heard.push(m.data.toString()), deleted: () => undefined });
      await other.append('e', input('from the other'));
      const mine = await store.append('e', input('mine'));
      await waitFor(() => heard.length >= 2, 3000, 'both messages heard');
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
    const store = stores.make();
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
        const watcher = await admin(own.url);
        try {
          await waitFor(async () => (await subscribers(watcher, 'holdpush:events')) > 0, 5000, 'the event connection to subscribe again');
        } finally {
          await watcher.close?.();
        }
        const heard: string[] = [];
        store.watch({ message: (m) => heard.push(m.data.toString()), deleted: () => undefined });
        const after = await eventually(() => store.append('k', input('after')), () => true, 5000, 'an append to succeed');
        const read = await store.read(['k'], before.token, 10);
        assert.equal(read.gap, true);
        assert.deepEqual(bodies(read.messages), ['after']);
        assert.deepEqual(heard, ['after']);
        assert.equal(read.messages[0]?.token, after.token);
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
    const heard: string[] = [];
    store.watch({ message: (m) => heard.push(m.data.toString()), deleted: () => undefined });
    let control: RedisClientLike | undefined;
    try {
      await Promise.all([store.ready(), other.ready()]);
      control = await admin(own.url);
      await store.touch(['w']);
      await store.append('w', input('before'));
      await waitFor(() => heard.length === 1, 3000, 'the first message heard');
      // No new connection is let in (those there stay) until the message is out: the event
      // connections, cut, cannot come back before it, so the store learns of it by catching up.
      await control.sendCommand(['CONFIG', 'SET', 'maxclients', '1']);
      await control.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await control.sendCommand(['FLUSHALL']);
      await other.append('w', input('while away'));
      assert.equal(await subscribers(control, 'holdpush:events'), 0, 'nobody heard it published');
      await control.sendCommand(['CONFIG', 'SET', 'maxclients', '10000']);
      await waitFor(() => heard.length >= 2, 5000, 'the message published while away');
      assert.deepEqual(heard, ['before', 'while away']);
    } finally {
      await Promise.all([store.close(), other.close(), control?.close?.()]);
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
        let refused = 0;
        const start = await a.head();
        let stop = false;
        const publisher = (async () => {
          for (let i = 0; !stop; i++) {
            try {
              await a.append('p', input(`m${i}`));
              acknowledged.push(`m${i}`);
            } catch (err) {
              assert.ok(err instanceof StoreUnavailableError);
              refused += 1;
            }
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })();
        await waitFor(() => acknowledged.length >= 5, 5000, 'publishing to start');
        await own.kill();
        await waitFor(() => refused > 0, 5000, 'a publish refused while Redis is down');
        await own.start();
        const count = acknowledged.length;
        await waitFor(() => acknowledged.length > count + 5, 5000, 'publishing to resume');
        stop = true;
        await publisher;
        const read = await b.read(['p'], start, 1000);
        assert.equal(read.gap, false);
        const stored = bodies(read.messages);
        for (const text of acknowledged) assert.ok(stored.includes(text), `${text} was acknowledged but is missing`);
        const last = acknowledged[acknowledged.length - 1];
        await waitFor(() => heardOnB.includes(last!), 3000, `B to hear ${last}`);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await own.stop();
    }
  });

  test('a Redis that cannot be reached: commands fail, not connected, within the timeout', async () => {
    const store = createRedisStore({ url: 'redis://127.0.0.1:1', buffer: 10, messageTtl: 60, maxChannels: 100, isHeld: () => false, commandTimeout: 300 });
    try {
      await assert.rejects(store.append('x', input('y')), (err: unknown) => err instanceof StoreUnavailableError && /not connected/.test(err.message));
      await assert.rejects(store.read(['x'], null, 1), StoreUnavailableError);
      assert.deepEqual(store.stats(), { channels: 0, bufferBytes: 0, expired: 0, evicted: 0 });
    } finally {
      await store.close();
    }
  });

  test('a Redis that never answers: a command fails when its timeout passes', async () => {
    const own = await startRedis();
    const store = createRedisStore({ url: own.url, buffer: 10, messageTtl: 60, maxChannels: 100, isHeld: () => false, commandTimeout: 300 });
    try {
      await store.ready();
      await store.append('x', input('while it answers'));
      // Redis holds every client's commands (this one's too) for a while, the connections open.
      const control = await admin(own.url);
      await control.sendCommand(['CLIENT', 'PAUSE', '2000', 'ALL']);
      control.destroy?.();
      await assert.rejects(store.append('x', input('y')), (err: unknown) => err instanceof StoreUnavailableError && err.message.includes('no answer within 300 ms'));
      await assert.rejects(store.read(['x'], null, 1), (err: unknown) => err instanceof StoreUnavailableError && err.message.includes('no answer within 300 ms'));
    } finally {
      await store.close();
      await own.stop();
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

  /** Subscribers held on a server (its /stats). */
  async function heldOn(server: Server): Promise<number> {
    return ((await request(`${server.url}/stats`)).json() as { process: { held: { total: number } } }).process.held.total;
  }

  function startHoldpush(url: string, prefix: string, overrides: Partial<RedisStoreOptions> = {}): Promise<Server> {
    return startRedisHoldpush(url, prefix, { commandTimeout: 1000, ...overrides }, 5);
  }

  test('publish on A: long-poll, EventSource and batch subscribers on B receive; positions from A work on B', async () => {
    const prefix = `e2e${++prefixCount}:`;
    const a = await startHoldpush(stores.url, prefix);
    const b = await startHoldpush(stores.url, prefix);
    try {
      const polled = request(`${b.url}/sub/x`);
      const batched = request(`${b.url}/sub/x`, { headers: { Accept: 'application/json' } });
      const stream = openStream(`${b.url}/sub/x`);
      await stream.waitFor(':');
      await waitFor(async () => (await heldOn(b)) === 3, 5000, 'three subscribers held on B');
      // A counts B's subscribers once B's presence tick has shared them: then A's publish is a 201.
      await waitFor(async () => ((await request(`${a.url}/pub/x`, { headers: { Accept: 'application/json' } })).json() as { subscribers: number }).subscribers === 3, 5000, "A to count B's three subscribers");
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

  test("an HTTP publish is one Redis script: the append answers with the channel's info, as GET /pub tells it", async (t) => {
    const prefix = `e2e${++prefixCount}:`;
    const a = await startHoldpush(stores.url, prefix, { buffer: 3 });
    const stats = await statsClient(stores.url);
    try {
      const json = { Accept: 'application/json' };
      type Answer = { messages: number; requested: number; subscribers: number; last_message_id: string };
      const first = (await request(`${a.url}/pub/one`, { method: 'POST', body: 'm0', headers: json })).json() as Answer;
      assert.deepEqual(first, (await request(`${a.url}/pub/one`, { headers: json })).json(), 'the answer of a new channel, never requested');
      assert.equal(first.requested, -1);
      // A subscriber's request is told in later answers (`requested`, 0 s ago).
      const polled = await request(`${a.url}/sub/one`);
      assert.equal(polled.text, 'm0');
      const messages = 100;
      const before = await commandCalls(stats);
      const started = performance.now();
      let last: unknown;
      for (let i = 1; i <= messages; i++) last = (await request(`${a.url}/pub/one`, { method: 'POST', body: `m${i}`, headers: json })).json();
      const seconds = (performance.now() - started) / 1000;
      const later = await commandCalls(stats);
      const delta = (name: string) => (later.get(name) ?? 0) - (before.get(name) ?? 0);
      const { scripts, commands } = callsBetween(before, later);
      t.diagnostic(`${messages} publishes in ${seconds.toFixed(1)} s: ${scripts} scripts, ${commands} commands (${(commands / messages).toFixed(1)} per publish, the clock's scripts included)`);
      // `requested` is in whole seconds ago, so two answers a second boundary apart may differ by one.
      const info = (await request(`${a.url}/pub/one`, { headers: json })).json() as Answer;
      const answer = last as Answer;
      assert.deepEqual({ ...answer, requested: 0 }, { ...info, requested: 0 }, "the last publish's answer is the channel's info after it");
      assert.equal(answer.messages, 3, 'trimmed to the buffer');
      assert.ok(answer.requested >= 0 && answer.requested <= info.requested, `the subscriber's request is told: ${answer.requested} s ago`);
      // XLEN runs in the append script (and ran in the info script); XREVRANGE ran only in the info script here.
      assert.equal(delta('xlen'), messages, 'one append script per publish');
      assert.equal(delta('xrevrange'), 0, 'no channel-info script');
      assert.ok((scripts - clockAllowance(1, seconds)) / messages <= 1, `one script per publish beside the clock's: ${scripts} in ${seconds.toFixed(1)} s`);
    } finally {
      await (stats as { close?(): Promise<unknown> }).close?.();
      await a.close();
    }
  });

  test('a client behind the trimmed buffer gets X-Holdpush-Gap on the other server', async () => {
    const prefix = `e2e${++prefixCount}:`;
    const a = await startHoldpush(stores.url, prefix, { buffer: 2 });
    const b = await startHoldpush(stores.url, prefix, { buffer: 2 });
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
    const a = await startHoldpush(stores.url, prefix);
    await request(`${a.url}/pub/r`, { method: 'POST', body: 'before' });
    const position = (await request(`${a.url}/sub/r`)).headers.etag as string;
    await request(`${a.url}/pub/r`, { method: 'POST', body: 'missed' });
    await a.close();
    const again = await startHoldpush(stores.url, prefix);
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
      await eventually(() => request(`${a.url}/pub/d`, { method: 'POST', body: 'after' }), (published) => published.status === 202, 5000, 'a publish to succeed');
      const held = request(`${b.url}/sub/d`, { headers: { 'If-None-Match': position } });
      const reply = await held;
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'after');
      assert.equal(reply.headers['x-holdpush-gap'], undefined);
      // B hears A again: a held long-poll on B wakes for a message published on A.
      const waiting = request(`${b.url}/sub/d`, { headers: { 'If-None-Match': reply.headers.etag as string } });
      await waitFor(async () => (await heldOn(b)) === 1, 5000, 'the long-poll held on B');
      await request(`${a.url}/pub/d`, { method: 'POST', body: 'woken' });
      assert.equal((await waiting).text, 'woken');
    } finally {
      await a.close();
      await b.close();
      await own.stop();
    }
  });
});
