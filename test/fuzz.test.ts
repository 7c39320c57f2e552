/**
 * Hostile input: a bounded, seeded storm of generated requests against two
 * servers (one open, one with tokens and a mount prefix), raw socket garbage and slowloris
 * clients. Afterwards both servers are healthy, publish/subscribe works, and nothing is left:
 * no hold, no channel, no connection. Replay a run with FUZZ_SEED=<seed> (FUZZ_COUNT=<n>).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type CreateHoldpushOptions, signJwt } from '../lib/index';
import { SECRET_MARK, type FuzzCase, type FuzzTarget, describeCase, httpCase, rawCase } from './support/fuzz-gen';
import { type Outcome, judge, parseResponses, sendHttp, sendRaw } from './support/fuzz-http';
import { createRng, runSeed } from './support/rng';
import { request } from './support/http';
import { type Running, startServer } from './support/servers';
import { waitFor } from './support/wait';

const SEED = runSeed();
const COUNT = Number(process.env.FUZZ_COUNT ?? 3000);
/** No new case starts after this long; the run reports how many it made. */
const TIME_BUDGET_MS = 20_000;
const CONCURRENCY = 24;
const PUBLISH_TOKEN = `publish-${SECRET_MARK}-token`;
const SUBSCRIBE_SECRET = `subscribe-${SECRET_MARK}-secret`;

interface Target extends FuzzTarget, Running {
  readonly name: string;
  readonly lines: string[];
}

async function startTarget(name: string, options: CreateHoldpushOptions & { log: 'text' | 'json' }): Promise<Target> {
  const lines: string[] = [];
  // Short enough for a test, the same mechanism as the defaults (10 s, 30 s, 65 s).
  const shortTimeouts = (server: Server) => {
    server.headersTimeout = 1000;
    server.requestTimeout = 2000;
    server.keepAliveTimeout = 1000;
  };
  const running = await startServer({ ...options, logWrite: (line) => lines.push(line) }, { prepare: shortTimeouts });
  return { ...running, name, lines, prefix: options.prefix ?? '', maxMessage: options.maxMessage ?? 65536, publishToken: options.publishToken, subscribeSecret: options.subscribeSecret };
}

function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

interface Slowloris {
  ms: number;
  data: Buffer;
  closedByServer: boolean;
}

/** Sends a request's headers one byte every `gapMs` until the server hangs up (or `limitMs`). */
function slowloris(port: number, gapMs: number, limitMs: number): Promise<Slowloris> {
  const started = Date.now();
  const text = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'z'.repeat(4000)}\r\n\r\n`);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closedByServer = false;
    let at = 0;
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const drip = setInterval(() => {
      if (at < text.length && socket.writable) socket.write(text.subarray(at, at + 1));
      at += 1;
    }, gapMs);
    const limit = setTimeout(() => socket.destroy(), limitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      closedByServer = true;
      socket.end();
    });
    socket.on('error', () => {
      closedByServer = true;
    });
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(limit);
      resolve({ ms: Date.now() - started, data: Buffer.concat(chunks), closedByServer });
    });
  });
}

describe(`fuzz (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, () => {
  let open: Target;
  let locked: Target;
  before(async () => {
    open = await startTarget('open', { log: 'json', holdTimeout: 0.2, keepalive: 0.2, messageTtl: 1, buffer: 5, maxMessage: 4096, maxChannels: 8, maxSubscribers: 6 });
    locked = await startTarget('locked', {
      log: 'text',
      prefix: '/push',
      holdTimeout: 0.2,
      keepalive: 0.2,
      messageTtl: 1,
      maxMessage: 2048,
      publishToken: PUBLISH_TOKEN,
      subscribeSecret: SUBSCRIBE_SECRET,
      corsOrigin: 'https://app.example.test',
    });
  });
  after(async () => {
    await open.close();
    await locked.close();
  });

  test('a storm of hostile requests leaves both servers healthy, answering JSON errors, holding nothing', async () => {
    for (const target of [open, locked]) {
      const { id } = await target.holdpush.publish('news', 'before the storm');
      target.knownToken = id.slice(id.indexOf(':') + 1);
    }
    const statuses: Record<string, number> = {};
    const codes: Record<string, number> = {};
    const clientErrors: Record<string, number> = {};
    const failures: string[] = [];
    let http = 0;
    let raw = 0;
    let streams = 0;
    const started = Date.now();
    const fail = (index: number, c: FuzzCase, target: Target, what: string) => {
      if (failures.length < 25) failures.push(`#${index} on ${target.name}: ${what}\n    ${describeCase(c)}`);
    };

    const loris = [slowloris(open.port, 60, 8000), slowloris(locked.port, 90, 8000), slowloris(open.port, 150, 8000)];

    async function runCase(index: number): Promise<void> {
      const r = createRng((SEED + Math.imul(index + 1, 0x9e3779b1)) >>> 0);
      const target = r.chance(0.6) ? open : locked;
      const c = r.chance(0.8) ? httpCase(r, target) : rawCase(r, target);
      try {
        await sendCase(index, r, target, c);
      } catch (error) {
        fail(index, c, target, `the test itself threw: ${String(error)}`);
      }
    }

    async function sendCase(index: number, r: ReturnType<typeof createRng>, target: Target, c: FuzzCase): Promise<void> {
      let outcome: Outcome;
      if (c.lane === 'http') {
        http += 1;
        const pieces = Array.from({ length: 8 }, () => r.int(1, 2000));
        outcome = await sendHttp(target.port, c, pieces, 5000);
      } else {
        raw += 1;
        outcome = await sendRaw(target.port, c, 6000);
      }
      const method = c.lane === 'http' ? c.method : 'GET';
      for (const response of outcome.responses) {
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        if (String(response.headers['content-type'] ?? '').includes('text/event-stream')) streams += 1;
        if (response.status >= 400 && response.complete) {
          try {
            const code = String((JSON.parse(response.body.toString('utf8')) as { error?: unknown }).error);
            codes[code] = (codes[code] ?? 0) + 1;
          } catch {
            // judge() reports it
          }
        }
        const wrong = judge(method, response);
        if (wrong !== undefined) fail(index, c, target, wrong);
      }
      if (outcome.junk !== '') fail(index, c, target, `bytes that are not HTTP after the answers: ${JSON.stringify(outcome.junk)}`);
      if (outcome.error !== undefined) {
        clientErrors[outcome.error] = (clientErrors[outcome.error] ?? 0) + 1;
        // The server may close on a client still writing what it refused (413, 431, a parse
        // error): a reset then, never silence.
        const refusedEarly = c.lane === 'http' && (c.oversized || 'X-Huge' in c.headers || outcome.responses.some((res) => res.status >= 400));
        if (outcome.error === 'no answer') fail(index, c, target, `no answer within ${outcome.ms} ms`);
        else if (c.lane === 'http' && !refusedEarly) fail(index, c, target, `client error ${outcome.error} (${outcome.responses.length} answers)`);
      }
      if (c.lane === 'raw' && !outcome.closedByServer && outcome.error === 'no answer') fail(index, c, target, 'the server kept a raw connection open');
      if (c.lane === 'http' && outcome.responses.length === 0 && outcome.error === undefined) fail(index, c, target, 'no answer and no error');
    }

    let next = 0;
    async function worker(): Promise<void> {
      while (next < COUNT && Date.now() - started < TIME_BUDGET_MS) {
        const index = next;
        next += 1;
        await runCase(index);
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);

    // Slowloris: cut by headersTimeout (1 s here; checked every second), with a JSON 408.
    const cut = await Promise.all(loris);
    for (const [i, one] of cut.entries()) {
      const answers = parseResponses(one.data).responses;
      const answer = answers[0];
      if (!one.closedByServer || one.ms >= 4000) failures.push(`slowloris ${i}: ${one.closedByServer ? `cut only after ${one.ms} ms` : 'never cut'}`);
      else if (answers.length !== 1 || answer === undefined || answer.status !== 408 || judge('GET', answer) !== undefined) {
        failures.push(`slowloris ${i} got ${JSON.stringify(one.data.toString('latin1'))}`);
      }
    }

    const fivexx = Object.entries(statuses).filter(([status]) => Number(status) >= 500 && status !== '503').reduce((sum, [, n]) => sum + n, 0);
    const sorted = Object.fromEntries(Object.entries(statuses).sort(([a], [b]) => Number(a) - Number(b)));
    console.log(
      `fuzz: seed ${SEED}, ${http + raw} requests (${http} http, ${raw} raw) in ${seconds} s, statuses ${JSON.stringify(sorted)}, ` +
        `error codes ${JSON.stringify(codes)}, ${streams} streams closed by the client, client errors ${JSON.stringify(clientErrors)}, ${fivexx} 5xx other than 503, ` +
        `slowloris cut after ${cut.map((one) => one.ms).join('/')} ms with 408`,
    );
    assert.deepEqual(failures, [], `seed ${SEED} (replay with FUZZ_SEED=${SEED}):\n${failures.join('\n')}`);
    assert.equal(fivexx, 0);
    assert.ok(http + raw >= Math.min(COUNT, 1000), `only ${http + raw} cases ran in the time budget`);

    for (const target of [open, locked]) {
      await waitFor(() => target.holdpush.stats().held.total === 0, 5000, `${target.name}: nothing held after the storm (seed ${SEED})`);
      const health = await request(`http://127.0.0.1:${target.port}${target.prefix}/healthz`);
      assert.equal(health.status, 200, `${target.name} /healthz`);
      assert.equal(health.text, 'ok');
    }
  });

  test('publish and subscribe still work on both servers after the storm', async () => {
    // The storm filled the channel limit (8): its messages live 1 s.
    await waitFor(() => open.holdpush.stats().channels === 0, 6000, 'the storm channels forgotten');
    const openUrl = `http://127.0.0.1:${open.port}`;
    const waiting = request(`${openUrl}/sub/after-storm`, { headers: { Accept: 'application/json' } });
    await waitFor(() => open.holdpush.stats().held.total === 1, 5000, 'the subscriber held');
    const sent = await request(`${openUrl}/pub/after-storm`, { method: 'POST', body: 'still here' });
    assert.equal(sent.status, 201, sent.text);
    const got = await waiting;
    assert.equal(got.status, 200);
    assert.equal((got.json() as { messages: { data: string }[] }).messages[0]?.data, 'still here');

    const lockedUrl = `http://127.0.0.1:${locked.port}/push`;
    const token = signJwt({ holdpush: { subscribe: ['after-storm'] } }, SUBSCRIBE_SECRET);
    const poll = request(`${lockedUrl}/sub/after-storm?token=${token}`);
    await waitFor(() => locked.holdpush.stats().held.total === 1, 5000, 'the locked subscriber held');
    const published = await request(`${lockedUrl}/pub/after-storm`, { method: 'POST', headers: { Authorization: `Bearer ${PUBLISH_TOKEN}` }, body: 'locked and well' });
    assert.equal(published.status, 201, published.text);
    const answer = await poll;
    assert.equal(answer.status, 200);
    assert.equal(answer.text, 'locked and well');
  });

  test('afterwards nothing is left: no hold, no channel, no connection, no secret in the logs', async () => {
    for (const target of [open, locked]) {
      await waitFor(() => target.holdpush.stats().held.total === 0, 5000, `${target.name}: held back to zero`);
      // Messages live 1 s: every channel is forgotten once they expire and nobody holds it.
      await waitFor(() => target.holdpush.stats().channels === 0, 6000, `${target.name}: channels back to zero (now ${target.holdpush.stats().channels})`);
      await waitFor(async () => (await connections(target.server)) === 0, 5000, `${target.name}: no connection open on the server`);
      assert.ok(target.lines.length > 100, `${target.name} logged ${target.lines.length} lines`);
      const leaks = target.lines.filter((line) => line.includes(SECRET_MARK));
      assert.deepEqual(leaks.slice(0, 5), [], `${target.name}: a secret reached the log (seed ${SEED})`);
    }
    for (const line of open.lines) assert.doesNotThrow(() => JSON.parse(line), line);
  });

  test('HEAD on an EventSource stream is answered with its headers', async () => {
    const socket = connect({ port: open.port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.write('HEAD /sub/head-stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    const received = () => Buffer.concat(chunks).toString('latin1');
    await waitFor(() => received().includes('\r\n\r\n'), 5000, () => `the end of the head; got ${JSON.stringify(received())}`);
    socket.destroy();
    assert.match(received(), /^HTTP\/1\.1 200 /);
    assert.match(received(), /\r\nContent-Type: text\/event-stream/i);
  });
});
