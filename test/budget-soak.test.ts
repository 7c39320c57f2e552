/**
 * Soak under both memory budgets (issue 20): a server in its own process with
 * `--max-buffer-bytes 16 MiB` and `--max-pending-bytes 8 MiB`, a heavy publisher (about
 * 8 MiB/s over 50 channels from four connections), EventSource readers that read, batch
 * long-pollers, and readers that never read, replaced as they go (some coming back from old
 * positions, so that replays and gaps are part of it). RSS, sampled every second, stays under
 * the two budgets plus slack; the buffer stays within its budget; the process never fails;
 * the readers that read get every message of their channels, in order.
 *
 * The issue allows up to 5 minutes; `npm test` runs 20 s (HOLDPUSH_SOAK_SECONDS sets it, up to 300).
 */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { type BudgetServer, MiB, SseReader, mib, publisher, startBudgetServer } from './support/budget';
import { request, until } from './support/http';

const SECONDS = Math.min(300, Number(process.env.HOLDPUSH_SOAK_SECONDS ?? 20));
const BUFFER_BUDGET = 16 * MiB;
const PENDING_BUDGET = 8 * MiB;
const CHANNELS = 50;
const MESSAGE = 32 * 1024;
/** Publishes a second, over PUBLISHERS connections: about 8 MiB/s. */
const RATE = 256;
const PUBLISHERS = 4;
const READING = 10;
const POLLERS = 10;
const STUCK = 60;
/** Stuck readers replaced each second. */
const CHURN = 10;
/**
 * What RSS may hold beyond its idle figure and the two budgets: V8 collects garbage late, and
 * with about 8 MiB/s of messages passing through (each read from a request, encoded, written
 * to many connections) its heap swings by tens of MiB between collections. Without the
 * budgets the buffer alone would hold everything published (about 160 MiB in 20 s).
 */
const RSS_SLACK = 128 * MiB;

let server: BudgetServer;

before(async () => {
  // A short hold timeout, so that the long-pollers come back at once when the publishers stop.
  server = await startBudgetServer({ maxBufferBytes: BUFFER_BUDGET, maxPendingBytes: PENDING_BUDGET, holdTimeout: 2 });
});

after(async () => {
  await server.stop();
});

/** The channels a reader listens to: five in a row from `first`. */
function channelsFrom(first: number): string[] {
  return Array.from({ length: 5 }, (_, i) => `soak-${(first + i) % CHANNELS}`);
}

function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

/** One batch long-poll (JSON) from `position`; resolves with its status and the next position. */
function poll(agent: Agent, channels: string[], position: string | undefined): Promise<{ status: number; last: string | undefined }> {
  const query = position === undefined ? '' : `?last_event_id=${encodeURIComponent(position)}`;
  return new Promise((resolve) => {
    const req = httpRequest(`${server.url}/sub/${channels.join(',')}${query}`, { agent, headers: { Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const last = status === 200 ? (JSON.parse(Buffer.concat(chunks).toString()) as { last: string }).last : (res.headers.etag ?? position);
        resolve({ status, last });
      });
      res.on('error', () => resolve({ status: -1, last: position }));
    });
    req.on('error', () => resolve({ status: -1, last: position }));
    req.end();
  });
}

test(`soak: ${SECONDS} s of ~8 MiB/s with ${READING} reading, ${POLLERS} polling and ${STUCK} stuck readers (${CHURN} replaced a second)`, { timeout: 60_000 + SECONDS * 2000 }, async () => {
  await server.stats();
  const idle = server.rss();
  const bound = idle + BUFFER_BUDGET + PENDING_BUDGET + RSS_SLACK;
  const pub = publisher(server.url, PUBLISHERS);
  const pollAgent = new Agent({ keepAlive: true, maxSockets: POLLERS });
  const reading = Array.from({ length: READING }, (_, k) => new SseReader(`${server.url}/sub/${channelsFrom(k * 5).join(',')}`));
  let stuck: SseReader[] = [];
  const everyStuck: SseReader[] = [];
  const ids = new Map<string, string[]>();
  const samples: number[] = [];
  const failures: string[] = [];
  let pollStatuses = new Map<number, number>();
  let maxBuffer = 0;
  let maxPending = 0;
  let published = 0;
  let stopping = false;

  function openStuck(count: number): void {
    for (let i = 0; i < count; i++) {
      const n = everyStuck.length;
      // Every third comes back from the first message it could have seen: a replay behind a gap.
      const first = ids.get(`soak-${n % CHANNELS}`)?.[0];
      const reader = new SseReader(`${server.url}/sub/${channelsFrom(n).join(',')}`, n % 3 === 0 && first !== undefined ? { 'Last-Event-ID': first } : {}, true);
      stuck.push(reader);
      everyStuck.push(reader);
    }
  }

  async function publishing(lane: number): Promise<void> {
    const started = Date.now();
    for (let i = 0; !stopping; i++) {
      const channel = `soak-${(i * PUBLISHERS + lane) % CHANNELS}`;
      const sent = await pub.publish(channel, Buffer.alloc(MESSAGE, String(i % 10)));
      if (sent.id === undefined) failures.push(`publish to ${channel}: ${sent.status} ${sent.text.slice(0, 200)}`);
      else {
        const list = ids.get(channel) ?? [];
        list.push(sent.id);
        ids.set(channel, list);
        published += MESSAGE;
      }
      const wait = started + ((i + 1) * 1000 * PUBLISHERS) / RATE - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async function polling(k: number): Promise<void> {
    let position: string | undefined;
    while (!stopping) {
      const answer = await poll(pollAgent, channelsFrom(k * 5 + 2), position);
      pollStatuses.set(answer.status, (pollStatuses.get(answer.status) ?? 0) + 1);
      position = answer.last;
    }
  }

  try {
    await until(() => reading.every((reader) => reader.answered), 10_000, 'the reading readers to be answered');
    openStuck(STUCK);
    const lanes = [...Array.from({ length: PUBLISHERS }, (_, lane) => publishing(lane)), ...Array.from({ length: POLLERS }, (_, k) => polling(k))];
    for (let second = 0; second < SECONDS; second++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.ok(server.alive(), `the server exited after ${second} s`);
      samples.push(server.rss());
      const stats = await server.stats();
      maxBuffer = Math.max(maxBuffer, stats.bufferBytes);
      maxPending = Math.max(maxPending, stats.pendingBytes);
      // Replace some stuck readers, cut or not.
      for (const reader of stuck.splice(0, CHURN)) reader.close();
      openStuck(CHURN);
    }
    stopping = true;
    await Promise.all(lanes);
    pollStatuses = new Map([...pollStatuses].sort());

    assert.deepEqual(failures, []);
    const health = await request(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const maxRss = Math.max(...samples);
    assert.ok(maxRss < bound, `RSS ${mib(maxRss)} MiB passed ${mib(bound)} MiB (samples ${samples.map(mib).join(', ')})`);
    assert.ok(maxBuffer <= BUFFER_BUDGET, `bufferBytes reached ${maxBuffer}`);
    // A /stats answer may come between a fan-out and its cut decision (the next turn of the
    // event loop): within one fan-out to every stuck reader of the budget.
    assert.ok(maxPending <= PENDING_BUDGET + STUCK * MESSAGE, `pendingBytes reached ${maxPending}`);
    assert.ok([...pollStatuses.keys()].every((status) => status === 200 || status === 204), `long-poll answers: ${JSON.stringify([...pollStatuses])}`);

    // The readers that read got every message of their channels, in order, without a gap.
    for (const [k, reader] of reading.entries()) {
      const expected = channelsFrom(k * 5).flatMap((channel) => ids.get(channel) ?? []).sort((a, b) => seqOf(a) - seqOf(b));
      await until(() => reader.ids.length >= expected.length || reader.cutByServer, 15_000, `reading reader ${k} to catch up`);
      assert.deepEqual([reader.gaps, reader.cutByServer], [0, false], `reading reader ${k}`);
      assert.deepEqual(reader.ids, expected, `reading reader ${k} lost or reordered messages`);
    }
    const stats = await server.stats();
    process.stdout.write(
      `budget soak: ${SECONDS} s, ${mib(published)} MiB published, ${everyStuck.length} stuck readers over the run; cut ${stats.cut.pendingBudget} by the pending budget, ${stats.cut.slowReader} by the per-stream bound; ` +
        `evicted ${stats.messages.evicted}; bufferBytes max ${mib(maxBuffer)} MiB, pendingBytes max ${mib(maxPending)} MiB; RSS idle ${mib(idle)} MiB, max ${mib(maxRss)} MiB (bound ${mib(bound)} MiB); long-polls ${JSON.stringify([...pollStatuses])}\n`,
    );
  } finally {
    stopping = true;
    for (const reader of [...reading, ...everyStuck]) reader.close();
    pollAgent.destroy();
    pub.close();
  }
});
