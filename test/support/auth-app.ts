/**
 * A real node:http app that answers holdpush's `--auth-url` questions, for the tests: by
 * default by cookie (`session=alice` and `session=bob` may, `session=mallory` is refused `403`,
 * anyone else `401` with a `WWW-Authenticate`); a test swaps `answer` to make it slow,
 * broken or hold its answers.
 */
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { until } from './http';

export const CHALLENGE = 'Cookie realm="app", form="/login"';

export interface Question {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Header names exactly as they came, in order (`rawHeaders`). */
  readonly names: string[];
}

export type Answer = (req: IncomingMessage, res: ServerResponse) => void;

export interface AuthApp {
  readonly port: number;
  /** The URL to give `--auth-url` (path `/auth?from=holdpush`). */
  readonly url: string;
  readonly questions: Question[];
  /** How it answers the next questions. */
  answer: Answer;
  close(): Promise<void>;
}

/** Answers by the `session` cookie, adding `headers` (such as a `Cache-Control`) to every answer. */
export function byCookie(headers: Record<string, string> = {}): Answer {
  return (req, res) => {
    const session = /(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
    if (session === 'alice' || session === 'bob') res.writeHead(200, headers).end('ok');
    else if (session === 'mallory') res.writeHead(403, headers).end('no');
    else res.writeHead(401, { ...headers, 'WWW-Authenticate': CHALLENGE }).end('who?');
  };
}

export async function startAuthApp(port = 0): Promise<AuthApp> {
  const sockets = new Set<Socket>();
  const questions: Question[] = [];
  const app: AuthApp = {
    port: 0,
    url: '',
    questions,
    answer: byCookie(),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    questions.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, names: req.rawHeaders.filter((_, i) => i % 2 === 0) });
    app.answer(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return Object.assign(app, { port: bound, url: `http://127.0.0.1:${bound}/auth?from=holdpush` });
}

export interface EventStream {
  readonly status: Promise<number>;
  /** Resolves with what came so far once `want` shows in it. */
  waitFor(want: string, ms?: number): Promise<string>;
  close(): void;
}

/** An EventSource request with the given headers (a cookie, say), read as it comes. */
export function eventStream(url: string, headers: Record<string, string>): EventStream {
  let text = '';
  let resolveStatus: (status: number) => void = () => undefined;
  const status = new Promise<number>((resolve) => {
    resolveStatus = resolve;
  });
  const req = httpRequest(url, { agent: false, headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
    resolveStatus(res.statusCode ?? 0);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
    });
  });
  req.on('error', () => undefined);
  req.end();
  return {
    status,
    async waitFor(want, ms = 5000) {
      await until(() => text.includes(want), ms, `the stream to show ${want}: ${text}`);
      return text;
    },
    close: () => req.destroy(),
  };
}
