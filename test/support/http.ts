import { type Agent, type IncomingHttpHeaders, type IncomingMessage, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CreateHoldpushOptions, type Holdpush, createHoldpushServer } from '../../lib/index';

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

export interface Running {
  readonly url: string;
  readonly port: number;
  readonly holdpush: Holdpush;
  close(): Promise<void>;
}

/** A real holdpush server on 127.0.0.1, port 0, logging off unless asked. */
export async function startServer(options: CreateHoldpushOptions = {}): Promise<Running> {
  const { server, holdpush } = createHoldpushServer({ log: 'off', ...options });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    holdpush,
    async close() {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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

/** Resolves once `check` holds, polling every few ms; rejects after `ms`. */
export async function until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until the server holds `count` subscribers. */
export function held(running: Running, count: number): Promise<void> {
  return until(() => running.holdpush.stats().held.total === count, 5000, `${count} held`);
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

export interface StreamReader {
  /** Resolves with the text once `want` shows in it; rejects after `ms`. */
  waitFor(want: string, ms?: number): Promise<string>;
  close(): void;
}

/** Reads an EventSource stream (on `agent`'s connection when given, else one of its own). */
export function openStream(url: string, agent: Agent | false = false): StreamReader {
  let text = '';
  const req = httpRequest(url, { agent, headers: { Accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
    });
  });
  req.on('error', () => undefined);
  req.end();
  return {
    async waitFor(want, ms = 5000) {
      await until(() => text.includes(want), ms, `the stream to show ${want}: ${text}`);
      return text;
    },
    close: () => req.destroy(),
  };
}
