/** The Redis store's codec: cursor tokens, and script replies and event payloads read as messages and figures. */
import { randomBytes } from 'node:crypto';
import { type ChannelInfo, type ReadResult, type StoreStats, type StoredMessage, messageId } from '../store';
import { comesAfter } from '../tokens';

/*
 * A cursor token is `<epoch>-<ms>-<seq>`: the stream ID behind the epoch. Sequence numbers come
 * from one counter, so tokens are ordered across channels and servers; a token of another epoch
 * (Redis was wiped) or past the counter was never issued and reads as a gap.
 */

const TOKEN = /^([0-9a-z]{1,40})-(\d{1,16})-(\d{1,16})$/;

export interface RedisToken {
  readonly epoch: string;
  readonly ms: string;
  readonly seq: number;
}

export function parseToken(token: string): RedisToken | null {
  const match = TOKEN.exec(token);
  if (match === null) return null;
  return { epoch: match[1] as string, ms: match[2] as string, seq: Number(match[3]) };
}

/** Whether a message's token comes after a position, knowing only the tokens (see comesAfter). */
export function follows(token: string, position: string): boolean {
  return comesAfter(parseToken(token), parseToken(position));
}

/** The sequence number of a stream ID, `<ms>-<seq>`. */
export function seqOfId(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

/** An epoch for Redis to take if it has none yet (it keeps the first one offered). */
export function newEpochCandidate(): string {
  return Date.now().toString(36) + randomBytes(4).toString('hex');
}

export function text(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value === null || value === undefined) return '';
  return String(value);
}

export function num(value: unknown): number {
  const n = Number(text(value));
  return Number.isFinite(n) ? n : 0;
}

function bytes(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(text(value), 'utf8');
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function makeMessage(channel: string, epoch: string, id: string, contentType: string, event: string | undefined, data: Buffer): StoredMessage {
  const token = `${epoch}-${id}`;
  const time = Number(id.slice(0, id.indexOf('-')));
  return { channel, token, id: messageId(time, token), time, contentType, event, data };
}

/** Fields of a stream entry (`[name, value, ...]`) to a message. */
function entryMessage(channel: string, epoch: string, id: string, fields: unknown): StoredMessage {
  let data: Buffer = Buffer.alloc(0);
  let contentType = 'application/octet-stream';
  let event: string | undefined;
  const values = list(fields);
  for (let i = 0; i + 1 < values.length; i += 2) {
    const name = text(values[i]);
    const value: unknown = values[i + 1];
    if (name === 'd') data = bytes(value);
    else if (name === 'c') contentType = text(value);
    else if (name === 'e') event = text(value) || undefined;
  }
  return makeMessage(channel, epoch, id, contentType, event, data);
}

/** LUA_READ's position arguments: whether there is one, its epoch, ms and seq. */
export function positionArgs(after: string | null): string[] {
  if (after === null) return ['0', '', '0', '0'];
  const parsed = parseToken(after);
  return parsed === null ? ['1', '', '0', '0'] : ['1', parsed.epoch, parsed.ms, String(parsed.seq)];
}

/** The head of LUA_HEAD's reply `[epoch, "<ms>-<seq>"]`. */
export function decodeHead(reply: unknown): { epoch: string; seq: number; token: string } {
  const values = list(reply);
  const epoch = text(values[0]);
  const id = text(values[1]);
  return { epoch, seq: seqOfId(id), token: `${epoch}-${id}` };
}

/** The message id of stream ID `<ms>-<seq>` in an epoch. */
export function idOf(epoch: string, streamId: string): string {
  return messageId(Number(streamId.slice(0, streamId.indexOf('-'))), `${epoch}-${streamId}`);
}

/** LUA_READ's reply: `[gap, more, epoch, head id, [[channel, id, fields], ...]]`. */
export function decodeRead(reply: unknown): ReadResult {
  const values = list(reply);
  const epoch = text(values[2]);
  const messages = list(values[4]).map((row) => {
    const [channel, id, fields] = list(row);
    return entryMessage(text(channel), epoch, text(id), fields);
  });
  const last = messages[messages.length - 1];
  return { messages, gap: num(values[0]) === 1, head: last === undefined ? `${epoch}-${text(values[3])}` : last.token, more: num(values[1]) === 1 };
}

/** LUA_INFO's reply: `[length, last id, last request, epoch]`, or nil for no channel. */
export function decodeInfo(reply: unknown): ChannelInfo | null {
  if (!Array.isArray(reply)) return null;
  const lastId = text(reply[1]);
  const requested = text(reply[2]);
  const epoch = text(reply[3]);
  const lastMessageId = lastId === '' ? undefined : idOf(epoch, lastId);
  return { messages: num(reply[0]), lastMessageId, requested: requested === '' ? undefined : Number(requested) };
}

/** LUA_SWEEP's reply: `[channels, expired, evicted, bytes]`. */
export function decodeStats(reply: unknown): StoreStats {
  const values = list(reply);
  return { channels: num(values[0]), expired: num(values[1]), evicted: num(values[2]), bufferBytes: num(values[3]) };
}

/**
 * What the events channel carries: a message published (with `dropped`, the newest sequence
 * number its append dropped from the channel, trimmed or expired: 0 for none), or a channel
 * deleted (by `origin`).
 */
export type RedisEvent =
  | { readonly type: 'message'; readonly epoch: string; readonly seq: number; readonly message: StoredMessage; readonly dropped: number }
  | { readonly type: 'deleted'; readonly channel: string; readonly origin: string | undefined };

/** Every event payload's shape: a JSON object (the header), a newline, the bytes after it. Null for anything else. */
export function splitEvent(payload: Buffer): { header: Record<string, unknown>; rest: Buffer } | null {
  const newline = payload.indexOf(10);
  if (newline < 0) return null;
  let header: unknown;
  try {
    header = JSON.parse(payload.subarray(0, newline).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
  return { header: header as Record<string, unknown>, rest: payload.subarray(newline + 1) };
}

/** A message or deletion event: the header, a newline, the body. Null for anything else. */
export function decodeEvent(payload: Buffer): RedisEvent | null {
  const split = splitEvent(payload);
  if (split === null) return null;
  const { t, c, i, e, ct, ev, o, g } = split.header;
  if (typeof c !== 'string') return null;
  if (t === 'd') return { type: 'deleted', channel: c, origin: typeof o === 'string' ? o : undefined };
  if (t !== 'm' || typeof i !== 'string' || typeof e !== 'string') return null;
  const event = typeof ev === 'string' && ev !== '' ? ev : undefined;
  const message = makeMessage(c, e, i, typeof ct === 'string' ? ct : '', event, Buffer.from(split.rest));
  return { type: 'message', epoch: e, seq: seqOfId(i), message, dropped: typeof g === 'number' ? g : 0 };
}
