/**
 * Request logs: one line per finished request, in text or JSON, with the
 * method, the path without the query's secrets, the status, the bytes and the time held;
 * never a token; nothing at all with `log: 'off'`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signJwt } from '../lib/index';
import { redactPath } from '../lib/http/log';
import { sendRaw } from './support/fuzz-http';
import { type Running, held, multipart, request, startServer, until } from './support/http';
import { eventually } from './support/wait';

interface JsonLine {
  time: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  ms: number;
  address: string;
}

/** `<ISO time> <address> <method> <path> <status|aborted> <bytes>B <ms>ms` */
const TEXT_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) ([A-Z]+) (\S+) (\d{3}|aborted) (\d+)B (\d+)ms$/;

function parseText(line: string): JsonLine {
  const match = TEXT_LINE.exec(line);
  assert.ok(match, `not a text log line: ${JSON.stringify(line)}`);
  const [, time, address, method, path, status, bytes, ms] = match as unknown as string[];
  return { time: time as string, address: address as string, method: method as string, path: path as string, status: status === 'aborted' ? 0 : Number(status), bytes: Number(bytes), ms: Number(ms) };
}

function parseJson(line: string): JsonLine {
  const entry = JSON.parse(line) as JsonLine;
  for (const key of ['time', 'method', 'path', 'address'] as const) assert.equal(typeof entry[key], 'string', `${key} in ${line}`);
  for (const key of ['status', 'bytes', 'ms'] as const) assert.equal(typeof entry[key], 'number', `${key} in ${line}`);
  return entry;
}

for (const format of ['text', 'json'] as const) {
  describe(`log: '${format}'`, () => {
    const lines: string[] = [];
    let server: Running;
    const read = format === 'text' ? parseText : parseJson;
    before(async () => {
      server = await startServer({ log: format, logWrite: (line) => lines.push(line), holdTimeout: 0.3 });
    });
    after(() => server.close());

    let markers = 0;

    /** Runs `work`, then returns the lines it caused (waiting for `count` of them). */
    async function logged(count: number, work: () => Promise<unknown>, ms = 3000): Promise<JsonLine[]> {
      const from = lines.length;
      await work();
      await until(() => lines.length >= from + count, ms, `${count} log lines`);
      // No more than `count`: a marker request's line comes after any other the work caused.
      // Every answer the work waited for was written, and so logged, before the marker is sent
      // (a line is written on the response's close, a tick after its last byte goes out).
      const marker = `/healthz?log-marker=${++markers}`;
      await request(`${server.url}${marker}`);
      const end = await eventually(() => lines.findIndex((line, i) => i >= from && line.includes(marker)), (i) => i >= 0, ms, 'the marker request\'s line');
      const mine = lines.slice(from, end);
      assert.equal(mine.length, count, `exactly ${count} lines: ${mine.join('\n')}`);
      for (const line of mine) assert.ok(!line.includes('\n'), 'one line');
      return mine.map(read);
    }

    test('one line per finished request: method, path, status, bytes, time', async () => {
      const entries = await logged(4, async () => {
        await request(`${server.url}/healthz`);
        await request(`${server.url}/pub/logged?x=1`, { method: 'POST', body: 'hello' });
        await request(`${server.url}/sub/logged`);
        await request(`${server.url}/sub/bad,,name`);
      });
      assert.deepEqual(
        entries.map(({ method, path, status }) => ({ method, path, status })),
        [
          { method: 'GET', path: '/healthz', status: 200 },
          { method: 'POST', path: '/pub/logged?x=1', status: 202 },
          { method: 'GET', path: '/sub/logged', status: 200 },
          { method: 'GET', path: '/sub/bad,,name', status: 400 },
        ],
      );
      for (const entry of entries) {
        assert.ok(entry.bytes > 0, 'bytes written');
        assert.ok(entry.ms >= 0 && entry.ms < 1000, 'time');
        assert.equal(entry.address, '127.0.0.1');
        assert.ok(Math.abs(Date.parse(entry.time) - Date.now()) < 10_000, 'time of day');
      }
    });

    test('bytes are what the socket carried: headers and body', async () => {
      let received = 0;
      const [entry] = await logged(1, async () => {
        const outcome = await sendRaw(server.port, { lane: 'raw', segments: [Buffer.from('GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')], gapMs: 0, end: true, label: 'stats' }, 3000);
        assert.equal(outcome.responses[0]?.status, 200);
        received = outcome.received;
      });
      assert.equal(entry?.bytes, received);
    });

    test('a held request logs the time it was held; one dropped by its client logs as aborted', async () => {
      // The dropped one (a stream: it has no hold timeout) is held all the while a long-poll is
      // held to its timeout, the server's own clock, and its client leaves only then: its time
      // covers the other's.
      const entries = await logged(2, async () => {
        const controller = new AbortController();
        const waiting = request(`${server.url}/sub/dropped-log`, { headers: { Accept: 'text/event-stream' }, signal: controller.signal }).catch(() => 'aborted');
        await held(server, 1);
        assert.equal((await request(`${server.url}/sub/held-log`)).status, 408);
        controller.abort();
        await waiting;
      });
      const timedOut = entries.find((entry) => entry.path === '/sub/held-log');
      const dropped = entries.find((entry) => entry.path === '/sub/dropped-log');
      assert.equal(timedOut?.status, 408);
      assert.ok((timedOut?.ms ?? 0) >= 250, `held ${timedOut?.ms} ms`);
      assert.equal(dropped?.status, 0);
      assert.ok((dropped?.ms ?? -1) >= (timedOut?.ms ?? Infinity), `held ${dropped?.ms} ms before the client left, the other ${timedOut?.ms} ms`);
      if (format === 'text') assert.match(lines.find((line) => line.includes(' /sub/dropped-log ')) ?? '', / aborted \d+B \d+ms$/);
    });

    test('OPTIONS preflights are logged like any request', async () => {
      const [entry] = await logged(1, () => request(`${server.url}/sub/x`, { method: 'OPTIONS' }));
      assert.equal(entry?.method, 'OPTIONS');
      assert.equal(entry?.status, 204);
    });

    test('a request to no route is logged with its 404', async () => {
      const [entry] = await logged(1, () => request(`${server.url}/no-such-route`), 300);
      assert.equal(entry?.status, 404);
    });
  });
}

describe('secrets never reach a log line', () => {
  const lines: string[] = [];
  const SUBSCRIBE_SECRET = 'subscribe-secret-never-logged';
  const PUBLISH_TOKEN = 'publish-token-never-logged';
  let server: Running;
  before(async () => {
    server = await startServer({ log: 'json', logWrite: (line) => lines.push(line), subscribeSecret: SUBSCRIBE_SECRET, publishToken: PUBLISH_TOKEN, holdTimeout: 0.2 });
  });
  after(() => server.close());

  test('query tokens (however their name is spelled) are redacted; Authorization and form tokens are never written', async () => {
    const jwt = signJwt({ holdpush: { subscribe: ['secrets', 'uid:alice'] } }, SUBSCRIBE_SECRET);
    const secrets = [jwt, PUBLISH_TOKEN, SUBSCRIBE_SECRET, 'query-secret-1', 'query-secret-2', 'query-secret-3', 'query-secret-4', 'query-secret-5'];
    const form = multipart({ message: 'hi', token: PUBLISH_TOKEN });
    const requests: [string, Parameters<typeof request>[1]][] = [
      [`/sub/secrets?token=${jwt}`, {}],
      [`/?uid=alice&token=${jwt}&last_event_id=`, {}],
      ['/sub/secrets', { headers: { Authorization: `Bearer ${jwt}` } }],
      ['/sub/secrets?%74oken=query-secret-1', {}],
      ['/sub/secrets?a=1&TOKEN=query-secret-2&b=2', {}],
      ['/sub/secrets?tok%65n=query-secret-3', {}],
      ['/sub/secrets?access_token=query-secret-4&jwt=query-secret-5', {}],
      ['/pub/secrets', { method: 'POST', headers: { Authorization: `Bearer ${PUBLISH_TOKEN}` }, body: 'published' }],
      ['/pub/secrets', { method: 'POST', headers: { Authorization: 'Bearer wrong-token' }, body: 'refused' }],
      ['/send', { method: 'POST', headers: { 'Content-Type': form.type }, body: form.body }],
    ];
    const from = lines.length;
    for (const [path, options] of requests) await request(`${server.url}${path}`, options);
    await until(() => lines.length >= from + requests.length, 3000, 'every request logged');
    const mine = lines.slice(from);
    for (const secret of [...secrets, 'wrong-token']) {
      for (const line of mine) assert.ok(!line.includes(secret), `${secret} in ${line}`);
    }
    const paths = mine.map((line) => (JSON.parse(line) as JsonLine).path);
    assert.ok(paths.includes('/sub/secrets?token=[redacted]'), paths.join('\n'));
    assert.ok(paths.includes('/sub/secrets?%74oken=[redacted]'), paths.join('\n'));
    assert.ok(paths.includes('/sub/secrets?a=1&TOKEN=[redacted]&b=2'), paths.join('\n'));
    assert.ok(paths.includes('/?uid=alice&token=[redacted]&last_event_id='), paths.join('\n'));
  });

  test('redactPath reads parameter names the way URLSearchParams does', () => {
    const cases: [string, string][] = [
      ['/sub/a', '/sub/a'],
      ['/sub/a?token=abc', '/sub/a?token=[redacted]'],
      ['/sub/a?x=1&Token=abc&y=2', '/sub/a?x=1&Token=[redacted]&y=2'],
      ['/sub/a?%74%6Fken=abc', '/sub/a?%74%6Fken=[redacted]'],
      ['/sub/a??token=abc', '/sub/a??token=[redacted]'],
      ['/sub/a?access_token=abc&jwt=def', '/sub/a?access_token=[redacted]&jwt=[redacted]'],
      ['/sub/a?tokens=abc&my_token=def', '/sub/a?tokens=abc&my_token=def'],
      ['/sub/a?token', '/sub/a?token'],
      ['/sub/a?x=token=abc', '/sub/a?x=token=abc'],
    ];
    for (const [url, want] of cases) assert.equal(redactPath(url), want, url);
    // Whatever the spelling, no value the server would read as a token survives.
    for (const url of ['/x?%74oken=s1', '/x?tok%65n=s1&token=s1', '/x?token=s1&token=s1', '/x??token=s1', '/x?a&token=s1']) {
      const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
      assert.equal(query.get('token'), 's1', url);
      assert.ok(!redactPath(url).includes('s1'), url);
    }
  });
});

describe('the client address behind a proxy', () => {
  test('a trusted proxy\'s X-Forwarded-For or Forwarded names it; X-Real-IP alone logs an unknown client as -', async (t) => {
    const lines: string[] = [];
    const server = await startServer({ trustProxy: ['loopback'], log: 'text', logWrite: (line) => lines.push(line) });
    t.after(() => server.close());
    await request(`${server.url}/healthz`, { headers: { 'X-Forwarded-For': '198.51.100.7, 127.0.0.1' } });
    await request(`${server.url}/healthz`, { headers: { Forwarded: 'for="[2001:db8::7]:4711"' } });
    await request(`${server.url}/healthz`, { headers: { 'X-Real-IP': '198.51.100.7' } });
    await request(`${server.url}/healthz`);
    await until(() => lines.length === 4, 2000, 'four log lines');
    assert.deepEqual(lines.map((line) => parseText(line).address), ['198.51.100.7', '2001:db8::7', '-', '127.0.0.1']);
  });

  test('an untrusted peer\'s forwarding header is not believed: the peer is logged', async (t) => {
    const lines: string[] = [];
    const server = await startServer({ log: 'json', logWrite: (line) => lines.push(line) });
    t.after(() => server.close());
    await request(`${server.url}/healthz`, { headers: { 'X-Forwarded-For': '198.51.100.7' } });
    await until(() => lines.length === 1, 2000, 'one log line');
    assert.equal(parseJson(lines[0] as string).address, '127.0.0.1');
  });
});

describe("log: 'off'", () => {
  test('writes nothing, whatever the requests', async () => {
    const lines: string[] = [];
    const server = await startServer({ log: 'off', logWrite: (line) => lines.push(line), holdTimeout: 0.2 });
    try {
      await request(`${server.url}/healthz`);
      await request(`${server.url}/pub/quiet`, { method: 'POST', body: 'shh' });
      await request(`${server.url}/sub/quiet-timeout`);
      await request(`${server.url}/sub/bad,,`);
      await request(`${server.url}/nope`);
    } finally {
      await server.close();
    }
    // Closed, the server has closed every response and its connection: any line would be written.
    assert.deepEqual(lines, []);
  });
});
