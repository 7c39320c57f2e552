import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { type TestContext, describe, test } from 'node:test';
import { createClusterPrimary } from '../lib/stores/cluster/primary';
import { type ClusterStore, createClusterStore } from '../lib/stores/cluster/worker';
import type { ReadResult, StoredMessage } from '../lib/stores/store';
import { type LinkPair, linkPair } from './support/cluster-link';
import { send } from './support/cluster-run';
import { startServer } from './support/servers';
import { waitFor } from './support/wait';

// A cluster worker's cache of recent messages (lib/stores/recent-cache.ts, fed by the primary's
// messages): the calls a worker makes to its primary are counted on the IPC channel itself.

/** Counts what a worker sends its primary as it goes out on the channel: calls by operation, other messages by kind. */
function counted(pair: LinkPair): Map<string, number> {
  const calls = new Map<string, number>();
  const link = pair.primary;
  const original = link.send?.bind(link);
  assert.ok(original !== undefined);
  link.send = (message, callback) => {
    const { hp, op } = message as { hp: string; op?: string };
    const key = hp === 'req' ? (op as string) : hp;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    return original(message, callback);
  };
  return calls;
}

function text(data: string) {
  return { data: Buffer.from(data), contentType: 'text/plain' };
}

const view = (read: ReadResult) => ({ tokens: read.messages.map((m) => m.token), gap: read.gap, head: read.head, more: read.more });

/** A primary and two workers over in-process channels; worker A's calls counted. */
function cluster(t: TestContext, buffer = 10, maxBufferBytes?: number) {
  const primary = createClusterPrimary({ buffer, messageTtl: 60, maxChannels: 100, maxBufferBytes });
  const one = linkPair(1);
  const two = linkPair(2);
  const calls = counted(one);
  primary.attach(one.worker);
  primary.attach(two.worker);
  const a = createClusterStore({ link: one.primary, buffer, messageTtl: 60, isHeld: () => true, reportInterval: 20 });
  const b = createClusterStore({ link: two.primary, buffer, messageTtl: 60, isHeld: () => false, reportInterval: 20 });
  t.after(async () => {
    await a.close();
    await b.close();
    await primary.close();
  });
  return { primary, a, b, one, calls };
}

/** Resolves once `store`'s watchers heard the message of `token`. */
function heard(store: ClusterStore, token: string): Promise<void> {
  return new Promise((resolve) => {
    const off = store.watch({
      message(message) {
        if (message.token !== token) return;
        off();
        resolve();
      },
      deleted: () => undefined,
    });
  });
}

describe("a cluster worker's cache of recent messages", { timeout: 20000 }, () => {
  test('a re-poll within the messages heard makes no read call, and answers what the primary answers', async (t) => {
    const { primary, a, b, calls } = cluster(t);
    const before = await b.head();
    const sent: StoredMessage[] = [];
    for (let i = 1; i <= 5; i++) sent.push(await b.append('c', text(`m${i}`)));
    const last = sent[4]!;
    await waitFor(async () => (await a.read(['c'], last.token, 10)).head === last.token, 3000, 'worker A to hear the last message');
    calls.clear();
    // The first message heard only starts the run: positions from it on are answered here.
    for (const position of sent.map((m) => m.token)) {
      const read = await a.read(['c'], position, 10);
      assert.deepEqual(view(read), view(await primary.store.read(['c'], position, 10)), position);
    }
    const limited = await a.read(['c'], sent[0]!.token, 2);
    assert.deepEqual([limited.messages.map((m) => m.data.toString()), limited.more], [['m2', 'm3'], true]);
    assert.equal(calls.get('read'), undefined, 'no read went to the primary');
    // What the cache cannot answer goes to the primary: no position, a position before the run, another channel.
    for (const [channels, position] of [[['c'], null], [['c'], before], [['c', 'other'], sent[2]!.token]] as const) {
      assert.deepEqual(view(await a.read(channels, position, 10)), view(await primary.store.read(channels, position, 10)));
    }
    assert.equal(calls.get('read'), 3);
  });

  test('concurrent re-polls share one touch, and a channel held here is touched once per window', async (t) => {
    const { a, calls } = cluster(t);
    const answers = await Promise.all(Array.from({ length: 10 }, () => a.touch(['t'])));
    assert.deepEqual(answers, Array(10).fill(true));
    assert.equal(calls.get('touch'), 1);
    for (let i = 0; i < 100; i++) assert.equal(await a.touch(['t']), true);
    // Each touch that goes out spares the next ones for a second: far fewer than 100 in any case.
    assert.ok((calls.get('touch') ?? 0) < 50, `touches: ${calls.get('touch')}`);
  });

  test('trimming to the buffer, a deletion and a hole in the sequence: the primary answers, as before', async (t) => {
    const { primary, a, b, one, calls } = cluster(t, 3);
    const sent: StoredMessage[] = [];
    for (let i = 1; i <= 6; i++) sent.push(await b.append('g', text(`g${i}`)));
    await waitFor(async () => (await a.read(['g'], sent[5]!.token, 10)).head === sent[5]!.token, 3000, 'worker A to hear g6');
    calls.clear();
    // Buffer 3: g4..g6 kept. From g3 on the cache answers; before, the primary tells of the gap.
    assert.deepEqual(view(await a.read(['g'], sent[2]!.token, 10)), view(await primary.store.read(['g'], sent[2]!.token, 10)));
    assert.equal(calls.get('read'), undefined);
    const behind = await a.read(['g'], sent[1]!.token, 10);
    assert.equal(behind.gap, true);
    assert.deepEqual(view(behind), view(await primary.store.read(['g'], sent[1]!.token, 10)));
    assert.equal(calls.get('read'), 1);

    // A deletion (by the other worker): what was heard before it is not answered from here again.
    const deleted = new Promise<void>((resolve) => a.watch({ message: () => undefined, deleted: () => resolve() }));
    assert.equal(await b.delete('g'), true);
    await deleted;
    assert.deepEqual(view(await a.read(['g'], sent[4]!.token, 10)), view(await primary.store.read(['g'], sent[4]!.token, 10)));
    assert.equal(calls.get('read'), 2);
    const again = [await b.append('g', text('g7')), await b.append('g', text('g8'))];
    await waitFor(async () => (await a.read(['g'], again[1]!.token, 10)).head === again[1]!.token, 3000, 'worker A to hear g8');
    calls.clear();
    // The run after the deletion starts at the last message heard before it (g6): every message after it is here.
    for (const position of [sent[5]!.token, again[0]!.token]) assert.deepEqual(view(await a.read(['g'], position, 10)), view(await primary.store.read(['g'], position, 10)));
    assert.equal(calls.get('read'), undefined);
    assert.deepEqual(view(await a.read(['g'], sent[4]!.token, 10)), view(await primary.store.read(['g'], sent[4]!.token, 10)));
    assert.equal(calls.get('read'), 1, 'g5 is before the deletion: the primary answers');

    // A message the worker never heard (its sequence number skipped): nothing cached stands.
    const [epoch, seq] = [again[1]!.token.slice(0, again[1]!.token.lastIndexOf('-')), Number(again[1]!.token.slice(again[1]!.token.lastIndexOf('-') + 1))];
    const forged = `${epoch}-${seq + 5}`;
    const told = heard(a, forged);
    one.worker.send({ hp: 'msg', message: { channel: 'x', token: forged, id: `1:${forged}`, time: Date.now(), contentType: 'text/plain', event: undefined, data: new Uint8Array([120]) } });
    await told;
    calls.clear();
    await a.read(['g'], again[0]!.token, 10);
    assert.equal(calls.get('read'), 1);
  });

  test("what the primary's byte budget drops is not answered from the cache", async (t) => {
    // Each message counts its body and 512 bytes: the primary holds the last three of all channels.
    const { primary, a, b, calls } = cluster(t, 10, 3 * (512 + 2));
    const sent: StoredMessage[] = [];
    for (const name of ['p1', 'q1', 'p2', 'q2', 'p3', 'q3']) sent.push(await b.append(name.slice(0, 1), text(name)));
    const [, q1, p2, , , q3] = sent as [StoredMessage, StoredMessage, StoredMessage, StoredMessage, StoredMessage, StoredMessage];
    await waitFor(async () => (await a.read(['q'], q3.token, 10)).head === q3.token, 3000, 'worker A to hear q3');
    assert.equal(primary.store.stats().evicted, 3);
    calls.clear();
    // p2 was dropped: a reader before it is told of the gap by the primary; one after it is answered here.
    const behind = await a.read(['p'], q1.token, 10);
    assert.deepEqual([behind.gap, behind.messages.map((m) => m.data.toString())], [true, ['p3']]);
    assert.deepEqual(view(behind), view(await primary.store.read(['p'], q1.token, 10)));
    assert.equal(calls.get('read'), 1);
    assert.deepEqual(view(await a.read(['p'], p2.token, 10)), view(await primary.store.read(['p'], p2.token, 10)));
    assert.equal(calls.get('read'), 1);
  });

  test('20 long-polling subscribers over two workers get every message of a stream, and re-poll without a read of the primary', { timeout: 60000 }, async (t) => {
    const subscribers = 20;
    const rounds = 150;
    const primary = createClusterPrimary({ buffer: 100, messageTtl: 600, maxChannels: 100 });
    const links = [linkPair(1), linkPair(2)];
    const calls = links.map(counted);
    for (const pair of links) primary.attach(pair.worker);
    const servers = await Promise.all(
      links.map((pair) =>
        startServer({
          log: 'off',
          holdTimeout: 30,
          store: (context) => createClusterStore({ link: pair.primary, isHeld: context.isHeld, buffer: context.buffer, messageTtl: context.messageTtl, bufferBudget: context.maxBufferBytes }),
        }),
      ),
    );
    const agents: Agent[] = [];
    t.after(async () => {
      for (const agent of agents) agent.destroy();
      for (const server of servers) await server.close();
      await primary.close();
    });
    const got: string[][] = Array.from({ length: subscribers }, () => []);
    const gaps: number[] = [];
    let stop = false;
    /** One subscriber: long-polls, and re-polls at once from the position it was given. */
    async function subscribe(index: number): Promise<void> {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      const url = `${servers[index % 2]!.url}/sub/stream`;
      let position: string | undefined;
      while (!stop && (got[index] as string[]).length < rounds) {
        const reply = await send(url, { agent, headers: position === undefined ? {} : { 'If-None-Match': position }, timeout: 30000 });
        if (reply.status !== 200) continue;
        if (reply.headers['x-holdpush-gap'] !== undefined) gaps.push(index);
        (got[index] as string[]).push(reply.text);
        position = reply.headers.etag as string;
      }
    }
    // Every subscriber is held before the first message: none misses it.
    const running = got.map((_, i) => subscribe(i));
    await waitFor(() => servers.every((server) => server.holdpush.stats().process.held.longpoll === subscribers / 2), 10000, 'every subscriber held');
    const publisher = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(publisher);
    try {
      for (let round = 1; round <= rounds; round++) {
        const reply = await send(`${servers[round % 2]!.url}/pub/stream`, { agent: publisher, method: 'POST', body: `m${round}`, headers: { 'Content-Type': 'text/plain' } });
        assert.ok(reply.status === 201 || reply.status === 202, `publish: ${reply.status}`);
        await waitFor(() => got.every((list) => list.length >= round), 10000, () => `round ${round}: ${got.map((list) => list.length).join(',')}`);
      }
      await Promise.all(running);
    } finally {
      stop = true;
    }
    const expected = Array.from({ length: rounds }, (_, i) => `m${i + 1}`);
    for (const list of got) assert.deepEqual(list, expected);
    assert.deepEqual(gaps, []);
    const deliveries = subscribers * rounds;
    const reads = calls.reduce((sum, map) => sum + (map.get('read') ?? 0), 0);
    const touches = calls.reduce((sum, map) => sum + (map.get('touch') ?? 0), 0);
    t.diagnostic(`${deliveries} deliveries: ${reads} reads, ${touches} touches of the primary; by worker ${calls.map((map) => JSON.stringify(Object.fromEntries(map))).join(' ')}`);
    // Only a subscriber's first polls (no position, or one before the cache's run) are read from the primary.
    assert.ok(reads <= 4 * subscribers, `reads of the primary: ${reads} for ${deliveries} deliveries`);
    // A touch goes out at most once a second per worker, or after a tick let go of the channel: not per delivery, nor per fan-out.
    assert.ok(touches < deliveries / 10, `touches of the primary: ${touches} for ${deliveries} deliveries`);
  });
});
