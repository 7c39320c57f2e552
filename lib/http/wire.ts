// The prebuilt fast path for hot answers: status, headers and body serialised once, written whole.
import { STATUS_CODES, type ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import { type Outgoing, httpInternalsMisfit } from './http-internals';

/** Bodies up to this size ride inside the head string: one socket write, no Buffer per response. */
const INLINE_BODY_LIMIT = 16 * 1024;

let dateSecond = -1;
let dateLine = '';

/** `Date: ...\r\n` for the current second (node:http caches its own the same way). */
function currentDateLine(second: number): string {
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

/**
 * The head node:http writes for a keep-alive answer with these headers: status line, the
 * headers, `Date`, `Connection: keep-alive`, and its `Keep-Alive` hint, so that clients such
 * as undici keep the connection as long as the server does.
 */
export function keepAliveHead(status: number, headers: readonly string[], date: string, keepAliveMs: number, maxRequests: number): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i] as string}: ${headers[i + 1] as string}\r\n`;
  head += `${date}Connection: keep-alive\r\n`;
  if (keepAliveMs > 0) head += `Keep-Alive: timeout=${Math.floor(keepAliveMs / 1000)}${maxRequests > 0 ? `, max=${maxRequests}` : ''}\r\n`;
  return `${head}\r\n`;
}

/** Header names and values (short ones) that passed node's checks, up to a bound: most answers repeat the same few. */
const CHECKED_LIMIT = 1024;
const CHECKED_LENGTH = 128;
const checkedNames = new Set<string>();
const checkedValues = new Set<string>();

/**
 * node:http's own checks of a header (a value's validity does not depend on its name), each
 * name and value checked once while the sets have room: every answer's header pairs are
 * otherwise the same constants checked again per response.
 */
function checkHeader(name: string, value: string): void {
  if (!checkedNames.has(name)) {
    validateHeaderName(name);
    if (checkedNames.size < CHECKED_LIMIT && name.length <= CHECKED_LENGTH) checkedNames.add(name);
  }
  if (!checkedValues.has(value)) {
    validateHeaderValue(name, value);
    if (checkedValues.size < CHECKED_LIMIT && value.length <= CHECKED_LENGTH) checkedValues.add(value);
  }
}

let checked = false;
let misfit: string | undefined;

/**
 * Why this Node's node:http is not what the fast path relies on, or undefined when it is;
 * checked once per process. A misfit sends every answer through `writeHead` (with one
 * warning) rather than risk a corrupt answer.
 */
export function fastPathMisfit(): string | undefined {
  if (!checked) {
    checked = true;
    misfit = httpInternalsMisfit(keepAliveHead);
    if (misfit !== undefined) process.emitWarning(`node:http ${process.version} is not what holdpush's fast path expects (${misfit}); answers take writeHead`, 'HoldpushWarning');
  }
  return misfit;
}

/**
 * A complete answer (status, headers, body) serialised by holdpush itself, and written to one
 * response or to many. `writeHead` would re-validate and re-serialise the same header block for
 * every response, and write head and body as two chunks. Here the block is built once per
 * second (its `Date`) and handed to node:http as the response's head, so node's own keep-alive,
 * pipelining and 'finish' bookkeeping still run, and head and body leave in one write.
 * Responses that node:http must shape itself (HEAD, a closing connection, the last request a
 * server's maxRequestsPerSocket allows, headers set by an embedding app) take `writeHead`;
 * so does every answer with the `fastWire` option off, or on a Node whose node:http is not as
 * this expects (lib/http/http-internals.ts).
 */
export class Prebuilt {
  /** The serialised head, and a small body after it (latin1: byte for byte). */
  private wire = '';
  private readonly inline: boolean;
  private second = -1;
  /** The server's keep-alive settings the head was built with (ms; requests, 0 for no limit). */
  private keepAliveMs = 0;
  private maxRequests = 0;

  /**
   * A string body is sent as UTF-8, or, with `bytes`, is bytes already (latin1 text: one
   * character per byte, its length theirs), so that it is neither measured nor encoded again.
   */
  constructor(
    readonly status: number,
    readonly headers: readonly string[],
    readonly body: Buffer | string,
    private readonly bytes = false,
  ) {
    // What writeHead would refuse (a CR or LF in a publisher's content type) must not reach the wire.
    for (let i = 0; i + 1 < headers.length; i += 2) checkHeader(headers[i] as string, headers[i + 1] as string);
    this.inline = (typeof body !== 'string' || bytes ? body.length : Buffer.byteLength(body)) <= INLINE_BODY_LIMIT;
  }

  private get encoding(): BufferEncoding {
    return this.bytes ? 'latin1' : 'utf8';
  }

  /** The body as latin1 text: each byte one character, as node:http writes the head. */
  private bodyText(): string {
    const { body } = this;
    if (typeof body !== 'string') return body.toString('latin1');
    return this.bytes || Buffer.byteLength(body) === body.length ? body : Buffer.from(body).toString('latin1');
  }

  private serialise(second: number, keepAliveMs: number, maxRequests: number): void {
    const head = keepAliveHead(this.status, this.headers, currentDateLine(second), keepAliveMs, maxRequests);
    this.wire = this.inline ? head + this.bodyText() : head;
    this.second = second;
    this.keepAliveMs = keepAliveMs;
    this.maxRequests = maxRequests;
  }

  /** `fast`: the `fastWire` option; false always takes `writeHead`. */
  writeTo(res: ServerResponse, fast: boolean): void {
    const out = res as Outgoing;
    const { body } = this;
    if (!fast || fastPathMisfit() !== undefined || out._header !== null || !res.shouldKeepAlive || out.maxRequestsOnConnectionReached === true || res.req.method === 'HEAD' || res.getHeaderNames().length !== 0) {
      res.writeHead(this.status, this.headers as string[]);
      if (typeof body === 'string') res.end(body, this.encoding);
      else res.end(body);
      return;
    }
    const second = Math.floor(Date.now() / 1000);
    const keepAliveMs = out._keepAliveTimeout ?? 0;
    const maxRequests = out._maxRequestsPerSocket ?? 0;
    if (second !== this.second || keepAliveMs !== this.keepAliveMs || maxRequests !== this.maxRequests) this.serialise(second, keepAliveMs, maxRequests);
    res.statusCode = this.status;
    out._header = this.wire;
    if (this.inline) res.end();
    else if (typeof body === 'string') res.end(body, this.encoding);
    else res.end(body);
  }
}
