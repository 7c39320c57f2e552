// A message's answers (long-poll, batch, EventSource event), each encoded once however many get it.
import { type HeaderPairs, JSON_TYPE } from './http/answer';
import { StreamChunk } from './http/stream-chunk';
import { Prebuilt } from './http/wire';
import type { StoredMessage } from './stores/store';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** A message in the JSON shape of batch answers, as its UTF-8 bytes in latin1 text (one character per byte). */
function batchItem(message: StoredMessage): string {
  let json: string;
  try {
    json = JSON.stringify({ id: message.id, channel: message.channel, time: message.time, contentType: message.contentType, data: utf8.decode(message.data) });
  } catch {
    json = JSON.stringify({ id: message.id, channel: message.channel, time: message.time, contentType: message.contentType, data: message.data.toString('base64'), encoding: 'base64' });
  }
  return Buffer.byteLength(json) === json.length ? json : Buffer.from(json).toString('latin1');
}

/**
 * A batch answer from its messages' encodings. Each message's JSON is encoded to bytes once;
 * an answer only joins them (ids and channel names are ASCII, so `last` is its own bytes), and
 * its length is the text's: no answer re-encodes or re-measures what its messages carry.
 */
export function batchAnswer(shared: HeaderPairs, messages: readonly EncodedMessage[], last: string, gap: boolean): Prebuilt {
  let items = '';
  for (const encoded of messages) items += items === '' ? encoded.item : `,${encoded.item}`;
  const body = `{"messages":[${items}],"last":${JSON.stringify(last)},"gap":${gap}}`;
  return new Prebuilt(200, answerHeaders(shared, JSON_TYPE, body.length, [], gap), body, true);
}

/** One EventSource event: `id`, optional `event`, a `data:` line per body line, blank line. */
function sseEvent(message: StoredMessage): string {
  const event = message.event === undefined ? '' : `event: ${message.event}\n`;
  const data = message.data.toString('utf8').split(/\r\n|\r|\n/).join('\ndata: ');
  return `id: ${message.id}\n${event}data: ${data}\n\n`;
}

/** A 200 answer's headers; a gap adds `X-Holdpush-Gap`. */
function answerHeaders(shared: HeaderPairs, contentType: string, length: number, extra: readonly string[], gap: boolean): string[] {
  const headers = [
    'Content-Type', contentType,
    'Content-Length', String(length),
    ...extra,
    'Cache-Control', 'no-store',
    'X-Content-Type-Options', 'nosniff',
    ...shared,
  ];
  if (gap) headers.push('X-Holdpush-Gap', '1');
  return headers;
}

/**
 * A message's answers, each built at most once however many responses it is written to:
 * the one-message long-poll answer (seed and poll), the batch answer, the stream event.
 */
export class EncodedMessage {
  private pollAnswer: Prebuilt | undefined;
  private pollGapAnswer: Prebuilt | undefined;
  private batchAnswer: Prebuilt | undefined;
  private batchGapAnswer: Prebuilt | undefined;
  private event: StreamChunk | undefined;
  private json: string | undefined;

  constructor(
    readonly message: StoredMessage,
    readonly shared: HeaderPairs,
  ) {}

  /** The one-message answer of a long-poll (seed and poll faces). */
  poll(gap: boolean): Prebuilt {
    if (gap) {
      this.pollGapAnswer ??= this.buildPoll(true);
      return this.pollGapAnswer;
    }
    this.pollAnswer ??= this.buildPoll(false);
    return this.pollAnswer;
  }

  private buildPoll(gap: boolean): Prebuilt {
    const { message } = this;
    const extra = ['Etag', message.token, 'Last-Modified', httpDate(message.time), 'Vary', 'If-None-Match, If-Modified-Since'];
    return new Prebuilt(200, answerHeaders(this.shared, message.contentType, message.data.length, extra, gap), message.data);
  }

  /** The batch answer of a subscriber that was waiting: this one message. */
  batch(gap: boolean): Prebuilt {
    if (gap) {
      this.batchGapAnswer ??= batchAnswer(this.shared, [this], this.message.id, true);
      return this.batchGapAnswer;
    }
    this.batchAnswer ??= batchAnswer(this.shared, [this], this.message.id, false);
    return this.batchAnswer;
  }

  /** The message as an item of a batch answer's `messages`: its UTF-8 bytes, one character each. */
  get item(): string {
    this.json ??= batchItem(this.message);
    return this.json;
  }

  /** The EventSource event, framed for a stream's chunked body once for every stream. */
  get sse(): StreamChunk {
    this.event ??= new StreamChunk(sseEvent(this.message));
    return this.event;
  }
}
