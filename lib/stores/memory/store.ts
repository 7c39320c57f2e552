import { randomBytes } from 'node:crypto';
import {
  type ChannelInfo,
  type MessageInput,
  type MessageStore,
  type ReadResult,
  type StoreEvents,
  type StoredMessage,
  StoreUnavailableError,
  messageId,
} from '../store';

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

class Entry implements StoredMessage {
  dropped = false;
  readonly id: string;
  constructor(
    readonly channel: string,
    readonly seq: number,
    readonly token: string,
    readonly time: number,
    readonly contentType: string,
    readonly event: string | undefined,
    readonly data: Buffer,
  ) {
    this.id = messageId(time, token);
  }
}

interface Channel {
  /** Held messages, oldest at `first`; entries before `first` are spent. */
  entries: Entry[];
  first: number;
  /** Highest sequence number dropped (evicted or expired) from this channel; 0 if none. */
  droppedSeq: number;
  /** The store's sequence number when this record was made. */
  createdSeq: number;
  requested: number | undefined;
}

/**
 * The in-memory store: one sequence for the whole process, so tokens are ordered across
 * channels. A token is `<epoch>-<seq>`; the epoch is new at every start, so a token from an
 * earlier run is recognised as never issued (a gap) instead of a point in the future.
 */
export function createMemoryStore(options: MemoryStoreOptions): MessageStore {
  const { buffer, maxChannels, isHeld } = options;
  const ttlMs = options.messageTtl * 1000;
  const epoch = Date.now().toString(36) + randomBytes(2).toString('hex');
  const channels = new Map<string, Channel>();
  const watchers = new Set<StoreEvents>();
  /** Every held message in publish order, for expiry (one TTL for all, so oldest first). */
  let expiryQueue: Entry[] = [];
  let expiryFirst = 0;
  /** Entries in the queue already dropped by eviction or deletion, kept until compacted. */
  let droppedQueued = 0;
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

  function token(n: number): string {
    return `${epoch}-${n}`;
  }

  /** The sequence number a token names, or -1 when this store never issued it. */
  function seqOf(tokenText: string): number {
    const dash = tokenText.lastIndexOf('-');
    if (dash < 0 || tokenText.slice(0, dash) !== epoch) return -1;
    const digits = tokenText.slice(dash + 1);
    if (!/^\d{1,15}$/.test(digits)) return -1;
    const n = Number(digits);
    return n <= seq ? n : -1;
  }

  function makeChannel(): Channel {
    return { entries: [], first: 0, droppedSeq: 0, createdSeq: seq, requested: undefined };
  }

  function forgetIfIdle(name: string, channel: Channel): void {
    if (channel.entries.length - channel.first > 0 || isHeld(name)) return;
    channels.delete(name);
    if (channel.droppedSeq > forgottenSeq) forgottenSeq = channel.droppedSeq;
  }

  function dropOldest(channel: Channel): Entry {
    const entry = channel.entries[channel.first] as Entry;
    channel.first += 1;
    if (channel.first > 64 && channel.first * 2 > channel.entries.length) {
      channel.entries = channel.entries.slice(channel.first);
      channel.first = 0;
    }
    entry.dropped = true;
    bufferBytes -= entry.data.length;
    channel.droppedSeq = entry.seq;
    return entry;
  }

  function expire(now: number): void {
    const cutoff = now - ttlMs;
    while (expiryFirst < expiryQueue.length) {
      const entry = expiryQueue[expiryFirst] as Entry;
      if (!entry.dropped && entry.time > cutoff) break;
      expiryFirst += 1;
      if (entry.dropped) {
        droppedQueued -= 1;
        continue;
      }
      const channel = channels.get(entry.channel);
      if (channel === undefined) continue;
      dropOldest(channel);
      expired += 1;
      forgetIfIdle(entry.channel, channel);
    }
    if (expiryFirst > 1024 && expiryFirst * 2 > expiryQueue.length) {
      expiryQueue = expiryQueue.slice(expiryFirst);
      expiryFirst = 0;
    }
  }

  /**
   * Counts an entry dropped before its expiry. The queue would keep it (and its bytes) until
   * its TTL, so a busy channel with a small buffer would hold an hour of messages: once most
   * of the queue is dropped entries, they leave it.
   */
  function droppedEarly(): void {
    droppedQueued += 1;
    if (droppedQueued > 1024 && droppedQueued * 2 > expiryQueue.length - expiryFirst) {
      expiryQueue = expiryQueue.slice(expiryFirst).filter((entry) => !entry.dropped);
      expiryFirst = 0;
      droppedQueued = 0;
    }
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

  /** Index of the first entry after `after` in a channel (binary search over sequence numbers). */
  function firstAfter(channel: Channel, after: number): number {
    let lo = channel.first;
    let hi = channel.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((channel.entries[mid] as Entry).seq <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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
    const cursors: { channel: Channel; index: number }[] = [];
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
      const index = firstAfter(channel, afterSeq);
      if (index < channel.entries.length) cursors.push({ channel, index });
    }
    const messages: Entry[] = [];
    if (cursors.length === 1) {
      const { channel, index } = cursors[0] as { channel: Channel; index: number };
      const end = Math.min(channel.entries.length, index + limit);
      for (let i = index; i < end; i++) messages.push(channel.entries[i] as Entry);
    } else {
      // Merge by sequence number: at most 16 channels, so a linear pick per message is enough.
      while (messages.length < limit) {
        let best: { channel: Channel; index: number } | undefined;
        for (const cursor of cursors) {
          if (cursor.index >= cursor.channel.entries.length) continue;
          if (best === undefined || (cursor.channel.entries[cursor.index] as Entry).seq < (best.channel.entries[best.index] as Entry).seq) best = cursor;
        }
        if (best === undefined) break;
        messages.push(best.channel.entries[best.index] as Entry);
        best.index += 1;
      }
    }
    const last = messages[messages.length - 1];
    let more = false;
    if (messages.length >= limit) {
      for (const name of names) {
        const channel = channels.get(name);
        if (channel !== undefined && firstAfter(channel, (last as Entry).seq) < channel.entries.length) more = true;
      }
    }
    return { messages, gap, head: last === undefined ? token(seq) : last.token, more };
  }

  function append(name: string, input: MessageInput): StoredMessage {
    let channel = channels.get(name);
    if (channel === undefined) {
      if (channels.size >= maxChannels) throw new StoreUnavailableError('too_many_channels', `at most ${maxChannels} channels may be alive at once`);
      channel = makeChannel();
      channels.set(name, channel);
    }
    seq += 1;
    const entry = new Entry(name, seq, token(seq), Date.now(), input.contentType, input.event, input.data);
    channel.entries.push(entry);
    bufferBytes += entry.data.length;
    expiryQueue.push(entry);
    if (channel.entries.length - channel.first > buffer) {
      dropOldest(channel);
      evicted += 1;
      droppedEarly();
    }
    for (const watcher of watchers) watcher.message(entry);
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
        channel = makeChannel();
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
    const last = channel.entries.length > channel.first ? channel.entries[channel.entries.length - 1] : undefined;
    return { messages: channel.entries.length - channel.first, lastMessageId: last?.id, requested: channel.requested };
  }

  function remove(name: string): boolean {
    const channel = channels.get(name);
    if (channel === undefined) return false;
    channels.delete(name);
    for (let i = channel.first; i < channel.entries.length; i++) {
      const entry = channel.entries[i] as Entry;
      entry.dropped = true;
      bufferBytes -= entry.data.length;
      droppedEarly();
    }
    for (const watcher of watchers) watcher.deleted(name);
    return true;
  }

  function head(): string {
    return token(seq);
  }

  return {
    kind: 'memory',
    immediate: { read, head, touch },
    append: async (name, input) => append(name, input),
    read: async (names, after, limit) => read(names, after, limit),
    head: async () => head(),
    follows: (tokenText, position) => {
      const at = seqOf(position);
      return at < 0 || seqOf(tokenText) > at;
    },
    touch: async (names) => touch(names),
    info: async (name) => info(name),
    delete: async (name) => remove(name),
    released(name) {
      const channel = channels.get(name);
      if (channel !== undefined) forgetIfIdle(name, channel);
    },
    watch(events) {
      watchers.add(events);
      return () => {
        watchers.delete(events);
      };
    },
    stats: () => ({ channels: channels.size, bufferBytes, expired, evicted }),
    async close() {
      clearInterval(sweepTimer);
      watchers.clear();
    },
  };
}
