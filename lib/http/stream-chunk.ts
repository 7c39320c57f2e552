// An EventSource stream's writes: each piece framed for the chunked encoding once, then one socket write per stream.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type Outgoing, chunkFramingMisfit } from './http-internals';

/**
 * A piece of an EventSource stream (an event, a keepalive comment) as the bytes node:http
 * would send for `res.write(text)` on a chunked response: `<size in hex>\r\n<text>\r\n`,
 * built once however many streams it is written to.
 */
export class StreamChunk {
  /** The whole frame; the text is the part between its size line and the final CRLF. */
  readonly framed: Buffer;
  private readonly start: number;

  constructor(text: string) {
    const size = Buffer.byteLength(text);
    const sizeLine = `${size.toString(16)}\r\n`;
    this.framed = Buffer.from(`${sizeLine}${text}\r\n`);
    this.start = sizeLine.length;
  }

  /** The text alone (a view of `framed`, no copy), for node:http to frame itself. */
  get text(): Buffer {
    return this.framed.subarray(this.start, this.framed.length - 2);
  }
}

let checked = false;
let misfit: string | undefined;

/** Why this Node frames chunks unlike StreamChunk, or undefined when it is the same; checked once per process. */
function framingMisfit(): string | undefined {
  if (!checked) {
    checked = true;
    misfit = chunkFramingMisfit((text) => new StreamChunk(text).framed);
    if (misfit !== undefined) process.emitWarning(`node:http ${process.version} does not frame chunks as holdpush's stream fast path expects (${misfit}); stream writes take res.write`, 'HoldpushWarning');
  }
  return misfit;
}

type StreamSocket = Socket & { _httpMessage?: unknown };

/**
 * Writes `chunk` to a stream's response: when its head has left and nothing of it waits in
 * node:http (corked within this turn, from Node 24, or queued for a socket it does not have
 * yet), the prebuilt frame goes straight to the socket, one `write()`, where node:http would
 * make four of them (size, CRLF, text, CRLF), a tick to uncork, and a UTF-8 copy of the text
 * per stream. Otherwise, and with `fast` (the `fastWire` option) off, `res.write` frames it.
 * Either way its bytes follow whatever was written before, and `res.writableLength` counts them.
 */
export function writeChunk(res: ServerResponse, chunk: StreamChunk, fast: boolean): void {
  const out = res as Outgoing;
  const socket = res.socket as StreamSocket | null;
  if (
    fast &&
    socket !== null &&
    socket._httpMessage === res &&
    socket.writable &&
    out._headerSent === true &&
    out.chunkedEncoding === true &&
    res.writableCorked === 0 &&
    out.outputData?.length === 0 &&
    !res.writableEnded &&
    framingMisfit() === undefined
  ) {
    socket.write(chunk.framed);
    return;
  }
  res.write(chunk.text);
}
