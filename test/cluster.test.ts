import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { type TestContext, after, before, describe, test } from 'node:test';
import { workerCount } from '../lib/cli/cluster';
import { createClusterPrimary } from '../lib/stores/cluster/primary';
import { createClusterStore } from '../lib/stores/cluster/worker';
import { StoreUnavailableError } from '../lib/stores/store';
import { linkPair } from './support/cluster-link';
import { type ClusterRun, type Pinned, killGroup, pinWorkers, send, spawnCluster, startCluster } from './support/cluster-run';
import { openStream } from './support/http';
import { eventually, waitFor } from './support/wait';

// What every store does is in test/store-contract.test.ts; here is what the cluster store does
// besides: workers sharing one sequencer, holds across workers, the cluster's figures, and the
// real thing (--workers 2) in child processes.

function text(data: string) {
  return { data: Buffer.from(data), contentType: 'text/plain' };
}

/**
 * Waits until the primary's sequencer has swept once more: a channel touched on it directly (so
 * no worker holds it) is forgotten by the sweep, and only by it.
 */
async function sweptOnce(store: { touch(channels: string[]): Promise<boolean>; info(channel: string): Promise<unknown> }): Promise<void> {
  const probe = `probe-${Math.random().toString(36).slice(2)}`;
  assert.equal(await store.touch([probe]), true);
  await waitFor(async () => (await store.info(probe)) === null, 5000, 'the primary to sweep');
}

/** A primary and two workers over in-process channels, closed when the test ends. */
function twoWorkers(t: TestContext, options: { heldOnOne?: (channel: string) => boolean; statsInterval?: number } = {}) {
  const primary = createClusterPrimary({ buffer: 10, messageTtl: 60, maxChannels: 10, statsInterval: options.statsInterval });
  const one = linkPair(1);
  const two = linkPair(2);
  primary.attach(one.worker);
  primary.attach(two.worker);
  const a = createClusterStore({ link: one.primary, buffer: 10, messageTtl: 60, isHeld: options.heldOnOne ?? (() => false), reportInterval: 20 });
  const b = createClusterStore({ link: two.primary, buffer: 10, messageTtl: 60, isHeld: () => false, reportInterval: 20 });
  t.after(async () => {
    await a.close();
    await b.close();
    await primary.close();
  });
  return { primary, a, b };
}

describe('cluster store over an IPC channel', { timeout: 20000 }, () => {
  test('workers share one sequence, and each hears the messages and deletions of the others', async (t) => {
    const { a, b } = twoWorkers(t);
    const heardOnB: string[] = [];
    const deletedOnB: string[] = [];
    b.watch({ message: (m) => heardOnB.push(m.data.toString()), deleted: (c) => deletedOnB.push(c) });
    assert.equal(a.kind, 'cluster');
    const start = await b.head();
    const first = await a.append('x', { data: Buffer.from([1, 2, 255]), contentType: 'application/octet-stream', event: 'e' });
    const second = await b.append('x', text('two'));
    assert.ok(a.follows(second.token, first.token) && b.follows(second.token, first.token));
    assert.ok(!b.follows(first.token, second.token));
    const read = await b.read(['x'], start, 10);
    assert.deepEqual(read.messages.map((m) => m.token), [first.token, second.token]);
    assert.deepEqual(read.messages[0]?.data, Buffer.from([1, 2, 255]));
    assert.deepEqual(heardOnB, ['\u0001\u0002\ufffd', 'two'], "B heard A's message, and its own, in order");
    assert.equal(await a.delete('x'), true);
    await waitFor(() => deletedOnB.length > 0, 3000, "B to hear A's deletion");
    assert.deepEqual(deletedOnB, ['x']);
  });

  test('the primary keeps a channel a worker holds past its sweep, and forgets it once let go', async (t) => {
    const heldOnOne = new Set<string>(['h']);
    const { primary, a, b } = twoWorkers(t, { heldOnOne: (c) => heldOnOne.has(c) });
    assert.equal(await a.touch(['h']), true);
    await sweptOnce(primary.store);
    assert.notEqual(await b.info('h'), null, 'held by worker 1, so kept by the sweep');
    heldOnOne.delete('h');
    a.released('h');
    await waitFor(async () => (await b.info('h')) === null, 3000, 'the let-go channel to be forgotten');
  });

  test("the cluster's figures: the sequencer's, and every worker's report summed", async (t) => {
    const { primary, a, b } = twoWorkers(t, { statsInterval: 20 });
    await a.append('f', text('x'));
    a.deployment.report(() => ({ held: { longpoll: 2, stream: 1, total: 3 }, published: 5, delivered: 7 }));
    b.deployment.report(() => ({ held: { longpoll: 1, stream: 0, total: 1 }, published: 1, delivered: 1 }));
    const expected = { processes: 2, held: { longpoll: 3, stream: 1, total: 4 }, published: 6, delivered: 8 };
    await eventually(() => b.deployment.totals(), (totals) => JSON.stringify(totals) === JSON.stringify(expected), 3000, 'the sums on worker 2');
    await eventually(() => a.deployment.totals(), (totals) => JSON.stringify(totals) === JSON.stringify(expected), 3000, 'the sums on worker 1');
    assert.deepEqual(primary.totals(), expected);
    await eventually(() => b.stats(), (stats) => stats.channels === 1 && stats.bufferBytes === 1, 3000, "the sequencer's figures on worker 2");
  });

  test('a primary that does not answer, or is gone, is store_unavailable', async () => {
    const silent = linkPair(1);
    const store = createClusterStore({ link: silent.primary, buffer: 10, messageTtl: 60, isHeld: () => false, timeout: 100 });
    try {
      await assert.rejects(store.append('x', text('y')), (err: unknown) => err instanceof StoreUnavailableError && err.code === 'store_unavailable' && err.message.includes('did not answer within 100 ms'));
      silent.primary.connected = false;
      await assert.rejects(store.read(['x'], null, 1), (err: unknown) => err instanceof StoreUnavailableError && err.message.includes('cannot be reached'));
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
    const store = createClusterStore({ link: link.primary, buffer: 10, messageTtl: 60, isHeld: () => true });
    try {
      assert.equal(await store.touch(['kept']), true);
      await sweptOnce(primary.store);
      assert.notEqual(await primary.store.info('kept'), null);
      primary.detach(7);
      assert.equal(await primary.store.info('kept'), null);
    } finally {
      await store.close();
      await primary.close();
    }
  });

  test('what is not a message of the protocol is ignored, on both sides', async () => {
    const primary = createClusterPrimary({ buffer: 10, messageTtl: 60, maxChannels: 10 });
    const link = linkPair(3);
    primary.attach(link.worker);
    const store = createClusterStore({ link: link.primary, buffer: 10, messageTtl: 60, isHeld: () => false });
    const heard: string[] = [];
    store.watch({ message: (m) => heard.push(m.data.toString()), deleted: (c) => heard.push(`deleted ${c}`) });
    try {
      const junk: unknown[] = [
        null,
        'req',
        { hp: 'req', id: 1, op: 'append', args: ['c'] },
        { hp: 'req', id: 2, op: 'drop', args: [] },
        { hp: 'release', channels: 'c' },
        { hp: 'report', figures: { held: {} } },
        { hp: 'res', id: 1, ok: false, error: 'no' },
        { hp: 'msg', message: { channel: 'c', token: 't', id: 'i', time: 1, contentType: 'x', data: 'not bytes' } },
        { hp: 'del', channel: 5 },
        { hp: 'stats', store: {}, others: {} },
      ];
      for (const message of junk) {
        link.primary.send?.(message);
        link.worker.send(message);
      }
      const message = await store.append('c', text('after the junk'));
      assert.deepEqual(heard, ['after the junk']);
      assert.deepEqual((await store.read(['c'], null, 10)).messages.map((m) => m.token), [message.token]);
      assert.deepEqual(primary.store.stats().channels, 1);
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
  totals: { processes: number; held: { longpoll: number; total: number } } | null;
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
    await eventually(() => view(publisher), (seen) => seen.totals?.processes === 2 && seen.totals.held.total === 3, 5000, 'the three holds in the figures of the other worker');
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
    // The sequencer's figures reach each worker every half second.
    const stats = await eventually(async () => JSON.parse((await send(`${run.url}/stats`, { agent: poll.agent })).text) as { store: string; channels: number }, (seen) => seen.channels === 1, 3000, 'the channel counted on the other worker');
    assert.equal(stats.store, 'cluster');
  });

  test('a worker killed with SIGKILL is replaced, and its client resumes without loss', { timeout: 20000 }, async () => {
    const victim = one[0] as Pinned;
    const publisher = two[0] as Pinned;
    // A position inside the cluster's sequence: the token of a message just published.
    await send(`${run.url}/pub/resume-mark`, { agent: publisher.agent, method: 'POST', body: 'mark' });
    const mark = await send(`${run.url}/sub/resume-mark`, { agent: publisher.agent });
    const start = mark.headers.etag as string;
    const held = send(`${run.url}/sub/resume`, { agent: victim.agent, headers: { 'If-None-Match': start } });
    // The victim's report (seen by the other worker) shows the long-poll held.
    await eventually(() => view(publisher), (seen) => seen.totals?.held.longpoll === 1, 5000, 'the long-poll held on the victim');
    const listening = (run.output().match(/listening/g) ?? []).length;
    process.kill(victim.pid, 'SIGKILL');
    await assert.rejects(held);
    for (const text of ['m1', 'm2', 'm3']) {
      const reply = await send(`${run.url}/pub/resume`, { agent: publisher.agent, method: 'POST', body: text });
      assert.ok(reply.status === 201 || reply.status === 202);
    }
    await waitFor(() => (run.output().match(/listening/g) ?? []).length > listening, 10000, () => `a replacement worker: ${run.output()}`);
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
    await eventually(() => view(two[0] as Pinned), (seen) => seen.totals?.held.longpoll === 1, 5000, 'the long-poll held');
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
