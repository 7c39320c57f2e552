import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { EventEmitter } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { type WorkerLink, createClusterPrimary } from '../lib/stores/cluster/primary';
import { type PrimaryLink, createClusterStore } from '../lib/stores/cluster/worker';
import { workerCount } from '../lib/cli/cluster';
import { StoreUnavailableError } from '../lib/stores/store';
import { createServer } from 'node:net';
import { type ClusterRun, type Pinned, killGroup, pinWorkers, send, spawnCluster, startCluster } from './support/cluster-run';
import { openStream } from './support/http';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An in-process IPC pair that clones what it carries, as `serialization: 'advanced'` does. */
function linkPair(id: number): { worker: WorkerLink & { connected: boolean }; primary: PrimaryLink & { connected: boolean } } {
  const toPrimary = new EventEmitter();
  const toWorker = new EventEmitter();
  const primarySide = Object.assign(toPrimary, {
    id,
    connected: true,
    isConnected: () => primarySide.connected,
    send(message: unknown) {
      const copy = structuredClone(message);
      setImmediate(() => toWorker.emit('message', copy));
      return true;
    },
  });
  const workerSide = Object.assign(toWorker, {
    connected: true,
    send(message: unknown) {
      if (!workerSide.connected) throw new Error('channel closed');
      const copy = structuredClone(message);
      setImmediate(() => toPrimary.emit('message', copy));
      return true;
    },
  });
  return { worker: primarySide, primary: workerSide };
}

describe('cluster store over an IPC channel', { timeout: 20000 }, () => {
  test('workers share one sequence, hear every message and deletion, and the primary knows holds', async () => {
    const primary = createClusterPrimary({ buffer: 3, messageTtl: 60, maxChannels: 10, statsInterval: 20 });
    const one = linkPair(1);
    const two = linkPair(2);
    primary.attach(one.worker);
    primary.attach(two.worker);
    const heldOnOne = new Set<string>();
    const a = createClusterStore({ link: one.primary, isHeld: (c) => heldOnOne.has(c), reportInterval: 20 });
    const b = createClusterStore({ link: two.primary, isHeld: () => false, reportInterval: 20 });
    const heardOnB: string[] = [];
    const deletedOnB: string[] = [];
    b.watch({ message: (m) => heardOnB.push(m.data.toString()), deleted: (c) => deletedOnB.push(c) });
    let heardOnA: unknown;
    a.watch({ message: (m) => void (heardOnA = m), deleted: () => undefined });
    try {
      assert.equal(a.kind, 'cluster');
      const start = await b.head();
      const first = await a.append('x', { data: Buffer.from([1, 2, 255]), contentType: 'application/octet-stream', event: 'e' });
      assert.equal(heardOnA, first, 'the watchers heard it before append settled, as the same object');
      const second = await b.append('x', { data: Buffer.from('two'), contentType: 'text/plain' });
      assert.ok(a.follows(second.token, first.token));
      assert.ok(!a.follows(first.token, second.token));
      assert.ok(a.follows(first.token, 'never-issued'));
      const read = await b.read(['x'], start, 10);
      assert.deepEqual(read.messages.map((m) => m.token), [first.token, second.token]);
      assert.ok(Buffer.isBuffer(read.messages[0]!.data));
      assert.deepEqual(read.messages[0]!.data, Buffer.from([1, 2, 255]));
      assert.equal(read.messages[0]!.event, 'e');
      assert.equal(read.messages[1]!.event, undefined);
      assert.deepEqual(heardOnB, ['\u0001\u0002\ufffd', 'two']);
      for (let i = 0; i < 3; i++) await a.append('x', { data: Buffer.from(`m${i}`), contentType: 'text/plain' });
      const behind = await b.read(['x'], start, 10);
      assert.equal(behind.gap, true);
      assert.equal(behind.messages.length, 3);
      assert.equal((await a.info('x'))!.messages, 3);

      // Holds: touched by worker 1, so the primary keeps the empty channel alive while held.
      heldOnOne.add('h');
      assert.equal(await a.touch(['h']), true);
      await sleep(60);
      assert.notEqual(await b.info('h'), null);
      heldOnOne.delete('h');
      a.released('h');
      await sleep(60);
      assert.equal(await b.info('h'), null);

      // Too many channels comes back as the same error.
      for (let i = 0; i < 9; i++) await a.append(`c${i}`, { data: Buffer.from('x'), contentType: 'text/plain' });
      await assert.rejects(a.append('one-more', { data: Buffer.from('x'), contentType: 'text/plain' }), (err: unknown) => err instanceof StoreUnavailableError && err.code === 'too_many_channels');

      assert.equal(await a.delete('x'), true);
      await sleep(20);
      assert.deepEqual(deletedOnB, ['x']);
      assert.equal(await a.delete('x'), false);

      // Figures: the store's from the primary, the cluster's summed over workers.
      a.deployment.report(() => ({ held: { longpoll: 2, stream: 1, total: 3 }, published: 5, delivered: 7 }));
      b.deployment.report(() => ({ held: { longpoll: 1, stream: 0, total: 1 }, published: 1, delivered: 1 }));
      await sleep(100);
      assert.equal(b.stats().channels, primary.store.stats().channels);
      assert.deepEqual(b.deployment.totals(), { processes: 2, held: { longpoll: 3, stream: 1, total: 4 }, published: 6, delivered: 8 });
      assert.deepEqual(primary.totals(), b.deployment.totals());
    } finally {
      await a.close();
      await b.close();
      await primary.close();
    }
  });

  test('a primary that does not answer, or is gone, is store_unavailable', async () => {
    const silent = linkPair(1);
    const store = createClusterStore({ link: silent.primary, isHeld: () => false, timeout: 100 });
    try {
      const began = Date.now();
      await assert.rejects(store.append('x', { data: Buffer.from('y'), contentType: 'text/plain' }), (err: unknown) => err instanceof StoreUnavailableError && err.code === 'store_unavailable');
      assert.ok(Date.now() - began < 1000);
      silent.primary.connected = false;
      await assert.rejects(store.read(['x'], null, 1), StoreUnavailableError);
      assert.equal(store.deployment.totals(), undefined);
    } finally {
      await store.close();
    }
    await assert.rejects(store.head(), StoreUnavailableError);
  });

  test('a worker that goes away lets go of its holds', async () => {
    const primary = createClusterPrimary({ buffer: 10, messageTtl: 60, maxChannels: 10 });
    const link = linkPair(7);
    primary.attach(link.worker);
    const store = createClusterStore({ link: link.primary, isHeld: () => true });
    try {
      assert.equal(await store.touch(['kept']), true);
      await sleep(1100);
      assert.notEqual(await primary.store.info('kept'), null);
      primary.detach(7);
      await sleep(1100);
      assert.equal(await primary.store.info('kept'), null);
    } finally {
      await store.close();
      await primary.close();
    }
  });

  test('--workers 0 is one per core', () => {
    assert.equal(workerCount(0), Math.max(1, availableParallelism()));
    assert.equal(workerCount(3), 3);
  });
});

interface WorkerView {
  pid: number;
  totals: { processes: number; held: { total: number } } | null;
}

async function view(pinned: Pinned): Promise<WorkerView> {
  return JSON.parse((await send(`${pinnedUrl}/_worker`, { agent: pinned.agent })).text) as WorkerView;
}

let pinnedUrl = '';

describe('--workers 2: one port, one sequence', { timeout: 60000 }, () => {
  let run: ClusterRun;
  let one: Pinned[];
  let two: Pinned[];

  before(async () => {
    run = await startCluster({ HP_WORKERS: '2', HP_HOLD: '8' });
    pinnedUrl = run.url;
    [one, two] = (await pinWorkers(run.url, 2, 3)) as [Pinned[], Pinned[]];
  });

  after(() => {
    for (const pinned of [...(one ?? []), ...(two ?? [])]) pinned.agent.destroy();
    if (run !== undefined) killGroup(run.child);
  });

  test('a message published on one worker reaches long-poll, EventSource and batch subscribers on the other', { timeout: 20000 }, async () => {
    const [poll, stream, batch] = one as [Pinned, Pinned, Pinned];
    const publisher = two[0] as Pinned;
    assert.notEqual(poll.pid, publisher.pid);
    const polled = send(`${run.url}/sub/cross`, { agent: poll.agent });
    const events = openStream(`${run.url}/sub/cross`, stream.agent);
    const batched = send(`${run.url}/sub/cross`, { agent: batch.agent, headers: { Accept: 'application/json' } });
    // The other worker sees the three holds in the cluster's figures.
    const deadline = Date.now() + 5000;
    for (;;) {
      const seen = await view(publisher);
      if (seen.totals !== null && seen.totals.processes === 2 && seen.totals.held.total === 3) break;
      if (Date.now() > deadline) throw new Error(`holds never showed: ${JSON.stringify(seen)}`);
      await sleep(50);
    }
    const published = await send(`${run.url}/pub/cross`, { agent: publisher.agent, method: 'POST', body: 'hello', headers: { 'Content-Type': 'text/plain' } });
    assert.ok(published.status === 201 || published.status === 202, `publish: ${published.status}`);
    const reply = await polled;
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'hello');
    const etag = reply.headers.etag as string;
    assert.match(etag, /^[0-9A-Za-z._~-]+$/);
    const json = JSON.parse((await batched).text) as { messages: { data: string; id: string }[]; gap: boolean };
    assert.deepEqual(json.messages.map((m) => m.data), ['hello']);
    assert.equal(json.messages[0]!.id.split(':')[1], etag);
    await events.waitFor('data: hello');
    events.close();

    // A position given out by one worker works on the other.
    await send(`${run.url}/pub/cross`, { agent: publisher.agent, method: 'POST', body: 'again', headers: { 'Content-Type': 'text/plain' } });
    const next = await send(`${run.url}/sub/cross`, { agent: publisher.agent, headers: { 'If-None-Match': etag } });
    assert.equal(next.status, 200);
    assert.equal(next.text, 'again');
    assert.equal(next.headers['x-holdpush-gap'], undefined);
    const stats = JSON.parse((await send(`${run.url}/stats`, { agent: poll.agent })).text) as { store: string; channels: number };
    assert.equal(stats.store, 'cluster');
    assert.equal(stats.channels, 1);
  });

  test('a worker killed with SIGKILL is replaced, and its client resumes without loss', { timeout: 20000 }, async () => {
    const victim = one[0] as Pinned;
    const publisher = two[0] as Pinned;
    // A position inside the cluster's sequence: the token of a message just published.
    await send(`${run.url}/pub/resume-mark`, { agent: publisher.agent, method: 'POST', body: 'mark' });
    const mark = await send(`${run.url}/sub/resume-mark`, { agent: publisher.agent });
    const start = mark.headers.etag as string;
    const held = send(`${run.url}/sub/resume`, { agent: victim.agent, headers: { 'If-None-Match': start } });
    await sleep(200);
    const listening = (run.output().match(/listening/g) ?? []).length;
    process.kill(victim.pid, 'SIGKILL');
    await assert.rejects(held);
    for (const text of ['m1', 'm2', 'm3']) {
      const reply = await send(`${run.url}/pub/resume`, { agent: publisher.agent, method: 'POST', body: text });
      assert.ok(reply.status === 201 || reply.status === 202);
    }
    const deadline = Date.now() + 10000;
    while ((run.output().match(/listening/g) ?? []).length <= listening) {
      if (Date.now() > deadline) throw new Error(`no replacement: ${run.output()}`);
      await sleep(50);
    }
    // The client comes back on fresh connections (whichever worker) with its position.
    let at = start;
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await send(`${run.url}/sub/resume`, { headers: { 'If-None-Match': at } });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['x-holdpush-gap'], undefined);
      got.push(reply.text);
      at = reply.headers.etag as string;
    }
    assert.deepEqual(got, ['m1', 'm2', 'm3']);
    const fresh = await pinWorkers(run.url, 2);
    const pids = fresh.map((list) => list[0]!.pid);
    assert.ok(!pids.includes(victim.pid));
    for (const list of fresh) for (const pinned of list) pinned.agent.destroy();
  });

  test('SIGTERM to the primary drains every worker and exits 0', { timeout: 20000 }, async () => {
    const holder = two[1] as Pinned;
    const held = send(`${run.url}/sub/drain`, { agent: holder.agent });
    await sleep(200);
    const code = await run.stop();
    assert.equal(code, 0);
    const reply = await held;
    assert.equal(reply.status, 503);
    assert.equal(reply.headers['retry-after'], '1');
    assert.match(run.output(), /primary: done/);
  });
});

describe('--workers: workers that cannot start', { timeout: 25000 }, () => {
  test('the primary gives up and exits 1 when its workers keep dying', { timeout: 20000 }, async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const child = spawnCluster(port, { HP_WORKERS: '1' });
    let out = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const timer = setTimeout(() => killGroup(child), 18000);
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', (status) => resolve(status)));
      assert.equal(code, 1);
      assert.match(out, /giving up/);
    } finally {
      clearTimeout(timer);
      killGroup(child);
      taken.close();
    }
  });
});
