import type { ServerResponse } from 'node:http';
import type { Hold } from './registry';
import type { StoredMessage } from './store';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Header pairs every subscriber answer carries (CORS), fixed for a server's life. */
export type SharedHeaders = readonly string[];

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** A message in the JSON shape of batch answers. */
function batchItem(message: StoredMessage): string {
  try {
    return JSON.stringify({ id: message.id, channel: message.channel, time: message.time, contentType: message.contentType, data: utf8.decode(message.data) });
  } catch {
    return JSON.stringify({ id: message.id, channel: message.channel, time: message.time, contentType: message.contentType, data: message.data.toString('base64'), encoding: 'base64' });
  }
}

/** A batch answer's body from its messages' encodings (each message's JSON is built once). */
export function batchBody(messages: readonly EncodedMessage[], last: string, gap: boolean): Buffer {
  let items = '';
  for (const encoded of messages) items += items === '' ? encoded.item : `,${encoded.item}`;
  return Buffer.from(`{"messages":[${items}],"last":${JSON.stringify(last)},"gap":${gap}}`);
}

/** One EventSource event: `id`, optional `event`, a `data:` line per body line, blank line. */
function sseEvent(message: StoredMessage): string {
  const event = message.event === undefined ? '' : `event: ${message.event}\n`;
  const data = message.data.toString('utf8').split(/\r\n|\r|\n/).join('\ndata: ');
  return `id: ${message.id}\n${event}data: ${data}\n\n`;
}

interface Answer {
  readonly headers: string[];
  readonly gapHeaders: string[];
  readonly body: Buffer;
}

export const JSON_TYPE = 'application/json; charset=utf-8';

function buildAnswer(shared: SharedHeaders, contentType: string, body: Buffer, extra: readonly string[]): Answer {
  const headers = [
    'Content-Type', contentType,
    'Content-Length', String(body.length),
    ...extra,
    'Cache-Control', 'no-store',
    'X-Content-Type-Options', 'nosniff',
    ...shared,
  ];
  return { headers, gapHeaders: [...headers, 'X-Holdpush-Gap', '1'], body };
}

/**
 * A message's answers, each built at most once however many responses it is written to:
 * the one-message long-poll answer (seed and poll), the batch answer, the stream event.
 */
export class EncodedMessage {
  private pollAnswer: Answer | undefined;
  private batchAnswer: Answer | undefined;
  private event: string | undefined;
  private json: string | undefined;

  constructor(
    readonly message: StoredMessage,
    readonly shared: SharedHeaders,
  ) {}

  get poll(): Answer {
    const { message } = this;
    this.pollAnswer ??= buildAnswer(this.shared, message.contentType, message.data, [
      'Etag', message.token,
      'Last-Modified', httpDate(message.time),
      'Vary', 'If-None-Match, If-Modified-Since',
    ]);
    return this.pollAnswer;
  }

  /** The batch answer of a subscriber that was waiting: this one message, no gap. */
  get batch(): Answer {
    this.batchAnswer ??= buildAnswer(this.shared, JSON_TYPE, batchBody([this], this.message.id, false), []);
    return this.batchAnswer;
  }

  /** The message as an item of a batch answer's `messages`. */
  get item(): string {
    this.json ??= batchItem(this.message);
    return this.json;
  }

  get sse(): string {
    this.event ??= sseEvent(this.message);
    return this.event;
  }
}

/** Writes one message to one response in the form its mode takes. */
export function writeMessage(res: ServerResponse, encoded: EncodedMessage, mode: Hold['mode'], gap: boolean): void {
  if (mode === 'stream') {
    res.write(encoded.sse);
    return;
  }
  const answer =
    mode !== 'batch' ? encoded.poll
    : gap ? buildAnswer(encoded.shared, JSON_TYPE, batchBody([encoded], encoded.message.id, true), [])
    : encoded.batch;
  res.writeHead(200, gap ? answer.gapHeaders : answer.headers);
  res.end(answer.body);
}

/**
 * Writes a message to every hold given (long-polls were already released by the registry;
 * streams stay open). Returns how many responses got it. A stream whose unsent bytes pass
 * `streamLimit` is cut: its client reconnects with its position and loses nothing.
 */
export function broadcast(encoded: EncodedMessage, holds: readonly Hold[], streamLimit: number): number {
  const token = encoded.message.token;
  for (const hold of holds) {
    writeMessage(hold.res, encoded, hold.mode, hold.gap);
    hold.gap = false;
    hold.position = token;
    if (hold.mode === 'stream' && hold.res.writableLength > streamLimit) hold.res.destroy();
  }
  return holds.length;
}
