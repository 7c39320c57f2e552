// What the fast path needs of node:http's internals, and the check that this Node has them.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/**
 * What node:http keeps on a response and reads when it builds a head: `_header` is the
 * serialised head (OutgoingMessage writes it before the first body bytes; `headersSent` is
 * `!!_header`); the others are what its `Connection` and `Keep-Alive` lines come from;
 * `outputData` is where a response's writes wait while it has no socket; `_headerSent` says
 * the head has gone to the socket, `chunkedEncoding` that body writes are framed as chunks.
 */
export type Outgoing = ServerResponse & {
  _header?: string | null;
  _headerSent?: boolean;
  chunkedEncoding?: boolean;
  maxRequestsOnConnectionReached?: boolean;
  _keepAliveTimeout?: number;
  _maxRequestsPerSocket?: number;
  outputData?: { data: unknown; encoding?: unknown }[];
};

/** Builds the head of a keep-alive answer as holdpush does (its `Date:` line given). */
export type HeadBuilder = (status: number, headers: readonly string[], date: string, keepAliveMs: number, maxRequests: number) => string;

const SAMPLE_HEADERS = ['Content-Type', 'text/plain', 'Content-Length', '2', 'X-Probe', 'a b'];
const SAMPLE_KEEP_ALIVE_MS = 65_000;
const SAMPLE_MAX_REQUESTS = 7;

/** A response to a keep-alive HTTP/1.1 GET that never gets a socket: its writes stay in outputData. */
function unsentResponse(): Outgoing {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  return new ServerResponse(req) as Outgoing;
}

/** The bytes a response has queued, in order. */
function queued(res: Outgoing): Buffer | undefined {
  const chunks: Buffer[] = [];
  for (const chunk of res.outputData ?? []) {
    if (typeof chunk.data === 'string') chunks.push(Buffer.from(chunk.data, chunk.encoding === 'utf8' ? 'utf8' : 'latin1'));
    else if (chunk.data instanceof Uint8Array) chunks.push(Buffer.from(chunk.data));
    else return undefined;
  }
  return Buffer.concat(chunks);
}

/**
 * Why this Node's node:http is not what the fast path of lib/http/wire.ts relies on, or undefined
 * when it is. Checked without a socket, in microseconds: a new response's fields have the
 * expected types; node's own head for a keep-alive answer is byte for byte the one `head`
 * builds; a head set through `_header` counts as sent (`headersSent`) and leaves, before the
 * body, in each of the three ways the fast path ends a response.
 */
export function httpInternalsMisfit(head: HeadBuilder): string | undefined {
  try {
    const fresh = unsentResponse();
    if (fresh._header !== null) return `a new response's _header is ${String(fresh._header)}, not null`;
    if (fresh.headersSent !== false) return 'a new response has headersSent';
    if (fresh.shouldKeepAlive !== true) return 'a new HTTP/1.1 response has shouldKeepAlive !== true';
    if (fresh.maxRequestsOnConnectionReached !== false) return 'maxRequestsOnConnectionReached is not a boolean false';
    if (typeof fresh._keepAliveTimeout !== 'number') return '_keepAliveTimeout is not a number';
    if (!Array.isArray(fresh.outputData)) return 'outputData is not an array';

    fresh._keepAliveTimeout = SAMPLE_KEEP_ALIVE_MS;
    fresh._maxRequestsPerSocket = SAMPLE_MAX_REQUESTS;
    fresh.writeHead(200, SAMPLE_HEADERS);
    const theirs = fresh._header;
    if (typeof theirs !== 'string') return `writeHead left _header ${typeof theirs}, not a string`;
    const dateLine = /\r\n(Date: [^\r\n]*\r\n)/.exec(theirs)?.[1] ?? '';
    const ours = head(200, SAMPLE_HEADERS, dateLine, SAMPLE_KEEP_ALIVE_MS, SAMPLE_MAX_REQUESTS);
    if (theirs !== ours) return `node:http's head is ${JSON.stringify(theirs)}, holdpush's ${JSON.stringify(ours)}`;

    const ends: [string, string, (res: Outgoing) => void][] = [
      ['a body inside the head', `${ours}hi`, (res) => res.end()],
      ['a string body', ours, (res) => res.end('hi', 'utf8')],
      ['a buffer body', ours, (res) => res.end(Buffer.from('hi'))],
    ];
    for (const [name, header, end] of ends) {
      const res = unsentResponse();
      res._header = header;
      if (res.headersSent !== true) return 'headersSent does not follow _header';
      end(res);
      if (!res.writableEnded) return `${name}: the response is not ended`;
      const bytes = queued(res);
      if (bytes === undefined || !bytes.equals(Buffer.from(`${ours}hi`, 'latin1'))) return `${name}: node:http queued ${JSON.stringify(bytes?.toString('latin1'))}`;
    }
    return undefined;
  } catch (error) {
    return `checking node:http threw ${(error as Error).message}`;
  }
}

/**
 * Why this Node's node:http does not frame a chunked body write as `frame` does (the stream
 * fast path, lib/http/stream-chunk.ts), or undefined when it does: a response to a keep-alive
 * GET whose head has no length is chunked, and a write after its head is queued as exactly the
 * bytes `frame` makes, after that head.
 */
export function chunkFramingMisfit(frame: (text: string) => Buffer): string | undefined {
  try {
    const res = unsentResponse();
    res.writeHead(200, ['Content-Type', 'text/event-stream']);
    if (res.chunkedEncoding !== true) return `a response without a length has chunkedEncoding ${String(res.chunkedEncoding)}`;
    if (res._headerSent !== false) return `_headerSent is ${String(res._headerSent)} before anything was written`;
    const text = 'id: 1\ndata: é\n\n';
    res.write(Buffer.from(text));
    const bytes = queued(res);
    const expected = Buffer.concat([Buffer.from(res._header ?? '', 'latin1'), frame(text)]);
    if (bytes === undefined || !bytes.equals(expected)) return `node:http queued ${JSON.stringify(bytes?.toString('latin1'))}`;
    // Read again: the write above changed it (TypeScript still sees the value checked before).
    const sent = res._headerSent as boolean | undefined;
    if (sent !== true) return `_headerSent is ${String(sent)} once the head was queued`;
    return undefined;
  } catch (error) {
    return `checking node:http threw ${(error as Error).message}`;
  }
}
