/**
 * The stream fast path (lib/http/stream-chunk.ts): a message's EventSource event is framed once,
 * and each stream gets it in one socket write; the bytes on the wire are node:http's own.
 * Counted on the server's real sockets (their `write` wrapped, then called through).
 */
import assert from 'node:assert/strict';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { test } from 'node:test';
import { chunkFramingMisfit } from '../lib/http/http-internals';
import { StreamChunk, writeChunk } from '../lib/http/stream-chunk';
import { held, serve } from './support/servers';
import { waitFor } from './support/wait';

const T = { timeout: 15_000 };
const STREAMS = 3;
const MESSAGES = 5;

/** The `write` calls on a server-side socket since it was last cleared. */
function countWrites(socket: Socket, calls: unknown[][]): void {
  const write = socket.write;
  socket.write = function countedWrite(this: Socket, ...args: unknown[]): boolean {
    calls.push(args);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Socket['write'];
}

/** A raw EventSource request; `bytes()` is everything received, head and chunked body. */
function rawStream(port: number, path: string): { bytes: () => Buffer; close: () => void } {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  return { bytes: () => Buffer.concat(chunks), close: () => socket.destroy() };
}

/** The body of a chunked answer, its frames checked and taken off (what is left of a last frame stays out). */
function unchunk(raw: Buffer): string {
  let at = raw.indexOf('\r\n\r\n') + 4;
  let body = '';
  for (let i = 0; i < 10_000; i++) {
    const line = raw.indexOf('\r\n', at);
    if (line < 0) break;
    const size = Number.parseInt(raw.subarray(at, line).toString('latin1'), 16);
    assert.ok(Number.isInteger(size), `a chunk size line at ${at}`);
    if (raw.length < line + 2 + size + 2) break;
    body += raw.subarray(line + 2, line + 2 + size).toString('utf8');
    assert.equal(raw.subarray(line + 2 + size, line + 4 + size).toString('latin1'), '\r\n', 'a chunk ends with CRLF');
    at = line + 4 + size;
  }
  return body;
}

test('this Node frames a chunked write as StreamChunk does (else streams take res.write, with a warning)', () => {
  assert.equal(
    chunkFramingMisfit((text) => new StreamChunk(text).framed),
    undefined,
  );
  assert.match(chunkFramingMisfit((text) => Buffer.from(text)) ?? '', /node:http queued/, 'a wrong framing is caught');
});

test('a fan-out is one socket write per stream per message, of one buffer built for all streams', T, async (t) => {
  const s = await serve(t, { keepalive: 0.3 });
  const writes = new Map<Socket, unknown[][]>();
  s.server.on('connection', (socket: Socket) => {
    const calls: unknown[][] = [];
    writes.set(socket, calls);
    countWrites(socket, calls);
  });
  const streams = Array.from({ length: STREAMS }, () => rawStream(s.port, '/sub/fan'));
  t.after(() => {
    for (const stream of streams) stream.close();
  });
  await held(s, STREAMS);
  await waitFor(() => streams.every((stream) => unchunk(stream.bytes()).startsWith(':ok\n\n')), 5000, 'each stream to open');
  for (const calls of writes.values()) calls.length = 0;

  const ids: string[] = [];
  for (let i = 0; i < MESSAGES; i++) ids.push((await s.holdpush.publish('fan', `m${i} é`)).id);
  const expected = ids.map((id, i) => `id: ${id}\ndata: m${i} é\n\n`).join('');
  await waitFor(() => streams.every((stream) => unchunk(stream.bytes()).includes(expected)), 5000, 'every message on every stream');

  assert.equal(writes.size, STREAMS);
  const perSocket = [...writes.values()].map((calls) => calls.filter((args) => !isKeepalive(args[0])));
  for (const calls of perSocket) {
    assert.equal(calls.length, MESSAGES, 'one write per message');
    for (const args of calls) assert.ok(Buffer.isBuffer(args[0]), 'a prebuilt buffer, not a string to encode');
  }
  for (let i = 0; i < MESSAGES; i++) {
    const first = perSocket[0]?.[i]?.[0];
    for (const calls of perSocket) assert.equal(calls[i]?.[0], first, `message ${i}: the same buffer on every stream`);
  }

  // The keepalive comment takes the same path: one write of one prebuilt frame.
  for (const calls of writes.values()) calls.length = 0;
  await waitFor(() => [...writes.values()].every((calls) => calls.length > 0), 5000, 'a keepalive on every stream');
  for (const calls of writes.values()) {
    for (const args of calls) assert.ok(isKeepalive(args[0]), 'only keepalives while nothing is published');
  }
});

function isKeepalive(chunk: unknown): boolean {
  return Buffer.isBuffer(chunk) && chunk.toString('latin1') === '3\r\n:\n\n\r\n';
}

test('fastWire on and off put the same stream bytes on the wire', T, async (t) => {
  const bodies: string[] = [];
  for (const fastWire of [true, false]) {
    const s = await serve(t, { fastWire });
    await s.holdpush.publish('same', 'replayed\nline');
    const stream = rawStream(s.port, '/sub/same');
    t.after(() => stream.close());
    await held(s, 1);
    await waitFor(() => unchunk(stream.bytes()).includes('data: line\n\n'), 5000, 'the replay');
    await s.holdpush.publish('same', 'live ✓', { event: 'tick' });
    await waitFor(() => unchunk(stream.bytes()).includes('data: live ✓\n\n'), 5000, 'the live message');
    const raw = stream.bytes();
    const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4).toString('latin1');
    bodies.push(body.replace(/id: [^\n]*/g, 'id: -'));
  }
  assert.equal(bodies[0], bodies[1]);
});

test('writeChunk keeps the order of what res.write still holds (corked in this turn, or the head unsent)', T, async (t) => {
  let writesAfterFlush = -1;
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write('a\n');
    writeChunk(res, new StreamChunk('b\n'), true);
    writeChunk(res, new StreamChunk('c\n'), true);
    setImmediate(() => {
      const socket = res.socket as Socket;
      const calls: unknown[][] = [];
      countWrites(socket, calls);
      writeChunk(res, new StreamChunk('d ✓\n'), true);
      writesAfterFlush = calls.length;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const stream = rawStream((server.address() as AddressInfo).port, '/');
  t.after(() => stream.close());
  await waitFor(() => stream.bytes().includes('\r\n0\r\n\r\n'), 5000, 'the whole answer');
  assert.equal(unchunk(stream.bytes()), 'a\nb\nc\nd ✓\n');
  assert.equal(writesAfterFlush, 1, 'once nothing waits in node:http, one socket write');
});
