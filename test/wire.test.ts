/**
 * The bytes of answers that holdpush serialises itself (lib/http/wire.ts): what node:http would have
 * sent, keep-alive and pipelining intact, and node:http's own path where it must shape the answer.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHoldpush } from '../lib/index';
import { type Running, exchange, held, request, startServer, until } from './support/http';
import { RawConnection } from './support/raw-http';
import { Prebuilt } from '../lib/http/wire';

async function publish(running: Running, channel: string, body: string | Buffer, type = 'text/plain'): Promise<void> {
  const reply = await request(`${running.url}/pub/${channel}`, { method: 'POST', body, headers: { 'Content-Type': type } });
  assert.ok(reply.status === 201 || reply.status === 202, reply.text);
}

// Every answer the same with the fast path on (the default) and off (the way out of it).
for (const fastWire of [true, false]) {
  describe(`answers serialised once (fastWire: ${fastWire})`, () => {
    let running: Running;
    before(async () => {
      running = await startServer({ fastWire });
    });
    after(() => running.close());

    test('a delivered long-poll: status, Date, keep-alive, exact Content-Length; the connection serves the next request', async () => {
      const raw = new RawConnection(running.port);
      raw.send('GET /sub/wire-a HTTP/1.1\r\nHost: x\r\n\r\n');
      await held(running, 1);
      await publish(running, 'wire-a', 'first');
      const first = await raw.answer(0);
      assert.equal(first.statusLine, 'HTTP/1.1 200 OK');
      assert.equal(first.body.toString(), 'first');
      assert.equal(first.headers.get('content-length'), '5');
      assert.equal(first.headers.get('content-type'), 'text/plain');
      assert.equal(first.headers.get('connection'), 'keep-alive');
      assert.equal(first.headers.get('keep-alive'), 'timeout=65');
      assert.equal(first.headers.get('access-control-allow-origin'), '*');
      const date = Date.parse(first.headers.get('date') ?? '');
      assert.ok(Math.abs(date - Date.now()) < 5000, `Date: ${first.headers.get('date')}`);
      const etag = first.headers.get('etag') ?? '';
      assert.match(etag, /^[0-9a-z]+-\d+$/);
      raw.send(`GET /sub/wire-a HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\n\r\n`);
      await held(running, 1);
      await publish(running, 'wire-a', 'second');
      const second = await raw.answer(1);
      assert.equal(second.body.toString(), 'second');
      assert.equal(raw.ended, false);
      raw.close();
    });

    test('pipelined long-polls on one connection are answered in order, each whole', async () => {
      const raw = new RawConnection(running.port);
      raw.send('GET /sub/wire-b HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/wire-b HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n');
      await held(running, 2);
      await publish(running, 'wire-b', 'both');
      const poll = await raw.answer(0);
      const batch = await raw.answer(1);
      assert.equal(poll.body.toString(), 'both');
      const json = JSON.parse(batch.body.toString()) as { messages: { data: string }[] };
      assert.deepEqual(json.messages.map((m) => m.data), ['both']);
      assert.equal(batch.headers.get('content-type'), 'application/json; charset=utf-8');
      raw.close();
    });

    test('a pipelined held request (queued behind another) is forgotten when its connection goes', async () => {
      for (const accept of ['text/plain', 'text/event-stream']) {
        const raw = new RawConnection(running.port);
        raw.send(`GET /sub/wire-q HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/wire-q HTTP/1.1\r\nHost: x\r\nAccept: ${accept}\r\n\r\n`);
        await held(running, 2);
        raw.close();
        await held(running, 0);
      }
    });

    test('binary bodies arrive byte for byte, small (in the head string) and large (a buffer of their own)', async () => {
      const small = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const large = Buffer.alloc(40 * 1024);
      for (let i = 0; i < large.length; i++) large[i] = (i * 7 + 3) & 0xff;
      for (const [channel, bytes] of [['wire-small', small], ['wire-large', large]] as const) {
        const raw = new RawConnection(running.port);
        raw.send(`GET /sub/${channel} HTTP/1.1\r\nHost: x\r\n\r\n`);
        await held(running, 1);
        await publish(running, channel, bytes, 'application/octet-stream');
        const answer = await raw.answer(0);
        assert.equal(answer.headers.get('content-length'), String(bytes.length));
        assert.ok(answer.body.equals(bytes), `${channel}: the bytes differ`);
        raw.close();
        await held(running, 0);
      }
    });

    test('a batch answer with non-ASCII text: Content-Length counts UTF-8 bytes', async () => {
      await publish(running, 'wire-utf8', 'déjà vu ✓');
      // Read to the end of the connection, not by Content-Length, so that a wrong one shows.
      const bytes = await exchange(running.port, 'GET /sub/wire-utf8?last_event_id=0-0 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n');
      const end = bytes.indexOf('\r\n\r\n');
      const head = bytes.subarray(0, end).toString('latin1');
      const body = bytes.subarray(end + 4);
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.equal(/\r\nContent-Length: (\d+)/i.exec(head)?.[1], String(body.length), head);
      const json = JSON.parse(body.toString('utf8')) as { messages: { data: string }[] };
      assert.equal(json.messages.at(-1)?.data, 'déjà vu ✓');
    });

    test('the Date of a message answered again a second later is that second, not the first', async () => {
      await publish(running, 'wire-date', 'dated');
      const ask = () => request(`${running.url}/sub/wire-date?last_event_id=${encodeURIComponent('0-0')}`);
      const first = await ask();
      const second0 = Math.floor(Date.now() / 1000);
      await until(() => Math.floor(Date.now() / 1000) > second0 + 1, 3000, 'the next second');
      const again = await ask();
      assert.equal(again.text, 'dated');
      assert.ok(Date.parse(again.headers.date ?? '') > Date.parse(first.headers.date ?? ''), `${first.headers.date} then ${again.headers.date}`);
    });

    test('node:http shapes what it must: HEAD has no body, Connection: close closes, HTTP/1.0 closes', async () => {
      const head = new RawConnection(running.port);
      head.send('HEAD /sub/wire-c HTTP/1.1\r\nHost: x\r\n\r\n', true);
      const close = new RawConnection(running.port);
      close.send('GET /sub/wire-c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const old = new RawConnection(running.port);
      old.send('GET /sub/wire-c HTTP/1.0\r\n\r\n');
      await held(running, 3);
      await publish(running, 'wire-c', 'shaped');
      const headAnswer = await head.answer(0);
      assert.equal(headAnswer.statusLine, 'HTTP/1.1 200 OK');
      assert.equal(headAnswer.headers.get('content-length'), '6');
      // A body would show up as the start of a second answer.
      head.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal((await head.answer(1)).statusLine, 'HTTP/1.1 200 OK');
      for (const raw of [close, old]) {
        const answer = await raw.answer(0);
        assert.equal(answer.body.toString(), 'shaped');
        assert.equal(answer.headers.get('connection'), 'close');
        await until(() => raw.ended, 5000, 'the server to close the connection');
      }
      for (const raw of [head, close, old]) raw.close();
    });

    test('the publish API refuses a content type or event name that would break the framing', async () => {
      await assert.rejects(running.holdpush.publish('wire-d', 'x', { contentType: 'text/plain\r\nX-Evil: 1' }), TypeError);
      await assert.rejects(running.holdpush.publish('wire-d', 'x', { event: 'a\ndata: b' }), TypeError);
      const fine = await running.holdpush.publish('wire-d', 'x', { contentType: 'text/plain; charset=utf-8', event: 'note' });
      assert.match(fine.id, /^\d+:[0-9a-z]+-\d+$/);
    });
  });

  describe(`the connections of an app that embeds holdpush (fastWire: ${fastWire})`, () => {
    test('one close listener per connection, however many times it re-polls; holdpush.close() takes it off', async (t) => {
      const holdpush = createHoldpush({ log: 'off', fastWire });
      const sockets = new Set<Socket>();
      const server = createServer((req, res) => {
        sockets.add(req.socket);
        if (!holdpush.handle(req, res)) res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });
      const port = (server.address() as AddressInfo).port;
      const raw = new RawConnection(port);
      const closeListeners = () => [...sockets][0]?.listenerCount('close') ?? 0;
      raw.send('GET /sub/conn HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => holdpush.stats().held.total === 1, 5000, 'held');
      const withOne = closeListeners();
      for (let i = 0; i < 5; i++) {
        await holdpush.publish('conn', `m${i}`);
        const answer = await raw.answer(i);
        raw.send(`GET /sub/conn HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${answer.headers.get('etag') ?? ''}\r\n\r\n`);
        await until(() => holdpush.stats().held.total === 1, 5000, 'held again');
      }
      assert.equal(sockets.size, 1);
      assert.equal(closeListeners(), withOne);
      await holdpush.close();
      assert.equal(closeListeners(), withOne - 1);
      raw.close();
    });
  });

  describe(`two holdpush instances on one server (fastWire: ${fastWire})`, () => {
    test('holds of both on one pipelined connection are each forgotten by their own when it goes', async (t) => {
      const first = createHoldpush({ log: 'off', prefix: '/one', fastWire });
      const second = createHoldpush({ log: 'off', prefix: '/two', fastWire });
      const server = createServer((req, res) => {
        if (!first.handle(req, res) && !second.handle(req, res)) res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(async () => {
        await Promise.all([first.close(), second.close()]);
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });
      const raw = new RawConnection((server.address() as AddressInfo).port);
      raw.send('GET /one/sub/a HTTP/1.1\r\nHost: x\r\n\r\nGET /two/sub/b HTTP/1.1\r\nHost: x\r\n\r\nGET /one/sub/c HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => first.stats().held.total === 2 && second.stats().held.total === 1, 5000, 'held by both');
      raw.close();
      await until(() => first.stats().held.total === 0 && second.stats().held.total === 0, 5000, 'both forgotten');
    });
  });

  describe(`in an app whose server limits requests per connection (fastWire: ${fastWire})`, () => {
    test('the last request a connection may make is answered with Connection: close, as node:http would', async (t) => {
      const holdpush = createHoldpush({ log: 'off', fastWire });
      const server = createServer((req, res) => {
        if (!holdpush.handle(req, res)) res.writeHead(404).end();
      });
      server.maxRequestsPerSocket = 1;
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(async () => {
        await holdpush.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });
      const raw = new RawConnection((server.address() as AddressInfo).port);
      raw.send('GET /sub/limited HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => holdpush.stats().held.total === 1, 5000, 'held');
      await holdpush.publish('limited', 'last one');
      const answer = await raw.answer(0);
      assert.equal(answer.body.toString(), 'last one');
      assert.equal(answer.headers.get('connection'), 'close');
      raw.close();
    });
  });

  describe(`in an app that set headers of its own (fastWire: ${fastWire})`, () => {
    test('a held answer keeps the headers the app set before handing it over', async (t) => {
      const holdpush = createHoldpush({ log: 'off', fastWire });
      const server = createServer((req, res) => {
        res.setHeader('X-App', 'kept');
        if (!holdpush.handle(req, res)) res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(async () => {
        await holdpush.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const reply = request(`${url}/sub/app`);
      await until(() => holdpush.stats().held.total === 1, 5000, 'held');
      await holdpush.publish('app', 'hello');
      const answer = await reply;
      assert.equal(answer.text, 'hello');
      assert.equal(answer.headers['x-app'], 'kept');
      assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8');
    });
  });
}

/**
 * One conversation on one keep-alive connection: long-polls answered by a message (small text,
 * then a large binary body that does not ride in the head), a batch, channel info as text and
 * JSON, pipelined requests, HEAD. Returns each answer's bytes with what differs between two
 * servers by nature (the clock, the store's epoch) blanked.
 */
async function conversation(running: Running): Promise<string[]> {
  const raw = new RawConnection(running.port);
  try {
    raw.send('GET /sub/same HTTP/1.1\r\nHost: x\r\n\r\n');
    await held(running, 1);
    const first = await running.holdpush.publish('same', 'first', { contentType: 'text/plain' });
    const etag = (await raw.answer(0)).headers.get('etag') ?? '';
    raw.send(`GET /sub/same HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\n\r\n`);
    await held(running, 1);
    const large = Buffer.alloc(20 * 1024);
    for (let i = 0; i < large.length; i++) large[i] = (i * 13 + 5) & 0xff;
    await running.holdpush.publish('same', large, { contentType: 'application/octet-stream' });
    await raw.answer(1);
    raw.send(`GET /sub/same?last_event_id=0-0 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n`);
    raw.send('GET /pub/same HTTP/1.1\r\nHost: x\r\n\r\n');
    raw.send('GET /pub/same HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n');
    raw.send('HEAD /sub/same?last_event_id=0-0 HTTP/1.1\r\nHost: x\r\n\r\n', true);
    await raw.answer(5);
    raw.send('GET /sub/fresh HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n');
    raw.send('GET /sub/other HTTP/1.1\r\nHost: x\r\n\r\n');
    await held(running, 2);
    await running.holdpush.publish('fresh', 'déjà vu ✓');
    await running.holdpush.publish('other', 'second in line');
    await raw.answer(7);
    assert.equal(raw.ended, false);
    const epoch = (first.id.split(':')[1] ?? '').split('-')[0] ?? '';
    assert.ok(epoch.length > 0, first.id);
    return raw.answers.map((answer) =>
      answer.bytes
        .toString('latin1')
        .split(epoch)
        .join('E'.repeat(epoch.length))
        .replace(/\b\d{10}:E/g, 'SSSSSSSSSS:E')
        .replace(/"time":\d+/g, (match) => `"time":${'T'.repeat(match.length - 7)}`)
        .replace(/\r\n(Date|Last-Modified): [^\r\n]*/g, '\r\n$1: -'),
    );
  } finally {
    raw.close();
  }
}

describe('fastWire on and off', () => {
  test('anything but a boolean is a TypeError naming the option', () => {
    for (const bad of ['false', 0, null]) assert.throws(() => createHoldpush({ log: 'off', fastWire: bad as unknown as boolean }), (error: unknown) => error instanceof TypeError && /fastWire/.test(error.message), String(bad));
  });

  test("off, a message's answer goes through writeHead; on, it does not", async (t) => {
    for (const fastWire of [false, true]) {
      const holdpush = createHoldpush({ log: 'off', fastWire });
      let writeHeads = 0;
      const server = createServer((req, res) => {
        const writeHead = res.writeHead;
        res.writeHead = function countedWriteHead(this: typeof res, ...args: Parameters<typeof writeHead>) {
          writeHeads += 1;
          return writeHead.apply(this, args);
        } as typeof writeHead;
        if (!holdpush.handle(req, res)) res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(async () => {
        await holdpush.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });
      // A keep-alive connection: one that closes takes writeHead either way.
      const raw = new RawConnection((server.address() as AddressInfo).port);
      t.after(() => raw.close());
      raw.send('GET /sub/counted HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => holdpush.stats().held.total === 1, 5000, 'held');
      await holdpush.publish('counted', 'hello');
      assert.equal((await raw.answer(0)).body.toString(), 'hello');
      assert.equal(writeHeads, fastWire ? 0 : 1, `fastWire: ${fastWire}`);
    }
  });

  test('the same answers, byte for byte but for the clock and the store epoch', async (t) => {
    const fast = await startServer({ fastWire: true });
    t.after(() => fast.close());
    const plain = await startServer({ fastWire: false });
    t.after(() => plain.close());
    const [withFast, withPlain] = [await conversation(fast), await conversation(plain)];
    assert.equal(withFast.length, 8);
    assert.deepEqual(new Set(withFast.map((text) => text.slice(0, text.indexOf('\r\n')))), new Set(['HTTP/1.1 200 OK']));
    assert.match(withFast[3] ?? '', /\r\nKeep-Alive: timeout=65\r\n\r\nqueued messages: 2\r\n/);
    for (let i = 0; i < withFast.length; i++) assert.equal(withFast[i], withPlain[i], `answer ${i + 1}`);
  });
});

test('a prebuilt answer refuses what writeHead refuses, however often its valid headers were checked before', () => {
  const good = ['Content-Type', 'text/plain', 'X-Name', 'value'];
  for (let i = 0; i < 3; i++) new Prebuilt(200, good, 'x');
  for (let i = 0; i < 2; i++) {
    assert.throws(() => new Prebuilt(200, ['Content-Type', 'text/plain\r\nX-Injected: 1'], 'x'), { code: 'ERR_INVALID_CHAR' });
    assert.throws(() => new Prebuilt(200, ['Content-Type', 'text/plain\u0000'], 'x'), { code: 'ERR_INVALID_CHAR' });
    assert.throws(() => new Prebuilt(200, ['Bad Name', 'value'], 'x'), { code: 'ERR_INVALID_HTTP_TOKEN' });
  }
});
