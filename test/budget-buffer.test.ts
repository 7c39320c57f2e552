/**
 * One budget for every buffered message (issue 20, items 1 and 4): `--max-buffer-bytes`.
 * The memory store drops the oldest messages of the whole store first when a publish would
 * pass it; readers behind them get a gap, readers keeping up lose nothing; a message larger
 * than the budget is 413; a message that left the store is not kept by it; and a server in a
 * process of its own, fed 80 MiB over 500 channels under an 8 MiB budget, keeps its buffer
 * and its RSS bounded.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { ConfigError, helpText, parseCli } from '../lib/cli/flags';
import { resolveOptions } from '../lib/options';
import { ENTRY_COST } from '../lib/stores/memory/budget';
import { createMemoryStore } from '../lib/stores/memory/store';
import type { MessageStore } from '../lib/stores/store';
import { type BudgetServer, MiB, SseReader, mib, publisher, startBudgetServer } from './support/budget';
import { request, startServer, until } from './support/http';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function text(bytes: number, label: string): { data: Buffer; contentType: string } {
  return { data: Buffer.alloc(bytes, label), contentType: 'text/plain' };
}

function store(overrides: Partial<Parameters<typeof createMemoryStore>[0]> = {}): MessageStore {
  return createMemoryStore({ buffer: 100, messageTtl: 3600, maxChannels: 100, isHeld: () => false, ...overrides });
}

describe('the budget in the memory store', () => {
  test('a publish that would pass it drops the oldest messages of any channel; readers behind get a gap', async () => {
    const s = store({ maxBufferBytes: 3 * (1000 + ENTRY_COST) });
    try {
      const start = await s.head();
      const a1 = await s.append('a', text(1000, 'a'));
      await s.append('b', text(1000, 'b'));
      const c1 = await s.append('c', text(1000, 'c'));
      assert.deepEqual(s.stats(), { channels: 3, bufferBytes: 3000, expired: 0, evicted: 0 });
      // a2 needs room: a1 goes (the oldest of the store), not b's or c's.
      const a2 = await s.append('a', text(1000, 'a'));
      assert.deepEqual(s.stats(), { channels: 3, bufferBytes: 3000, expired: 0, evicted: 1 });
      // c2 needs room: b1 goes now, and b with it (empty, nobody holds it).
      const c2 = await s.append('c', text(1000, 'c'));
      assert.deepEqual(s.stats(), { channels: 2, bufferBytes: 3000, expired: 0, evicted: 2 });

      const behindA = await s.read(['a'], start, 10);
      assert.deepEqual([behindA.gap, behindA.messages.map((m) => m.token)], [true, [a2.token]]);
      assert.equal((await s.read(['b'], start, 10)).gap, true, 'b was dropped whole');
      const aheadA = await s.read(['a'], a1.token, 10);
      assert.deepEqual([aheadA.gap, aheadA.messages.map((m) => m.token)], [false, [a2.token]]);
      const aheadC = await s.read(['c'], c1.token, 10);
      assert.deepEqual([aheadC.gap, aheadC.messages.map((m) => m.token)], [false, [c2.token]]);

      // Many small messages are bounded too: each costs its body and ENTRY_COST.
      for (let i = 0; i < 100; i++) await s.append(`small-${i % 7}`, text(10, 's'));
      const { bufferBytes } = s.stats();
      assert.equal(bufferBytes, 10 * Math.floor((3 * (1000 + ENTRY_COST)) / (10 + ENTRY_COST)));
      await assert.rejects(s.append('a', text(3 * (1000 + ENTRY_COST) + 1, 'x')), RangeError);
    } finally {
      await s.close();
    }
  });

  test('a message that leaves the store is no longer referenced by it: trimmed, evicted, expired or deleted', async () => {
    const refs: { why: string; ref: WeakRef<Buffer> }[] = [];
    const kept: WeakRef<Buffer>[] = [];
    // Built in their own function, so that no variable of the test holds a body.
    async function put(s: MessageStore, channel: string, why: string | null): Promise<void> {
      const data = Buffer.alloc(4096, channel);
      if (why === null) kept.push(new WeakRef(data));
      else refs.push({ why, ref: new WeakRef(data) });
      await s.append(channel, { data, contentType: 'text/plain' });
    }
    const budget = 6 * (4096 + ENTRY_COST);
    const s = store({ buffer: 2, maxBufferBytes: budget });
    const short = store({ messageTtl: 0.05 });
    try {
      await put(s, 'old', 'evicted by the budget');
      await put(s, 'trim', 'trimmed by --buffer');
      await put(s, 'trim', null);
      await put(s, 'trim', null);
      await put(s, 'gone', 'deleted with its channel');
      assert.equal(await s.delete('gone'), true);
      // Six held now would be old, trim, trim, new-0..2: new-3 needs the room of the oldest.
      for (let i = 0; i < 4; i++) await put(s, `new-${i}`, null);
      assert.equal(s.stats().evicted, 2, 'one trimmed, one evicted by the budget');
      await put(short, 'ttl', 'expired');
      await until(() => short.stats().expired === 1, 5000, 'the message to expire');
      // WeakRefs let go only once the current job is over.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      for (const { why, ref } of refs) assert.equal(ref.deref(), undefined, `a message ${why} is still referenced`);
      assert.ok(kept.length === 6 && kept.every((ref) => ref.deref() !== undefined), 'held messages are still there');
    } finally {
      await s.close();
      await short.close();
    }
  });

  test('a message larger than the whole budget: 413 naming --max-buffer-bytes, RangeError from publish()', async () => {
    const server = await startServer({ maxBufferBytes: 64 * 1024, maxMessage: 1024 * 1024 });
    try {
      const tooLarge = await request(`${server.url}/pub/big`, { method: 'POST', body: Buffer.alloc(64 * 1024 + 1, 'x') });
      assert.equal(tooLarge.status, 413);
      assert.deepEqual(tooLarge.json(), { error: 'payload_too_large', message: `a message may be at most ${64 * 1024} bytes (--max-buffer-bytes)` });
      const fits = await request(`${server.url}/pub/big`, { method: 'POST', body: Buffer.alloc(64 * 1024, 'x') });
      assert.equal(fits.status, 202);
      await assert.rejects(server.holdpush.publish('big', Buffer.alloc(64 * 1024 + 1)), /at most 65536 bytes \(maxBufferBytes\)/);
    } finally {
      await server.close();
    }
  });

  test('--max-buffer-bytes and --max-pending-bytes: flags, environment twins, defaults, bad values', () => {
    const parsed = parseCli(['--max-buffer-bytes', '8388608', '--max-pending-bytes=4194304'], { HOLDPUSH_MAX_BUFFER_BYTES: '1' });
    assert.equal(parsed.print, undefined);
    const config = (parsed as Extract<typeof parsed, { print: undefined }>).config;
    assert.deepEqual([config.maxBufferBytes, config.maxPendingBytes], [8 * MiB, 4 * MiB]);
    const twins = parseCli([], { HOLDPUSH_MAX_BUFFER_BYTES: '1000', HOLDPUSH_MAX_PENDING_BYTES: '2000' }) as Extract<ReturnType<typeof parseCli>, { print: undefined }>;
    assert.deepEqual([twins.config.maxBufferBytes, twins.config.maxPendingBytes], [1000, 2000]);
    const defaults = resolveOptions();
    assert.deepEqual([defaults.maxBufferBytes, defaults.maxPendingBytes], [256 * MiB, 256 * MiB]);
    for (const bad of ['8MB', '0', '-1', '1.5']) assert.throws(() => parseCli(['--max-pending-bytes', bad], {}), ConfigError, bad);
    assert.throws(() => resolveOptions({ maxBufferBytes: 0 }), /maxBufferBytes must be a positive integer/);
    assert.throws(() => resolveOptions({ maxPendingBytes: Number.NaN }), /maxPendingBytes must be a positive integer/);
    assert.match(helpText(), /--max-buffer-bytes .*\(default: 268435456\)/);
    assert.match(helpText(), /--max-pending-bytes .*\(default: 268435456\)/);
  });
});

const BUDGET = 8 * MiB;
const TOTAL = 80 * MiB;
const CHANNELS = 500;
const MESSAGE = 32 * 1024;
/** Publishes in flight together; the buffer and the RSS are checked after each batch. */
const BATCH = 64;
/** What the RSS may grow past its idle figure besides the budget (V8's heaps, garbage not yet collected). */
const RSS_SLACK = 64 * MiB;

describe('a server in its own process, --max-buffer-bytes 8 MiB: 80 MiB over 500 channels', () => {
  let server: BudgetServer;
  before(async () => {
    server = await startBudgetServer({ maxBufferBytes: BUDGET, maxMessage: 10 * MiB });
  });
  after(async () => {
    await server.stop();
  });

  test('bufferBytes never passes the budget, RSS stays bounded, readers behind get a gap and readers keeping up get everything', { timeout: 120_000 }, async () => {
    await server.stats();
    const idle = server.rss();
    const pub = publisher(server.url);
    const readers: SseReader[] = [];
    let sampler: NodeJS.Timeout | undefined;
    try {
      const first = await pub.publish('ch-0', Buffer.alloc(MESSAGE, 'f'));
      assert.equal(first.status, 202);
      // Readers that keep up: one channel, and sixteen on one stream.
      const one = new SseReader(`${server.url}/sub/ch-1`);
      const many = new SseReader(`${server.url}/sub/${Array.from({ length: 16 }, (_, i) => `ch-${i + 2}`).join(',')}`);
      readers.push(one, many);
      await until(() => one.answered && many.answered, 5000, 'the readers to be answered');
      const expectedZero = [first.id as string];
      const expectedOne: string[] = [];
      const expectedMany: string[] = [];

      let maxRss = server.rss();
      sampler = setInterval(() => {
        maxRss = Math.max(maxRss, server.rss());
      }, 100);
      let maxBuffer = 0;
      const count = TOTAL / MESSAGE;
      for (let start = 0; start < count; start += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, count - start) }, (_, k) => start + k);
        const replies = await Promise.all(batch.map((i) => pub.publish(`ch-${i % CHANNELS}`, Buffer.alloc(MESSAGE, String(i % 10)))));
        for (const [k, reply] of replies.entries()) {
          assert.ok(reply.status === 201 || reply.status === 202, `publish ${(batch[k] as number)}: ${reply.status} ${reply.text}`);
          const channel = (batch[k] as number) % CHANNELS;
          if (channel === 0) expectedZero.push(reply.id as string);
          else if (channel === 1) expectedOne.push(reply.id as string);
          else if (channel >= 2 && channel < 18) expectedMany.push(reply.id as string);
        }
        const stats = await server.stats();
        maxBuffer = Math.max(maxBuffer, stats.bufferBytes);
        assert.ok(stats.bufferBytes <= BUDGET, `bufferBytes ${stats.bufferBytes} passed the budget after ${start + batch.length} messages`);
        maxRss = Math.max(maxRss, server.rss());
        assert.ok(maxRss < idle + BUDGET + RSS_SLACK, `RSS ${mib(maxRss)} MiB passed idle ${mib(idle)} + 8 + 64 MiB after ${mib((start + batch.length) * MESSAGE)} MiB published`);
      }
      clearInterval(sampler);
      sampler = undefined;
      const stats = await server.stats();
      assert.ok(stats.messages.evicted >= count - BUDGET / MESSAGE, `evicted ${stats.messages.evicted}`);

      // Readers that kept up got every message of their channels, in order, and no gap.
      await until(() => one.ids.length >= expectedOne.length && many.ids.length >= expectedMany.length, 10_000, 'the readers to catch up');
      assert.deepEqual(one.ids, expectedOne);
      assert.deepEqual(many.ids.slice().sort(), expectedMany.slice().sort());
      assert.deepEqual([one.gaps, many.gaps, one.cutByServer, many.cutByServer], [0, 0, false, false]);

      // A reader behind the dropped messages gets a gap: a stream, and a batch long-poll.
      const latest = await pub.publish('ch-0', 'latest');
      const behind = new SseReader(`${server.url}/sub/ch-0`, { 'Last-Event-ID': first.id as string });
      readers.push(behind);
      await until(() => behind.ids.includes(latest.id as string), 5000, 'the reader behind to get the latest');
      // It gets a gap, then what is still held of its channel: the newest few, the latest last.
      expectedZero.push(latest.id as string);
      assert.equal(behind.gaps, 1);
      assert.ok(behind.ids.length < expectedZero.length - 1, `${behind.ids.length} of ${expectedZero.length} still held`);
      assert.deepEqual(behind.ids, expectedZero.slice(-behind.ids.length));
      const batch = await request(`${server.url}/sub/ch-0?last_event_id=${encodeURIComponent(first.id as string)}`, { headers: { Accept: 'application/json' } });
      const answer = batch.json() as { messages: { id: string; data: string }[]; gap: boolean };
      assert.deepEqual([answer.gap, answer.messages.map((m) => m.id)], [true, behind.ids]);

      // A message larger than the whole budget: 413 at its declared length (--max-message is 10 MiB here).
      const big = await request(`${server.url}/pub/big`, { method: 'POST', headers: { 'Content-Length': 9 * MiB } });
      assert.equal(big.status, 413);
      assert.equal((big.json() as { error: string }).error, 'payload_too_large');

      process.stdout.write(`buffer budget: ${mib(TOTAL)} MiB over ${CHANNELS} channels under ${mib(BUDGET)} MiB: bufferBytes max ${mib(maxBuffer)} MiB, evicted ${stats.messages.evicted}, RSS idle ${mib(idle)} MiB, max ${mib(maxRss)} MiB (bound ${mib(idle + BUDGET + RSS_SLACK)} MiB)\n`);
    } finally {
      if (sampler !== undefined) clearInterval(sampler);
      for (const reader of readers) reader.close();
      pub.close();
    }
  });
});
