// A request's body: read with a size limit, or taken from what an app's body parser left.
import type { IncomingMessage } from 'node:http';

/**
 * A request's body as holdpush gets it. Inside an app, a body parser mounted before holdpush
 * may have read it already (docs/protocol.md, "Inside an app"): then what the parser left on
 * `req.body` is used, and holdpush never waits for a body that is no longer coming.
 */
export type BodyResult =
  /** The bytes: read here, or left by the app's parser as a Buffer or string. */
  | { kind: 'bytes'; body: Buffer }
  /** The app's parser read the body and left this object (e.g. `express.urlencoded()`). */
  | { kind: 'parsed'; value: object }
  /** The app read the body and left nothing to use. */
  | { kind: 'consumed' }
  /** Declared or actual size over the limit: reading stopped (answer 413 and close). */
  | { kind: 'too_large' }
  /** The client went away or its stream failed: there is no one to answer. */
  | { kind: 'gone' };

const TOO_LARGE: BodyResult = { kind: 'too_large' };
const GONE: BodyResult = { kind: 'gone' };
const CONSUMED: BodyResult = { kind: 'consumed' };
const EMPTY: BodyResult = { kind: 'bytes', body: Buffer.alloc(0) };

/** Reads a request body of at most `limit` bytes, or takes what the app's body parser left. */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const left = leftByApp(req, limit);
  if (left !== undefined) return Promise.resolve(left);
  // Its 'close' has fired already: no event would ever settle the read below.
  if (req.destroyed) return Promise.resolve(GONE);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(TOO_LARGE);
  return readStream(req, limit);
}

/**
 * What the app's parser left, or undefined when the body is still to be read. A parser that
 * skips a content type may still set `req.body` (body-parser 1 and `@koa/bodyparser`'s
 * `patchNode` put `{}` there) and leaves the stream unread: only a stream that has ended was
 * read, whatever `req.body` says. Bytes on `req.body` are the body in any case.
 */
function leftByApp(req: IncomingMessage, limit: number): BodyResult | undefined {
  const { body } = req as IncomingMessage & { body?: unknown };
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const bytes = typeof body === 'string' ? Buffer.from(body, textEncoding(req.headers['content-type'])) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return bytes.length > limit ? TOO_LARGE : { kind: 'bytes', body: bytes };
  }
  if (!req.readableEnded) return undefined;
  // A request that declared no body had nothing to take (a JSON parser turns it into `{}`).
  if (!declaresBody(req)) return EMPTY;
  if (typeof body === 'object' && body !== null) return { kind: 'parsed', value: body };
  return CONSUMED;
}

function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

/** How text a parser decoded by the request's charset turns back into its bytes. */
function textEncoding(contentType: string | undefined): BufferEncoding {
  const charset = /;\s*charset="?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  switch (charset) {
    case 'iso-8859-1':
    case 'latin1':
    case 'us-ascii':
    case 'ascii':
      return 'latin1';
    case 'utf-16le':
      return 'utf16le';
    default:
      return 'utf8';
  }
}

function readStream(req: IncomingMessage, limit: number): Promise<BodyResult> {
  // Plain events rather than `for await`: a publish is on the hot path, and the async
  // iterator costs a promise per chunk.
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    function finish(result: BodyResult): void {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      req.removeListener('close', onClose);
      if (result.kind !== 'bytes') req.pause();
      resolve(result);
    }
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > limit) finish(TOO_LARGE);
      else chunks.push(chunk);
    }
    function onEnd(): void {
      finish({ kind: 'bytes', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    }
    function onError(): void {
      finish(GONE);
    }
    function onClose(): void {
      if (!req.complete) finish(GONE);
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(header: string | undefined): string {
  if (header === undefined) return '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}
