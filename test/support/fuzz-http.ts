/**
 * Sending fuzz cases and judging the answers: node:http for well-formed requests, node:net for
 * raw bytes (with a small HTTP/1.1 response parser), and the rules every answer must keep.
 */
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { HttpCase, RawCase } from './fuzz-gen';

export interface SeenResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The body arrived whole (an EventSource stream we closed, or a cut response, did not). */
  readonly complete: boolean;
}

export interface Outcome {
  readonly responses: SeenResponse[];
  /** A client-side error code (ECONNRESET, ...) or 'no answer' at our own deadline. */
  error: string | undefined;
  /** The server closed the connection (raw lane), or answered (http lane). */
  closedByServer: boolean;
  /** Bytes after the last response that are not HTTP (raw lane). */
  junk: string;
  /** Bytes the server sent (raw lane). */
  received: number;
  ms: number;
}

/** Longest body kept of one answer (static pages are a few KiB; nothing should be larger). */
const BODY_CAP = 4 * 1024 * 1024;

/**
 * Sends one request on its own connection. An EventSource stream is read up to its first
 * bytes and then closed from this side, as a browser tab that goes away.
 */
export function sendHttp(port: number, c: HttpCase, pieces: readonly number[], deadlineMs: number): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const outcome: Outcome = { responses: [], error: undefined, closedByServer: false, junk: '', received: 0, ms: 0 };
    let settled = false;
    function settle(): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome.ms = Date.now() - started;
      req.destroy();
      resolve(outcome);
    }
    const headers: Record<string, string> = { ...c.headers };
    // Node's client frames a GET (HEAD, DELETE, ...) body only when told its length.
    if (c.chunked) headers['Transfer-Encoding'] = 'chunked';
    else if (c.body !== undefined) headers['Content-Length'] = String(c.body.length);
    const req = httpRequest({ host: '127.0.0.1', port, method: c.method, path: c.path, headers, agent: false });
    const timer = setTimeout(() => {
      outcome.error ??= 'no answer';
      settle();
    }, deadlineMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      outcome.error ??= error.code ?? error.message;
      settle();
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const stream = (res.headers['content-type'] ?? '').includes('text/event-stream');
      const done = (complete: boolean) => {
        outcome.responses.push({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete });
        outcome.closedByServer = true;
        settle();
      };
      res.on('data', (chunk: Buffer) => {
        if (size < BODY_CAP) chunks.push(chunk);
        size += chunk.length;
        if (stream) done(false);
      });
      res.on('end', () => done(true));
      res.on('error', (error: NodeJS.ErrnoException) => {
        outcome.error ??= error.code ?? error.message;
        done(false);
      });
      res.on('aborted', () => {
        outcome.error ??= 'aborted';
      });
    });
    if (c.body === undefined) {
      req.end();
    } else if (!c.chunked) {
      req.end(c.body);
    } else {
      let at = 0;
      for (const size of pieces) {
        if (at >= c.body.length) break;
        req.write(c.body.subarray(at, at + size));
        at += size;
      }
      req.end(at < c.body.length ? c.body.subarray(at) : undefined);
    }
  });
}

/** Writes raw bytes and reads whatever comes back until the server closes (or our deadline). */
export function sendRaw(port: number, c: RawCase, deadlineMs: number): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const outcome: Outcome = { responses: [], error: undefined, closedByServer: false, junk: '', received: 0, ms: 0 };
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const timer = setTimeout(() => {
      outcome.error ??= 'no answer';
      socket.destroy();
    }, deadlineMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      outcome.closedByServer = true;
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset is the server closing with our bytes still unread: closed by the server too.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') outcome.closedByServer = true;
      else outcome.error ??= error.code ?? error.message;
    });
    socket.on('close', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome.ms = Date.now() - started;
      const data = Buffer.concat(chunks);
      outcome.received = data.length;
      const parsed = parseResponses(data);
      outcome.responses.push(...parsed.responses);
      outcome.junk = parsed.junk;
      resolve(outcome);
    });
    let index = 0;
    const writeNext = (): void => {
      if (socket.destroyed) return;
      const segment = c.segments[index];
      index += 1;
      if (segment === undefined) {
        if (c.end) socket.end();
        return;
      }
      socket.write(segment);
      if (c.gapMs > 0) setTimeout(writeNext, c.gapMs);
      else writeNext();
    };
    socket.once('connect', writeNext);
  });
}

/** Splits a byte stream into HTTP/1.1 responses; what cannot be read as one is `junk`. */
export function parseResponses(data: Buffer): { responses: SeenResponse[]; junk: string } {
  const responses: SeenResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    const status = /^HTTP\/1\.[01] (\d{3})[^\r\n]*/.exec(data.subarray(at, Math.min(data.length, at + 200)).toString('latin1'));
    if (status === null) break;
    if (end < 0) {
      // Headers cut off: the server went away mid-answer (a reset); keep the status.
      responses.push({ status: Number(status[1]), headers: {}, body: Buffer.alloc(0), complete: false });
      return { responses, junk: '' };
    }
    const lines = data.subarray(at, end).toString('latin1').split('\r\n');
    const headers: IncomingHttpHeaders = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const code = Number(status[1]);
    at = end + 4;
    if (code >= 100 && code < 200) continue;
    if (code === 204 || code === 304) {
      responses.push({ status: code, headers, body: Buffer.alloc(0), complete: true });
      continue;
    }
    if (String(headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      let complete = false;
      while (at < data.length) {
        const lineEnd = data.indexOf('\r\n', at);
        if (lineEnd < 0) break;
        const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        at = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n', at);
          at = trailerEnd < 0 ? data.length : trailerEnd + 2;
          complete = true;
          break;
        }
        parts.push(data.subarray(at, Math.min(data.length, at + size)));
        at = Math.min(data.length, at + size + 2);
      }
      responses.push({ status: code, headers, body: Buffer.concat(parts), complete });
      if (!complete) return { responses, junk: '' };
      continue;
    }
    const length = headers['content-length'];
    if (length !== undefined) {
      const size = Number(length);
      const body = data.subarray(at, at + size);
      responses.push({ status: code, headers, body, complete: body.length === size });
      at += size;
      continue;
    }
    responses.push({ status: code, headers, body: data.subarray(at), complete: true });
    at = data.length;
  }
  return { responses, junk: at < data.length ? data.subarray(at, at + 120).toString('latin1') : '' };
}

/**
 * The rules of docs/protocol.md ("Errors and limits") every answer keeps: no 5xx but 503;
 * every 4xx and 503 is a JSON body `{"error", "message"}` (HEAD answers carry no body); a
 * stream opens with a comment.
 * Returns what is wrong, or undefined.
 */
export function judge(method: string, response: SeenResponse): string | undefined {
  const { status, headers, body } = response;
  if (status >= 500 && status !== 503) return `a ${status}`;
  if (status < 100 || status > 599) return `status ${status}`;
  if (status >= 400) {
    if (method === 'HEAD') return undefined;
    if (!response.complete) return `a ${status} with a cut body`;
    if (!String(headers['content-type'] ?? '').startsWith('application/json')) return `a ${status} that is not JSON (Content-Type ${String(headers['content-type'])}): ${JSON.stringify(body.toString('latin1').slice(0, 100))}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return `a ${status} whose body does not parse: ${JSON.stringify(body.toString('latin1').slice(0, 100))}`;
    }
    const { error, message } = (parsed ?? {}) as { error?: unknown; message?: unknown };
    if (typeof error !== 'string' || typeof message !== 'string') return `a ${status} without error and message: ${body.toString('utf8').slice(0, 100)}`;
    if (status === 503 && headers['retry-after'] === undefined) return 'a 503 without Retry-After';
  }
  if (status === 200 && String(headers['content-type'] ?? '').includes('text/event-stream') && method !== 'HEAD' && body.length > 0 && body[0] !== 0x3a) {
    return `a stream that does not open with a comment: ${JSON.stringify(body.toString('utf8').slice(0, 40))}`;
  }
  return undefined;
}
