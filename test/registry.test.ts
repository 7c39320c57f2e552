/**
 * The registry's per-connection index (lib/registry.ts): one hold per connection kept without a
 * list, a list for a pipelined connection, and the connection kept listened on between re-polls.
 * Real sockets, raw requests, so that two long-polls can share one connection.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { held, serve } from './support/servers';
import { RawConnection } from './support/raw-http';
import { waitFor } from './support/wait';

const T = { timeout: 10_000 };

function poll(channel: string): string {
  return `GET /sub/${channel} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
}

test('a keep-alive connection re-polls: answered, held again, answered again; one close listener all along', T, async (t) => {
  const s = await serve(t);
  const sockets: Socket[] = [];
  s.server.on('connection', (socket: Socket) => sockets.push(socket));
  const closeListeners = (): number => sockets.reduce((count, socket) => count + socket.listenerCount('close'), 0);
  const conn = new RawConnection(s.port);
  t.after(() => conn.close());
  conn.send(poll('again'));
  await held(s, 1);
  const listeners = closeListeners();
  const first = await s.holdpush.publish('again', 'one');
  assert.equal((await conn.answer(0)).body.toString(), 'one');
  assert.equal(first.delivered, 1);
  await waitFor(() => s.holdpush.stats().held.total === 0, 5000, 'the answered poll to leave');
  conn.send(`GET /sub/again HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: ${first.id}\r\n\r\n`);
  await held(s, 1);
  assert.equal(closeListeners(), listeners, 'no listener added for the second hold on the same connection');
  await s.holdpush.publish('again', 'two');
  assert.equal((await conn.answer(1)).body.toString(), 'two');
  await waitFor(() => s.holdpush.stats().held.total === 0, 5000, 'the second poll to leave');
});

test('two long-polls pipelined on one connection: both held, both answered in order', T, async (t) => {
  const s = await serve(t);
  const conn = new RawConnection(s.port);
  t.after(() => conn.close());
  conn.send(poll('pipe') + poll('pipe'));
  await held(s, 2);
  const published = await s.holdpush.publish('pipe', 'both');
  assert.equal(published.delivered, 2);
  assert.equal((await conn.answer(0)).body.toString(), 'both');
  assert.equal((await conn.answer(1)).body.toString(), 'both');
  await waitFor(() => s.holdpush.stats().held.total === 0, 5000, 'both to leave');
});

test('pipelined: one released by its message, the other by the connection closing', T, async (t) => {
  const s = await serve(t);
  const conn = new RawConnection(s.port);
  t.after(() => conn.close());
  conn.send(poll('first') + poll('second'));
  await held(s, 2);
  await s.holdpush.publish('first', 'only the first');
  assert.equal((await conn.answer(0)).body.toString(), 'only the first');
  await waitFor(() => s.holdpush.stats().held.total === 1, 5000, 'the first to leave');
  assert.equal(s.holdpush.stats().held.longpoll, 1);
  conn.close();
  await waitFor(() => s.holdpush.stats().held.total === 0, 5000, 'the second to leave with its connection');
  const late = await s.holdpush.publish('second', 'nobody');
  assert.equal(late.delivered, 0);
});

test('a message releases its whole channel at once: a long-poll of two channels leaves the other one too', T, async (t) => {
  const s = await serve(t);
  const both = new RawConnection(s.port);
  const one = new RawConnection(s.port);
  t.after(() => {
    both.close();
    one.close();
  });
  both.send(poll('whole,other'));
  one.send(poll('whole'));
  await held(s, 2);
  assert.equal((await s.holdpush.publish('whole', 'to both')).delivered, 2);
  assert.equal((await both.answer(0)).body.toString(), 'to both');
  assert.equal((await one.answer(0)).body.toString(), 'to both');
  assert.equal(s.holdpush.stats().held.total, 0);
  assert.equal((await s.holdpush.publish('other', 'to nobody')).delivered, 0, 'the two-channel poll left its other channel');
  assert.equal((await s.holdpush.publish('whole', 'to nobody either')).delivered, 0);
});

test('a message on a channel with a stream and a long-poll: the long-poll leaves, the stream stays', T, async (t) => {
  const s = await serve(t);
  const stream = new RawConnection(s.port);
  const longPoll = new RawConnection(s.port);
  t.after(() => {
    stream.close();
    longPoll.close();
  });
  stream.send('GET /sub/mixed HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
  await held(s, 1);
  longPoll.send(poll('mixed'));
  await held(s, 2);
  assert.equal((await s.holdpush.publish('mixed', 'first')).delivered, 2);
  assert.equal((await longPoll.answer(0)).body.toString(), 'first');
  await held(s, 1);
  assert.equal((await s.holdpush.publish('mixed', 'second')).delivered, 1, 'only the stream is still held');
  await waitFor(() => stream.rest.toString().includes('data: second'), 5000, 'the stream to have the second message');
});
