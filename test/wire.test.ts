/**
 * The bytes of answers that holdpush serialises itself (lib/wire.ts): what node:http would have
 * sent, keep-alive and pipelining intact, and node:http's own path where it must shape the answer.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHoldpush } from '../lib/index';
import { type Running, exchange, held, request, startServer, until } from './support/http';

interface RawAnswer {
  statusLine: string;
  headers: Map<string, string>;
  body: Buffer;
}

/** A raw keep-alive connection that splits what it receives into answers by Content-Length. */
class RawConnection {
  readonly socket: Socket;
  readonly answers: RawAnswer[] = [];
  ended = false;
  private pending = Buffer.alloc(0);
  /** Answers to HEAD requests have no body, whatever their Content-Length says. */
  private heads: boolean[] = [];

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.split();
    });
    this.socket.on('end', () => {
      this.ended = true;
    });
  }

  send(text: string, head = false): void {
    this.heads.push(head);
    this.socket.write(text);
  }

  private split(): void {
    for (;;) {
      const end = this.pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.pending.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      const length = this.heads[this.answers.length] === true ? 0 : Number(headers.get('content-length') ?? 0);
      if (this.pending.length < end + 4 + length) return;
      this.answers.push({ statusLine: lines[0] as string, headers, body: Buffer.from(this.pending.subarray(end + 4, end + 4 + length)) });
      this.pending = this.pending.subarray(end + 4 + length);
    }
  }

  async answer(index: number): Promise<RawAnswer> {
    await until(() => this.answers.length > index, 5000, `answer ${index + 1}`);
    return this.answers[index] as RawAnswer;
  }

  close(): void {
    this.socket.destroy();
  }
}

async function publish(running: Running, channel: string, body: string | Buffer, type = 'text/plain'): Promise<void> {
  const reply = await request(`${running.url}/pub/${channel}`, { method: 'POST', body, headers: { 'Content-Type': type } });
  assert.ok(reply.status === 201 || reply.status === 202, reply.text);
}

describe('answers serialised once', () => {
  let running: Running;
  before(async () => {
    running = await startServer();
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

describe('the connections of an app that embeds holdpush', () => {
  test('one close listener per connection, however many times it re-polls; holdpush.close() takes it off', async (t) => {
    const holdpush = createHoldpush({ log: 'off' });
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

describe('two holdpush instances on one server', () => {
  test('holds of both on one pipelined connection are each forgotten by their own when it goes', async (t) => {
    const first = createHoldpush({ log: 'off', prefix: '/one' });
    const second = createHoldpush({ log: 'off', prefix: '/two' });
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

describe('in an app whose server limits requests per connection', () => {
  test('the last request a connection may make is answered with Connection: close, as node:http would', async (t) => {
    const holdpush = createHoldpush({ log: 'off' });
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

describe('in an app that set headers of its own', () => {
  test('a held answer keeps the headers the app set before handing it over', async (t) => {
    const holdpush = createHoldpush({ log: 'off' });
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
