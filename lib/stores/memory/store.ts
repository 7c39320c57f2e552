/** The in-memory store: one process's channels, buffers and cursor tokens. */
import { randomBytes } from 'node:crypto';
import { type ChannelInfo, type MessageInput, type MessageStore, type ReadResult, StoreUnavailableError } from '../store';
import { Watchers } from '../watchers';
import { Channel, Entry, readAfter } from './channels';
import { ExpiryQueue } from './expiry';
import { memoryToken, parseMemoryToken } from './tokens';

export interface MemoryStoreOptions {
  /** Messages kept per channel. */
  buffer: number;
  /** Seconds a message is kept. */
  messageTtl: number;
  /** Channels alive at once; creating one more fails. */
  maxChannels: number;
  /** Whether any subscriber holds the channel now (a held channel is never forgotten). */
  isHeld(channel: string): boolean;
}

/**
 * One sequence for the whole process, so tokens are ordered across channels. The token's epoch
 * is new at every start, so a token from an earlier run is recognised as never issued (a gap)
 * instead of a point in the future. Watchers hear a message inside the append that made it.
 */
export function createMemoryStore(options: MemoryStoreOptions): MessageStore {
  const { buffer, maxChannels, isHeld } = options;
  const ttlMs = options.messageTtl * 1000;
  const epoch = Date.now().toString(36) + randomBytes(2).toString('hex');
  const channels = new Map<string, Channel>();
  const watchers = new Watchers();
  const expiry = new ExpiryQueue();
  /** Channels made by a subscriber's touch that hold no message yet: checked once by the sweep. */
  let untested = new Set<string>();
  let seq = 0;
  /** Highest sequence number dropped from a channel that was then forgotten. */
  let forgottenSeq = 0;
  let bufferBytes = 0;
  let expired = 0;
  let evicted = 0;

  const sweepTimer = setInterval(sweep, Math.max(10, Math.min(1000, ttlMs / 4)));
  sweepTimer.unref();

  /** The sequence number a token names, or -1 when this store never issued it. */
  function seqOf(token: string): number {
    const parsed = parseMemoryToken(token);
    return parsed !== null && parsed.epoch === epoch && parsed.seq <= seq ? parsed.seq : -1;
  }

  function forgetIfIdle(name: string, channel: Channel): void {
    if (channel.size > 0 || isHeld(name)) return;
    channels.delete(name);
    if (channel.droppedSeq > forgottenSeq) forgottenSeq = channel.droppedSeq;
  }

  function expireEntry(entry: Entry): void {
    const channel = channels.get(entry.channel);
    if (channel === undefined) return;
    bufferBytes -= channel.dropOldest().data.length;
    expired += 1;
    forgetIfIdle(entry.channel, channel);
  }

  function expire(now: number): void {
    expiry.expire(now - ttlMs, expireEntry);
  }

  function sweep(): void {
    expire(Date.now());
    if (untested.size === 0) return;
    const names = untested;
    untested = new Set();
    for (const name of names) {
      const channel = channels.get(name);
      if (channel !== undefined) forgetIfIdle(name, channel);
    }
  }

  function read(names: readonly string[], after: string | null, limit: number): ReadResult {
    expire(Date.now());
    let afterSeq = 0;
    let gap = false;
    if (after !== null) {
      afterSeq = seqOf(after);
      if (afterSeq < 0) {
        gap = true;
        afterSeq = 0;
      }
    }
    const found: Channel[] = [];
    for (const name of names) {
      const channel = channels.get(name);
      if (channel === undefined) {
        if (forgottenSeq > afterSeq && after !== null) gap = true;
        continue;
      }
      if (after !== null && !gap) {
        if (channel.droppedSeq > afterSeq) gap = true;
        else if (channel.createdSeq > afterSeq && forgottenSeq > afterSeq) gap = true;
      }
      found.push(channel);
    }
    const { entries, more } = readAfter(found, afterSeq, limit);
    const last = entries[entries.length - 1];
    return { messages: entries, gap, head: last === undefined ? memoryToken(epoch, seq) : last.token, more };
  }

  function append(name: string, input: MessageInput): Entry {
    let channel = channels.get(name);
    if (channel === undefined) {
      if (channels.size >= maxChannels) throw new StoreUnavailableError('too_many_channels', `at most ${maxChannels} channels may be alive at once`);
      channel = new Channel(seq);
      channels.set(name, channel);
    }
    seq += 1;
    const entry = new Entry(name, seq, memoryToken(epoch, seq), Date.now(), input.contentType, input.event, input.data);
    channel.entries.push(entry);
    bufferBytes += entry.data.length;
    expiry.push(entry);
    if (channel.size > buffer) {
      bufferBytes -= channel.dropOldest().data.length;
      evicted += 1;
      expiry.droppedEarly();
    }
    watchers.message(entry);
    return entry;
  }

  function touch(names: readonly string[]): boolean {
    let fresh = 0;
    for (const name of names) if (!channels.has(name)) fresh += 1;
    if (fresh > 0 && channels.size + fresh > maxChannels) return false;
    const now = Date.now();
    for (const name of names) {
      let channel = channels.get(name);
      if (channel === undefined) {
        channel = new Channel(seq);
        channels.set(name, channel);
        untested.add(name);
      }
      channel.requested = now;
    }
    return true;
  }

  function info(name: string): ChannelInfo | null {
    expire(Date.now());
    const channel = channels.get(name);
    if (channel === undefined) return null;
    return { messages: channel.size, lastMessageId: channel.last()?.id, requested: channel.requested };
  }

  function remove(name: string): boolean {
    const channel = channels.get(name);
    if (channel === undefined) return false;
    channels.delete(name);
    for (let i = channel.first; i < channel.entries.length; i++) {
      const entry = channel.entries[i] as Entry;
      entry.dropped = true;
      bufferBytes -= entry.data.length;
      expiry.droppedEarly();
    }
    watchers.deleted(name);
    return true;
  }

  function head(): string {
    return memoryToken(epoch, seq);
  }

  return {
    kind: 'memory',
    immediate: { read, head, touch },
    wakesInStep: true,
    append: async (name, input) => append(name, input),
    read: async (names, after, limit) => read(names, after, limit),
    head: async () => head(),
    follows: (token, position) => {
      const at = seqOf(position);
      return at < 0 || seqOf(token) > at;
    },
    touch: async (names) => touch(names),
    info: async (name) => info(name),
    delete: async (name) => remove(name),
    released(name) {
      const channel = channels.get(name);
      if (channel !== undefined) forgetIfIdle(name, channel);
    },
    watch: (events) => watchers.add(events),
    stats: () => ({ channels: channels.size, bufferBytes, expired, evicted }),
    async close() {
      clearInterval(sweepTimer);
      watchers.clear();
    },
  };
}
