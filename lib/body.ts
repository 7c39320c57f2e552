import type { IncomingMessage } from 'node:http';

export type BodyResult = { ok: true; body: Buffer } | { ok: false; tooLarge: boolean };

/**
 * Reads a request body of at most `limit` bytes. A declared or actual size over the limit
 * stops reading at once (the caller answers 413 and closes the connection).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({ ok: false, tooLarge: true });
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
      if (!result.ok) req.pause();
      resolve(result);
    }
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > limit) finish({ ok: false, tooLarge: true });
      else chunks.push(chunk);
    }
    function onEnd(): void {
      finish({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    }
    function onError(): void {
      finish({ ok: false, tooLarge: false });
    }
    function onClose(): void {
      if (!req.complete) finish({ ok: false, tooLarge: false });
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
