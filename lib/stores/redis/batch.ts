/** The Redis store's batches: LUA_APPEND_MANY's arguments and reply, and the one event a batch makes. */
import type { BatchInput, ChannelInfo, StoredMessage } from '../store';
import { idOf, list, makeMessage, num, seqOfId, splitEvent, text } from './codec';

/** LUA_APPEND_MANY's arguments after the prefix. */
export function appendManyArgs(epochCandidate: string, buffer: number, ttlMs: number, maxChannels: number, inputs: readonly BatchInput[]): (string | Buffer)[] {
  const args: (string | Buffer)[] = [epochCandidate, String(buffer), String(ttlMs), String(maxChannels)];
  for (const input of inputs) args.push(input.channel, input.contentType, input.event ?? '', input.data);
  return args;
}

/**
 * LUA_APPEND_MANY's reply: `[1, epoch, [id, ...], [length, ...], [request, ...]]`, or `[0]` when
 * the channel limit refused the batch. `infos` are each message's channel just after it.
 */
export function decodeAppendMany(reply: unknown): { epoch: string; ids: string[]; infos: ChannelInfo[] } | null {
  const values = list(reply);
  if (num(values[0]) !== 1) return null;
  const epoch = text(values[1]);
  const ids = list(values[2]).map(text);
  const lengths = list(values[3]);
  const requests = list(values[4]);
  const infos = ids.map((id, i): ChannelInfo => {
    const requested = text(requests[i]);
    return { messages: num(lengths[i]), lastMessageId: idOf(epoch, id), requested: requested === '' ? undefined : Number(requested) };
  });
  return { epoch, ids, infos };
}

/** A batch's messages as the event stream tells them: each with its sequence number. */
export interface BatchEvent {
  readonly type: 'batch';
  readonly epoch: string;
  readonly messages: readonly { readonly seq: number; readonly message: StoredMessage; readonly dropped: number }[];
}

/**
 * A batch event: a JSON header whose `m` lists `[channel, id, type, event, length, dropped]` per
 * message (`dropped`: the newest sequence number its channel dropped, 0 for none; absent from
 * older servers' events), a newline, then their bodies one after another. Null for anything else.
 */
export function decodeBatchEvent(payload: Buffer): BatchEvent | null {
  const split = splitEvent(payload);
  if (split === null) return null;
  const { t, e, m } = split.header;
  if (t !== 'b' || typeof e !== 'string' || !Array.isArray(m)) return null;
  const bodies = split.rest;
  const messages: { seq: number; message: StoredMessage; dropped: number }[] = [];
  let offset = 0;
  for (const row of m) {
    const [channel, id, type, event, length, dropped] = list(row);
    if (typeof channel !== 'string' || typeof id !== 'string' || typeof type !== 'string' || typeof event !== 'string' || typeof length !== 'number') return null;
    if (offset + length > bodies.length) return null;
    // A copy: the payload's buffer is not kept alive by the one message that outlives the rest.
    const data = Buffer.from(bodies.subarray(offset, offset + length));
    offset += length;
    messages.push({ seq: seqOfId(id), message: makeMessage(channel, e, id, type, event === '' ? undefined : event, data), dropped: typeof dropped === 'number' ? dropped : 0 });
  }
  return offset === bodies.length ? { type: 'batch', epoch: e, messages } : null;
}
