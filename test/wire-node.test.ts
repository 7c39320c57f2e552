/**
 * What the fast path of lib/http/wire.ts relies on in node:http, checked on the running Node (the
 * Node matrix runs this file on every supported major). The fast path hands node:http a head
 * it built itself through the private `_header`; the day a Node release changes what that
 * means, the tests here fail and say what changed, instead of answers going wrong or the
 * start-up check quietly sending everything through `writeHead`.
 */
import assert from 'node:assert/strict';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, test } from 'node:test';
import type { Outgoing } from '../lib/http/http-internals';
import { Prebuilt, fastPathMisfit, keepAliveHead } from '../lib/http/wire';
import { until } from './support/http';
import { RawConnection, undated } from './support/raw-http';

const large = Buffer.alloc(40 * 1024);
for (let i = 0; i < large.length; i++) large[i] = (i * 7 + 3) & 0xff;
const largeText = 'é'.repeat(12 * 1024);

function answer(status: number, type: string, body: Buffer | string): Prebuilt {
  return new Prebuilt(status, ['Content-Type', type, 'Content-Length', String(Buffer.byteLength(body)), 'X-Kind', 'test'], body);
}

/** One of each way the fast path ends a response: body inside the head (text, bytes), a large buffer, a large string. */
const ANSWERS: Record<string, Prebuilt> = {
  text: answer(200, 'text/plain; charset=utf-8', 'déjà vu ✓'),
  bytes: answer(201, 'application/octet-stream', Buffer.from(Array.from({ length: 256 }, (_, i) => i))),
  large: answer(200, 'application/octet-stream', large),
  'large-text': answer(202, 'text/plain; charset=utf-8', largeText),
};

interface Seen {
  readonly path: string;
  readonly res: ServerResponse;
  readonly socket: Socket;
  /** What the private fields held when the request came in. */
  readonly fields: { header: unknown; shouldKeepAlive: unknown; keepAliveTimeout: unknown; maxRequestsPerSocket: unknown; maxRequestsOnConnectionReached: unknown };
  /** headersSent and writableEnded right after writeTo returned. */
  after?: { headersSent: boolean; writableEnded: boolean };
  finished: boolean;
  closed: boolean;
  /** The socket's timeout when 'finish' came (node:http sets its keep-alive timeout there). */
  timeoutAtFinish?: number;
}

/**
 * A server that writes `ANSWERS[name]` for `/<name>?fast=1|0`, through the fast path or
 * node:http's own; `/hold/...` requests wait until the test calls `release`.
 */
async function answeringServer(t: import('node:test').TestContext, setup: (server: Server) => void = () => undefined) {
  const seen: Seen[] = [];
  const waiting = new Map<string, () => void>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const out = res as Outgoing;
    const entry: Seen = {
      path: url.pathname,
      res,
      socket: req.socket,
      fields: {
        header: out._header,
        shouldKeepAlive: res.shouldKeepAlive,
        keepAliveTimeout: out._keepAliveTimeout,
        maxRequestsPerSocket: out._maxRequestsPerSocket,
        maxRequestsOnConnectionReached: out.maxRequestsOnConnectionReached,
      },
      finished: false,
      closed: false,
    };
    seen.push(entry);
    res.on('finish', () => {
      entry.finished = true;
      entry.timeoutAtFinish = req.socket.timeout;
    });
    res.on('close', () => {
      entry.closed = true;
    });
    if (url.pathname === '/app-header') res.setHeader('X-App', 'kept');
    const write = () => {
      const name = url.pathname.split('/').at(-1) ?? '';
      const prebuilt = ANSWERS[name] ?? ANSWERS.text;
      (prebuilt as Prebuilt).writeTo(res, url.searchParams.get('fast') === '1');
      entry.after = { headersSent: res.headersSent, writableEnded: res.writableEnded };
    };
    if (url.pathname.startsWith('/hold/')) waiting.set(url.pathname, write);
    else write();
  });
  setup(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    seen,
    async release(path: string) {
      await until(() => waiting.has(path), 5000, `${path} to arrive`);
      (waiting.get(path) as () => void)();
    },
  };
}

function bodyBytes(prebuilt: Prebuilt): Buffer {
  return typeof prebuilt.body === 'string' ? Buffer.from(prebuilt.body) : prebuilt.body;
}

describe(`what the fast path needs from node:http ${process.version}`, () => {
  test('the start-up check finds node:http as the fast path expects (else answers silently take writeHead)', () => {
    assert.equal(fastPathMisfit(), undefined);
  });

  test('the private fields it reads exist with the types it expects, set from the server', async (t) => {
    const app = await answeringServer(t, (server) => {
      server.keepAliveTimeout = 7_000;
      server.maxRequestsPerSocket = 5;
    });
    const raw = new RawConnection(app.port);
    t.after(() => raw.close());
    raw.send('GET /text?fast=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    raw.send('GET /text?fast=1 HTTP/1.0\r\n\r\n');
    await raw.answer(1);
    const [keepAlive, old] = app.seen;
    assert.deepEqual(keepAlive?.fields, { header: null, shouldKeepAlive: true, keepAliveTimeout: 7_000, maxRequestsPerSocket: 5, maxRequestsOnConnectionReached: false });
    assert.equal(old?.fields.shouldKeepAlive, false);
  });

  test('each kind of body: the bytes on the socket are exactly the head plus the body, and what node:http sends itself', async (t) => {
    const app = await answeringServer(t);
    const raw = new RawConnection(app.port);
    t.after(() => raw.close());
    const names = Object.keys(ANSWERS);
    let index = 0;
    for (const name of names) {
      const prebuilt = ANSWERS[name] as Prebuilt;
      raw.send(`GET /${name}?fast=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
      raw.send(`GET /${name}?fast=0 HTTP/1.1\r\nHost: x\r\n\r\n`);
      const fast = await raw.answer(index);
      const plain = await raw.answer(index + 1);
      index += 2;
      const expected = Buffer.concat([Buffer.from(keepAliveHead(prebuilt.status, prebuilt.headers, 'Date: -\r\n', 5_000, 0), 'latin1'), bodyBytes(prebuilt)]);
      assert.equal(undated(fast.bytes), expected.toString('latin1'), `${name}, fast`);
      assert.equal(undated(plain.bytes), expected.toString('latin1'), `${name}, node:http's own`);
    }
    assert.equal(raw.rest.length, 0, 'nothing after the last answer');
  });

  test("the response's life: headersSent and writableEnded at once, 'finish' then 'close', the keep-alive timeout set, the socket reused", async (t) => {
    const app = await answeringServer(t);
    const raw = new RawConnection(app.port);
    t.after(() => raw.close());
    // One after the other: node:http sets the keep-alive timeout only when no answer is queued next.
    for (const [index, fast] of ['1', '0', '1'].entries()) {
      raw.send(`GET /large?fast=${fast} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await raw.answer(index);
    }
    await until(() => app.seen.length === 3 && app.seen.every((s) => s.closed), 5000, "every response's 'close'");
    const [fast, plain, again] = app.seen as [Seen, Seen, Seen];
    for (const seen of [fast, plain, again]) {
      assert.deepEqual(seen.after, { headersSent: true, writableEnded: true });
      assert.equal(seen.finished, true);
      assert.equal(seen.res.writableFinished, true);
    }
    assert.equal(fast.timeoutAtFinish, plain.timeoutAtFinish, 'the same keep-alive timeout as after node:http’s own answer');
    assert.ok((fast.timeoutAtFinish ?? 0) >= 5_000, `socket timeout ${fast.timeoutAtFinish}`);
    assert.equal(plain.socket, fast.socket, 'one connection for all three');
    assert.equal(again.socket, fast.socket);
    assert.equal(raw.ended, false);
    assert.equal(fast.socket.destroyed, false);
  });

  test('pipelined: an answer written while the one before it is still held waits its turn, whole', async (t) => {
    const app = await answeringServer(t);
    const raw = new RawConnection(app.port);
    t.after(() => raw.close());
    raw.send('GET /hold/first/text?fast=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    raw.send('GET /hold/second/large?fast=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    raw.send('GET /hold/third/bytes?fast=0 HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => app.seen.length === 3, 5000, 'three requests');
    await app.release('/hold/third/bytes');
    await app.release('/hold/second/large');
    assert.equal(raw.answers.length, 0);
    await app.release('/hold/first/text');
    const answers = [await raw.answer(0), await raw.answer(1), await raw.answer(2)];
    assert.deepEqual(answers.map((a) => a.body), [bodyBytes(ANSWERS.text as Prebuilt), large, bodyBytes(ANSWERS.bytes as Prebuilt)]);
    assert.equal(raw.rest.length, 0);
  });

  test('where node:http must shape the answer (HEAD, Connection: close, HTTP/1.0, the last request allowed, headers set by the app) both ways send the same', async (t) => {
    const app = await answeringServer(t, (server) => {
      server.maxRequestsPerSocket = 2;
    });
    const cases: [string, string, boolean][] = [
      ['HEAD', 'HEAD /text?fast=F HTTP/1.1\r\nHost: x\r\n\r\n', true],
      ['Connection: close', 'GET /text?fast=F HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', false],
      ['HTTP/1.0', 'GET /text?fast=F HTTP/1.0\r\n\r\n', false],
      ['app header', 'GET /app-header?fast=F HTTP/1.1\r\nHost: x\r\n\r\n', false],
      ['second of two allowed', 'GET /text?fast=F HTTP/1.1\r\nHost: x\r\n\r\nGET /text?fast=F HTTP/1.1\r\nHost: x\r\n\r\n', false],
    ];
    for (const [what, text, head] of cases) {
      const bytes: string[][] = [];
      for (const fast of ['1', '0']) {
        const raw = new RawConnection(app.port);
        const requests = text.replace(/fast=F/g, `fast=${fast}`).split(/(?<=\r\n\r\n)/);
        for (const one of requests) raw.send(one, head);
        await raw.answer(requests.length - 1);
        if (what === 'Connection: close' || what === 'HTTP/1.0') await until(() => raw.ended, 5000, `${what}: the server to close`);
        bytes.push(raw.answers.map((a) => undated(a.bytes)));
        raw.close();
      }
      assert.deepEqual(bytes[0], bytes[1], what);
      const last = bytes[0]?.at(-1) ?? '';
      if (what === 'app header') assert.match(last, /\r\nX-App: kept\r\n/);
      else if (what !== 'HEAD') assert.match(last, /\r\nConnection: close\r\n/, what);
      if (what === 'second of two allowed') assert.match(bytes[0]?.[0] ?? '', /\r\nKeep-Alive: timeout=5, max=2\r\n/);
    }
  });
});
