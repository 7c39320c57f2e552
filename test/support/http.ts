/** HTTP from a test's side: whole requests, paths sent as they are, raw sockets, forms, answers read. */
import { type Agent, type IncomingHttpHeaders, type IncomingMessage, createServer, request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Running } from './servers';
import { openEventStream } from './sse';
import { waitFor } from './wait';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): unknown;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

/** One HTTP request on its own connection; resolves with the whole answer. */
export function request(url: string, options: RequestOptions = {}): Promise<Reply> {
  return send(url, options);
}

/** The same, to 127.0.0.1:`port` with `path` sent exactly as given (no URL normalisation). */
export function requestRaw(port: number, path: string, options: RequestOptions = {}): Promise<Reply> {
  return send({ host: '127.0.0.1', port, path }, options);
}

/**
 * A request whose path is sent exactly as given (a URL string would be normalised by the
 * WHATWG parser: `/sub/..` and `/sub/%2E%2E` would become `/`).
 */
export function requestPath(running: Running, path: string, options: RequestOptions = {}): Promise<Reply> {
  return requestRaw(running.port, path, options);
}

function send(target: string | { host: string; port: number; path: string }, options: RequestOptions): Promise<Reply> {
  const settings = { method: options.method ?? 'GET', headers: options.headers, agent: false, signal: options.signal };
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
    };
    const req = typeof target === 'string' ? httpRequest(target, settings, onResponse) : httpRequest({ ...target, ...settings }, onResponse);
    req.on('error', reject);
    req.end(options.body);
  });
}

/** `POST /pub/<channel>` over HTTP. */
export function pub(running: Running, channel: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return request(`${running.url}/pub/${channel}`, { method: 'POST', body, headers });
}

/** The cursor token of a message id `"<seconds>:<T>"`. */
export function tokenOf(id: string): string {
  return id.slice(id.indexOf(':') + 1);
}

/** The JSON error body of a reply, checked for its shape. */
export function errorOf(reply: Reply): { error: string; message: string } {
  const body = reply.json() as { error: string; message: string };
  if (typeof body.error !== 'string' || typeof body.message !== 'string') throw new Error(`not an error body: ${reply.text}`);
  return body;
}

/** Waits until the holdpush at `base` (in another process) holds `count` subscribers, as its /stats says. */
export function heldAt(base: string, count: number): Promise<void> {
  const total = async () => ((await request(`${base}/stats`)).json() as { held: { total: number } }).held.total;
  return waitFor(async () => (await total()) === count, 5000, `${count} held at ${base}`);
}

/**
 * Writes `bytes` on a connection of its own and resolves with every byte that comes back until
 * the server closes it (so a body is read to the end, whatever its Content-Length says).
 */
export function exchange(port: number, bytes: string | Buffer, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(new Error(`the server kept the connection open for ${ms} ms`)), ms);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.write(bytes);
  });
}

/** A port that was free a moment ago (for a server that must come back on the same port), found by listening on port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function multipart(fields: Record<string, string>): { body: Buffer; type: string } {
  const boundary = `----holdpush${Math.random().toString(16).slice(2)}`;
  let text = '';
  for (const [name, value] of Object.entries(fields)) {
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  text += `--${boundary}--\r\n`;
  return { body: Buffer.from(text), type: `multipart/form-data; boundary=${boundary}` };
}

// Kept under their old names for the test files other branches are reshaping at the same time
// (the store tests, log, wire, embed, browser); new code imports them from their own modules.
export { type Running, held, startServer } from './servers';
export { waitFor as until } from './wait';

export interface StreamReader {
  /** Resolves with the text once `want` shows in it; rejects after `ms`. */
  waitFor(want: string, ms?: number): Promise<string>;
  close(): void;
}

/** sse.ts's reader in the shape the store tests use: returned at once, closable before it opens. */
export function openStream(url: string, agent: Agent | false = false): StreamReader {
  const controller = new AbortController();
  let text = () => '';
  openEventStream(url, { agent, signal: controller.signal }).then(
    (stream) => {
      text = stream.text;
    },
    () => undefined,
  );
  return {
    async waitFor(want, ms = 5000) {
      await waitFor(() => text().includes(want), ms, () => `the stream to show ${want}: ${text()}`);
      return text();
    },
    close: () => controller.abort(),
  };
}
