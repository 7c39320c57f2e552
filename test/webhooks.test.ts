// Occupancy events and their webhook in one process: the pure parts, then real deliveries to real receivers.
import assert from 'node:assert/strict';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { describe, mock, test } from 'node:test';
import { type OccupancyEvent, OccupancyState } from '../lib/presence/occupancy';
import { BATCH_EVENTS, createBatcher } from '../lib/webhooks/batcher';
import { createPoster } from '../lib/webhooks/post';
import { nextTry, retrySchedule } from '../lib/webhooks/schedule';
import { signature } from '../lib/webhooks/sign';
import { runCli } from './support/servers';
import { type Running, request, startServer, until } from './support/http';

const SECRET = 'a-secret-of-some-length';
const T = { timeout: 20_000 };

interface Delivery {
  id: string;
  events: OccupancyEvent[];
}

interface Receiver {
  url: string;
  online(): string[];
  close(): Promise<void>;
}

const receiverExample = require(join(__dirname, '..', 'examples', 'webhook-receiver.js')) as {
  start(port: number, options: { secret: string; onDelivery(delivery: Delivery): void }): Promise<Receiver>;
  signedBy(secret: string, body: Buffer, header: string | undefined): boolean;
};

/** The example receiver (Express), recording every delivery it accepted. */
async function startReceiver(): Promise<Receiver & { deliveries: Delivery[]; events(): string[] }> {
  const deliveries: Delivery[] = [];
  const receiver = await receiverExample.start(0, { secret: SECRET, onDelivery: (delivery) => deliveries.push(delivery) });
  return { ...receiver, deliveries, events: () => deliveries.flatMap((d) => d.events.map((e) => `${e.type} ${e.channel}`)) };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

describe('the pure parts', () => {
  test('the retry schedule: 1, 2, 4 ... at most 60 s apart, given up 5 minutes after the first try', () => {
    const schedule = retrySchedule();
    const waits: number[] = [];
    let now = 0;
    for (let failures = 1; ; failures++) {
      const wait = nextTry(schedule, failures, 0, now);
      if (wait === undefined) break;
      waits.push(wait / 1000);
      now += wait;
    }
    assert.deepEqual(waits.slice(0, 8), [1, 2, 4, 8, 16, 32, 60, 60]);
    assert.ok(now <= 300_000 && now + 60_000 > 300_000, `the last try comes within the last minute of the five: ${now}`);
    assert.deepEqual(retrySchedule(0.5), { first: 0.5, longest: 30, giveUp: 150 });
  });

  test('the signature is the hex HMAC-SHA256 of the exact body, and the example receiver checks it', () => {
    // RFC 4231-style known answer: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    assert.equal(signature('key', 'The quick brown fox jumps over the lazy dog'), 'sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
    const body = '{"id":"x","events":[]}';
    assert.ok(receiverExample.signedBy('key', Buffer.from(body), signature('key', body)));
    assert.ok(!receiverExample.signedBy('key', Buffer.from(`${body} `), signature('key', body)));
    assert.ok(!receiverExample.signedBy('other', Buffer.from(body), signature('key', body)));
    assert.ok(!receiverExample.signedBy('key', Buffer.from(body), undefined));
  });

  test('occupancy alternates, and a vacancy shorter than the delay is none', () => {
    const state = new OccupancyState(1000);
    assert.deepEqual(state.update('a', 1, 0), { type: 'channel.occupied', channel: 'a', time: 0 });
    assert.equal(state.update('a', 3, 10), undefined);
    assert.equal(state.update('a', 0, 100), undefined);
    assert.deepEqual(state.due(900), []);
    assert.equal(state.update('a', 1, 950), undefined, 'back within the delay: still occupied, no event');
    assert.equal(state.update('a', 0, 1000), undefined);
    assert.deepEqual(state.due(1999), []);
    assert.deepEqual(state.due(2000), [{ type: 'channel.vacated', channel: 'a', time: 2000 }]);
    assert.deepEqual(state.due(5000), []);
    assert.equal(state.update('a', 0, 5000), undefined, 'a vacated channel is not vacated twice');
    assert.equal(state.update('uid:*', 1, 0), undefined, 'every seed subscriber holds uid:*: nobody in particular');
    state.load(['b']);
    assert.equal(state.update('b', 2, 0), undefined, 'announced before: not occupied twice');
  });

  test('deliveries carry up to 100 events and leave within a second of the first', (t) => {
    // Node 20.11 took an options object where 18.19 took a list of names.
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    t.mock.timers.enable((major > 20 || (major === 20 && minor >= 11) ? { apis: ['setTimeout'] } : ['setTimeout']) as never);
    const batches: number[] = [];
    const batcher = createBatcher((events) => batches.push(events.length));
    const event = (n: number): OccupancyEvent => ({ type: 'channel.occupied', channel: `c${n}`, time: n });
    batcher.add(event(0));
    t.mock.timers.tick(999);
    assert.deepEqual(batches, []);
    t.mock.timers.tick(1);
    assert.deepEqual(batches, [1]);
    for (let i = 0; i < BATCH_EVENTS + 5; i++) batcher.add(event(i));
    assert.deepEqual(batches, [1, 100]);
    t.mock.timers.tick(1000);
    assert.deepEqual(batches, [1, 100, 5]);
    batcher.add(event(1));
    batcher.drop();
    t.mock.timers.tick(2000);
    assert.deepEqual(batches, [1, 100, 5]);
    mock.timers.reset();
  });
});

describe('one process: events to the webhook and to the app', () => {
  async function withServer(receiver: string, extra: Record<string, unknown> = {}): Promise<Running> {
    return startServer({ webhookUrl: `${receiver}/holdpush/events`, webhookSecret: SECRET, vacateDelay: 0.5, holdTimeout: 0.3, ...extra });
  }

  test('occupied, then vacated once nobody has been there for --vacate-delay; the app hears the same', T, async () => {
    const receiver = await startReceiver();
    const s = await withServer(receiver.url);
    const heard: OccupancyEvent[] = [];
    s.holdpush.on('occupancy', (event) => heard.push(event));
    try {
      assert.equal((await request(`${s.url}/sub/room`)).status, 408);
      await until(() => receiver.events().length >= 2, 5000, 'room occupied and vacated');
      assert.deepEqual(receiver.events(), ['channel.occupied room', 'channel.vacated room']);
      assert.deepEqual(heard.map((e) => `${e.type} ${e.channel}`), receiver.events());
      const [occupied, vacated] = receiver.deliveries.flatMap((d) => d.events) as [OccupancyEvent, OccupancyEvent];
      assert.ok(vacated.time - occupied.time >= 500, 'vacated no sooner than the delay after the last subscriber');
      const metrics = (await request(`${s.url}/metrics`)).text;
      assert.match(metrics, new RegExp(`^holdpush_webhook_deliveries_total ${receiver.deliveries.length}$`, 'm'));
      assert.match(metrics, /^holdpush_webhook_queue 0$/m);
      assert.match(metrics, /^holdpush_webhook_failures_total\{reason="retries"\} 0$/m);
    } finally {
      await s.close();
      await receiver.close();
    }
  });

  test('a long-poll that re-polls every hold timeout makes no vacated event', T, async () => {
    const receiver = await startReceiver();
    const s = await withServer(receiver.url);
    try {
      // Five hold timeouts in a row (1.5 s, three times the delay), each re-poll at once.
      let position: string | undefined;
      for (let i = 0; i < 5; i++) {
        const reply = await request(`${s.url}/sub/steady`, { headers: position === undefined ? {} : { 'If-None-Match': position } });
        assert.equal(reply.status, 408);
        position = reply.headers.etag as string;
      }
      const stopped = Date.now();
      await until(() => receiver.events().includes('channel.vacated steady'), 5000, 'steady vacated');
      assert.deepEqual(receiver.events(), ['channel.occupied steady', 'channel.vacated steady']);
      const vacated = receiver.deliveries.flatMap((d) => d.events).find((e) => e.type === 'channel.vacated') as OccupancyEvent;
      assert.ok(vacated.time >= stopped, 'vacated only after the re-polls stopped');

    } finally {
      await s.close();
      await receiver.close();
    }
  });

  test('a seed face uid comes online while a tab waits, and goes offline after it; uid:* is nobody', T, async () => {
    const receiver = await startReceiver();
    const s = await withServer(receiver.url, { holdTimeout: 10 });
    try {
      const tab = request(`${s.url}/?uid=ann`);
      await until(() => receiver.online().includes('uid:ann'), 5000, 'ann online');
      const sent = await request(`${s.url}/send`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: 'uid=ann&message=bye' });
      assert.equal((sent.json() as { delivered: number }).delivered, 1);
      assert.equal((await tab).text, 'bye');
      await until(() => !receiver.online().includes('uid:ann'), 5000, 'ann offline');
      assert.deepEqual(receiver.events(), ['channel.occupied uid:ann', 'channel.vacated uid:ann']);
    } finally {
      await s.close();
      await receiver.close();
    }
  });

  test('a receiver that fails three times, then accepts, gets the same delivery id and body four times, signed', T, async () => {
    const tries: { id: string | undefined; body: string; signed: boolean }[] = [];
    const flaky = createServer((req, res) => {
      void readBody(req).then((body) => {
        tries.push({ id: req.headers['x-holdpush-delivery'] as string | undefined, body: body.toString(), signed: receiverExample.signedBy(SECRET, body, req.headers['x-holdpush-signature'] as string) });
        res.statusCode = tries.length <= 3 ? 500 : 200;
        res.end();
      });
    });
    const url = await listen(flaky);
    // The schedule in twentieths: 50 ms, 100 ms, 200 ms instead of 1 s, 2 s, 4 s.
    const s = await startServer({ webhookUrl: `${url}/in`, webhookSecret: SECRET, vacateDelay: 5, webhookRetry: 0.05 });
    try {
      void request(`${s.url}/sub/flaky`, { headers: { Accept: 'text/event-stream' } }).catch(() => null);
      await until(() => tries.length >= 4, 8000, 'four tries');
      await until(() => s.holdpush.stats().webhook.deliveries === 1, 2000, 'counted delivered');
      assert.equal(tries.length, 4);
      const first = tries[0] as { id: string; body: string };
      assert.ok(tries.every((attempt) => attempt.id === first.id && attempt.body === first.body && attempt.signed));
      assert.deepEqual((JSON.parse(first.body) as Delivery).id, first.id);
      assert.deepEqual(s.holdpush.stats().webhook, { deliveries: 1, failures: 0, dropped: 0, queue: 0 });
    } finally {
      await s.close();
      flaky.closeAllConnections();
      flaky.close();
    }
  });

  test('a delivery never answered 2xx is given up at the end of its schedule, counted, and the next one goes', T, async () => {
    let answered = 0;
    const refusing = createServer((req, res) => {
      void readBody(req).then(() => {
        answered += 1;
        res.statusCode = 503;
        res.end();
      });
    });
    const url = await listen(refusing);
    // A schedule of 5 ms units: given up 1.5 s after the first try.
    const s = await startServer({ webhookUrl: url, vacateDelay: 0.2, holdTimeout: 0.6, webhookRetry: 0.005 });
    try {
      assert.equal((await request(`${s.url}/sub/refused`)).status, 408);
      await until(() => s.holdpush.stats().webhook.failures >= 1, 8000, 'given up');
      assert.ok(answered >= 5, `tried again and again: ${answered}`);
      const metrics = (await request(`${s.url}/metrics`)).text;
      assert.match(metrics, /^holdpush_webhook_failures_total\{reason="retries"\} [1-9]/m);
    } finally {
      await s.close();
      refusing.closeAllConnections();
      refusing.close();
    }
  });

  test('a webhook that never answers slows no subscriber or publisher: the queue is bounded and drops are counted', T, async () => {
    // Accepts connections and never answers: every try waits out its 10 s.
    const sockets = new Set<Socket>();
    const hole = createServer();
    hole.on('connection', (socket) => sockets.add(socket));
    const url = await listen(hole);
    const s = await startServer({ webhookUrl: url, vacateDelay: 0.2, holdTimeout: 0.6, webhookQueue: 2 });
    try {
      // 400 channels occupied at once: four deliveries of 100, for a queue of two.
      const names = Array.from({ length: 400 }, (_, i) => `c${i}`);
      const polls: Promise<unknown>[] = [];
      for (let i = 0; i < names.length; i += 16) polls.push(request(`${s.url}/sub/${names.slice(i, i + 16).join(',')}`));
      await until(() => s.holdpush.stats().webhook.dropped >= 2, 8000, 'drops');
      await Promise.all(polls);
      // Meanwhile the server serves as ever, each answer well inside a try's 10 s.
      for (let i = 0; i < 20; i++) {
        const waiting = request(`${s.url}/sub/live${i}`, { signal: AbortSignal.timeout(2000) });
        await until(() => s.holdpush.stats().held.total === 1, 2000, `held (${i}): ${JSON.stringify(s.holdpush.stats())}`);
        const published = await request(`${s.url}/pub/live${i}`, { method: 'POST', body: `m${i}`, signal: AbortSignal.timeout(2000) });
        assert.equal(published.status, 201);
        assert.equal((await waiting).text, `m${i}`);
      }
      const { webhook } = s.holdpush.stats();
      assert.ok(webhook.queue <= 2, `queue bounded: ${webhook.queue}`);
      assert.equal(webhook.deliveries, 0);
      assert.match((await request(`${s.url}/metrics`)).text, /^holdpush_webhook_failures_total\{reason="queue_full"\} [2-9]/m);
    } finally {
      await s.close();
      for (const socket of sockets) socket.destroy();
      hole.close();
    }
  });
});

describe('one try', () => {
  test('no answer within the timeout is a failed try (the connection is cut), and an answer is its status', T, async () => {
    const sockets = new Set<Socket>();
    let silent = true;
    const server = createServer((req, res) => {
      req.resume();
      if (!silent) res.writeHead(202).end();
    });
    server.on('connection', (socket) => sockets.add(socket));
    const url = await listen(server);
    // The contract's 10 s, in hundredths.
    const poster = createPoster(new URL(url), 100);
    try {
      assert.deepEqual(await poster.post('{}', {}), { error: 'no answer within 0.1 s' });
      silent = false;
      assert.deepEqual(await poster.post('{}', {}), { status: 202 });
    } finally {
      poster.close();
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });
});

describe('the command line', () => {
  const bad: [string[], RegExp][] = [
    [['--webhook-url', 'ftp://example.com/hook'], /^holdpush: --webhook-url must be an http:\/\/ or https:\/\/ URL, got ftp:\/\/example\.com\/hook\n$/],
    [['--webhook-url', 'not a url'], /^holdpush: --webhook-url must be an http:\/\/ or https:\/\/ URL/],
    [['--webhook-url', 'http://127.0.0.1:9/x', '--webhook-secret', 'short'], /^holdpush: --webhook-secret must be a string of at least 16 characters\n$/],
    [['--webhook-secret', SECRET], /^holdpush: --webhook-secret signs webhook deliveries: it needs --webhook-url\n$/],
    [['--vacate-delay', '0'], /^holdpush: --vacate-delay must be a positive number of seconds, got "0"\n$/],
    [['--webhook-url', 'mailto:a@example.com', '--workers', '2'], /^holdpush: --webhook-url must be/],
  ];
  for (const [args, message] of bad) {
    test(`${args.join(' ')}: exit 2, one line`, T, async () => {
      const exit = await runCli(args);
      assert.equal(exit.code, 2);
      assert.match(exit.stderr, message);
      assert.equal(exit.stderr.split('\n').length, 2);
    });
  }

  test('the environment twins and --help', T, async () => {
    const exit = await runCli(['--help']);
    for (const flag of ['--webhook-url', '--webhook-secret', '--vacate-delay', '--webhook-queue']) assert.match(exit.stdout, new RegExp(`^  ${flag} `, 'm'));
    assert.match(exit.stdout, /--vacate-delay .*\(default: 5\)/);
    const twin = await runCli([], { HOLDPUSH_WEBHOOK_URL: 'gopher://x' });
    assert.equal(twin.code, 2);
    assert.match(twin.stderr, /--webhook-url must be/);
  });
});
