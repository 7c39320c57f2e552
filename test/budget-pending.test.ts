/**
 * One budget for unsent bytes (issue 20, item 2): `--max-pending-bytes`. The readers with the
 * most unsent bytes are cut first. Then a server in a process of its own with a 4 MiB budget,
 * 200 EventSource readers that never read, and a publisher of about 1 MiB/s: the process's RSS
 * stays bounded; a reader that reads is never cut and loses nothing; a cut reader comes back
 * with its Last-Event-ID and gets everything still buffered.
 *
 * On loopback the kernel takes about 4 MiB of a reader's stream before any stays unsent in the
 * process, so the stuck readers pass the budget after about 4 s, all of them within a second
 * after. The issue asks for 20 s of publishing; 10 s (HOLDPUSH_BUDGET_SECONDS sets it, up to
 * 300) covers that and some steady state after, and keeps the file well under 30 s.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createHoldpushServer } from '../lib/http/http-server';
import { type BudgetServer, MiB, SseReader, mib, publisher, startBudgetServer } from './support/budget';
import { startServer, until } from './support/http';

const BUDGET = 4 * MiB;
const SECONDS = Math.min(300, Number(process.env.HOLDPUSH_BUDGET_SECONDS ?? 10));
const TICK_MS = 50;
const TICKS = (SECONDS * 1000) / TICK_MS;
/** 20 a second: about 1 MiB/s. */
const MESSAGE = 52 * 1024;
const STUCK = 200;
const RSS_SLACK = 64 * MiB;

test('past the budget, the connection with the most unsent bytes is cut first, and only as many as needed', async () => {
  const server = await startServer({ maxPendingBytes: 4 * MiB, maxMessage: MiB });
  const readers = ['a', 'b', 'c'].map((channel) => new SseReader(`${server.url}/sub/${channel}`, {}, true));
  /** Lets the writes reach the kernel and a pending decision run. */
  const turn = () => new Promise((resolve) => setTimeout(resolve, 5));
  /** Publishes 64 KiB at a time to `channel` until `done` (or 20 MiB, which no loopback socket takes). */
  async function feed(channel: string, done: () => boolean): Promise<void> {
    for (let i = 0; i < 320 && !done(); i++) {
      await server.holdpush.publish(channel, Buffer.alloc(64 * 1024, channel));
      await turn();
    }
    assert.ok(done(), `feeding ${channel} never got there`);
  }
  try {
    await until(() => server.holdpush.stats().held.stream === 3, 5000, 'three streams');
    const pending = () => server.holdpush.stats().pendingBytes;
    const cut = () => server.holdpush.stats().cut.pendingBudget;
    // a first (the oldest tracked), with the least; then b, with the most; then c, which passes the budget.
    await feed('a', () => pending() >= 0.5 * MiB);
    const a = pending();
    await feed('b', () => pending() >= a + 2.5 * MiB);
    await feed('c', () => cut() > 0);
    assert.equal(cut(), 1, 'one cut was enough');
    assert.equal(server.holdpush.stats().cut.slowReader, 0);
    const delivered = await Promise.all(['a', 'b', 'c'].map(async (channel) => (await server.holdpush.publish(channel, 'x')).delivered));
    assert.deepEqual(delivered, [1, 0, 1], 'b, the fattest, was cut; a (the oldest) and c (the newest) were not');
  } finally {
    for (const reader of readers) reader.close();
    await server.close();
  }
});

test('a stream replays a backlog far over the budget at the pace its reader takes it: never cut, nothing lost', async () => {
  const server = await startServer({ maxPendingBytes: MiB, maxMessage: 64 * 1024 });
  const ids: string[] = [];
  for (let i = 0; i < 320; i++) ids.push((await server.holdpush.publish('backlog', Buffer.alloc(64 * 1024, String(i % 10)))).id);
  const reader = new SseReader(`${server.url}/sub/backlog`);
  try {
    await until(() => reader.ids.length >= ids.length || reader.cutByServer, 20_000, 'the replay');
    assert.deepEqual(reader.ids, ids, '20 MiB replayed, in order');
    assert.deepEqual(server.holdpush.stats().cut, { pendingBudget: 0, slowReader: 0 });
    assert.equal(reader.cutByServer, false);
  } finally {
    reader.close();
    await server.close();
  }
});

test('a replay whose unsent messages leave the buffer while its reader is stopped ends, and the reader is told of the gap when it comes back', async () => {
  const server = await startServer({ maxBufferBytes: 16 * MiB });
  const chunk = () => Buffer.alloc(64 * 1024, 'g');
  for (let i = 0; i < 240; i++) await server.holdpush.publish('gap', chunk());
  const stopped = new SseReader(`${server.url}/sub/gap`, {}, true);
  let back: SseReader | undefined;
  try {
    // The kernel takes a few MiB of the 15 MiB backlog; the rest waits for the reader.
    await until(() => server.holdpush.stats().pendingBytes > 0, 10_000, 'the replay to wait for its reader');
    // 16 MiB more: every message the reader has not been sent leaves the buffer.
    for (let i = 0; i < 256; i++) await server.holdpush.publish('gap', chunk());
    stopped.resume();
    await until(() => stopped.cutByServer, 10_000, 'the replay to end');
    assert.ok(stopped.ids.length > 0 && stopped.ids.length < 240, `${stopped.ids.length} replayed before the end`);
    assert.equal(stopped.gaps, 0);
    back = new SseReader(`${server.url}/sub/gap`, { 'Last-Event-ID': stopped.ids[stopped.ids.length - 1] as string });
    await until(() => back !== undefined && back.gaps === 1 && back.ids.length > 0, 10_000, 'the gap on coming back');
  } finally {
    stopped.close();
    back?.close();
    await server.close();
  }
});

test('close() ends a replay that waits for a reader that stopped reading', async () => {
  const { server, holdpush } = createHoldpushServer({ log: 'off' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (let i = 0; i < 160; i++) await holdpush.publish('backlog', Buffer.alloc(64 * 1024, 'b'));
  const reader = new SseReader(`${url}/sub/backlog`, {}, true);
  const connections = () => new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count)));
  try {
    // The kernel is full and the rest of the replay waits: the connection has bytes unsent.
    await until(() => holdpush.stats().pendingBytes > 0, 10_000, 'the replay to wait for its reader');
    await holdpush.close();
    await until(async () => (await connections()) === 0, 2000, 'the waiting replay to be ended');
    assert.equal(await connections(), 0, 'the waiting replay was not ended');
  } finally {
    reader.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

let server: BudgetServer;

before(async () => {
  server = await startBudgetServer({ maxPendingBytes: BUDGET });
});

after(async () => {
  await server.stop();
});

test(`--max-pending-bytes 4 MiB: ${STUCK} stuck readers, ~1 MiB/s for ${SECONDS} s`, { timeout: 60_000 + SECONDS * 2000 }, async () => {
  await server.stats();
  const idle = server.rss();
  const pub = publisher(server.url, 2);
  const readers: SseReader[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    const ids = [(await pub.publish('feed', 'start')).id as string];
    const reading = new SseReader(`${server.url}/sub/feed`);
    const stuck = Array.from({ length: STUCK }, () => new SseReader(`${server.url}/sub/feed`, {}, true));
    readers.push(reading, ...stuck);
    await until(() => readers.every((reader) => reader.answered && reader.localPort > 0), 10_000, 'every reader to be answered');
    await until(() => readers.every((reader) => reader.status === 200), 1000, 'every reader to get 200');
    const stuckPorts = new Set(stuck.map((reader) => reader.localPort));

    let maxRss = server.rss();
    sampler = setInterval(() => {
      maxRss = Math.max(maxRss, server.rss());
    }, 100);
    let maxPending = 0;
    let published = 0;

    // One stuck reader is followed: once cut, it reads what reached it and
    // comes back with the last id it got.
    const followed = stuck[0] as SseReader;
    let back: { reader: SseReader; after: string | undefined } | undefined;
    let comingBack: Promise<void> | undefined;
    async function comeBack(): Promise<void> {
      followed.resume();
      await until(() => followed.cutByServer, 10_000, 'the cut reader to read to the end');
      const last = followed.ids[followed.ids.length - 1];
      const reader = new SseReader(`${server.url}/sub/feed`, last === undefined ? {} : { 'Last-Event-ID': last });
      readers.push(reader);
      back = { reader, after: last };
    }

    const started = Date.now();
    for (let tick = 0; tick < TICKS; tick++) {
      const sent = await pub.publish('feed', Buffer.alloc(MESSAGE, String(tick % 10)));
      assert.ok(sent.id !== undefined, `tick ${tick}: ${sent.status} ${sent.text}`);
      ids.push(sent.id);
      published += MESSAGE;
      if (tick % 10 === 9) {
        const stats = await server.stats();
        maxPending = Math.max(maxPending, stats.pendingBytes);
        if (comingBack === undefined && (await server.closed()).includes(followed.localPort)) comingBack = comeBack();
      }
      const wait = started + (tick + 1) * TICK_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    clearInterval(sampler);
    sampler = undefined;
    assert.ok(comingBack !== undefined, 'the followed reader was never cut');
    await comingBack;
    const returned = back as NonNullable<typeof back>;

    // The reader that reads got every message, no gap, and was never cut.
    await until(() => reading.ids.length >= ids.length, 10_000, 'the reading reader to get every message');
    assert.deepEqual(reading.ids, ids);
    assert.deepEqual([reading.gaps, reading.cutByServer], [0, false]);

    // The reader that came back got everything after its last id, all still buffered.
    const expected = returned.after === undefined ? ids : ids.slice(ids.indexOf(returned.after) + 1);
    assert.ok(returned.after === undefined || ids.includes(returned.after), `it came back with ${returned.after}`);
    await until(() => returned.reader.ids.length >= expected.length, 10_000, 'the returning reader to catch up');
    assert.deepEqual(returned.reader.ids, expected);
    assert.deepEqual([returned.reader.gaps, returned.reader.cutByServer], [0, false]);

    // Every stuck reader was cut; the reading one was not.
    const closed = await server.closed();
    const cutStuck = closed.filter((port) => stuckPorts.has(port));
    assert.equal(cutStuck.length, STUCK, `${cutStuck.length} of the ${STUCK} stuck readers were cut`);
    assert.ok(!closed.includes(reading.localPort), 'the reading reader was cut');

    const stats = await server.stats();
    maxPending = Math.max(maxPending, stats.pendingBytes);
    assert.ok(maxPending <= BUDGET, `pendingBytes reached ${maxPending}`);
    // Equal readers: the last few reach the per-stream bound (1 MiB) as they fit the budget together.
    assert.ok(stats.cut.pendingBudget >= STUCK - BUDGET / MiB, `only ${stats.cut.pendingBudget} cut by the budget`);
    assert.equal(stats.cut.pendingBudget + stats.cut.slowReader, STUCK, 'every stuck reader was cut by a rule');
    // The stuck readers share each message's bytes (one string written to every stream), so
    // RSS grows less than the unsent bytes do: without the budget, pendingBytes passes 140 MB.
    const bound = idle + BUDGET + published + RSS_SLACK;
    assert.ok(maxRss < bound, `RSS ${mib(maxRss)} MiB passed ${mib(bound)} MiB`);
    process.stdout.write(
      `pending budget: ${mib(published)} MiB published in ${SECONDS} s to ${STUCK} stuck readers: cut ${stats.cut.pendingBudget} by the budget, ${stats.cut.slowReader} by the per-stream bound; ` +
        `pendingBytes max ${mib(maxPending)} MiB; RSS idle ${mib(idle)} MiB, max ${mib(maxRss)} MiB (bound ${mib(bound)} MiB); the cut reader came back after ${returned.after === undefined ? 'no message' : `${ids.indexOf(returned.after)} messages`} and got ${returned.reader.ids.length} more\n`,
    );
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
    for (const reader of readers) reader.close();
    pub.close();
  }
});
