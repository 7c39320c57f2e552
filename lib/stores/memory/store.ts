/** The in-memory store: one process's channels, buffers and cursor tokens. */
import { randomBytes } from 'node:crypto';
import { IdempotencyCache } from '../../idempotency/cache';
import { type BatchInput, type ChannelInfo, type MessageInput, type MessageStore, type ReadResult, StoreUnavailableError } from '../store';
import { Watchers } from '../watchers';
import { BufferBudget, DEFAULT_BUFFER_BYTES } from './budget';
import { Channel, Entry, readAfter } from './channels';
import { memoryToken, parseMemoryToken } from './tokens';

export interface MemoryStoreOptions {
  /** Messages kept per channel. */
  buffer: number;
  /** Seconds a message is kept. */
  messageTtl: number;
  /** Channels alive at once; creating one more fails. */
  maxChannels: number;
  /**
   * Bytes all held messages may take together (their bodies and their bookkeeping, see
   * budget.ts); a publish that would pass it first drops the oldest messages of any channel,
   * and a body larger than it is refused (RangeError). @defaultValue 256 MiB
   */
  maxBufferBytes?: number;
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
  const budget = new BufferBudget(options.maxBufferBytes ?? DEFAULT_BUFFER_BYTES);
  const keys = new IdempotencyCache();
  /** Channels made by a subscriber's touch that hold no message yet: checked once by the sweep. */
  let untested = new Set<string>();
  let seq = 0;
  /** Highest sequence number dropped from a channel that was then forgotten. */
  let forgottenSeq = 0;
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

  /** Takes out of its channel an entry the budget let go: always its channel's oldest. */
  function leave(entry: Entry): void {
    const channel = channels.get(entry.channel) as Channel;
    channel.dropOldest();
    forgetIfIdle(entry.channel, channel);
  }

  function expireEntry(entry: Entry): void {
    leave(entry);
    expired += 1;
  }

  function evictEntry(entry: Entry): void {
    leave(entry);
    evicted += 1;
  }

  function expire(now: number): void {
    budget.expire(now - ttlMs, expireEntry);
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

  function tooManyChannels(): StoreUnavailableError {
    return new StoreUnavailableError('too_many_channels', `at most ${maxChannels} channels may be alive at once`);
  }

  /** A body larger than the whole budget could never be held (the core refuses it first). */
  function checkSize(input: MessageInput): void {
    if (input.data.length > budget.limit) throw new RangeError(`a message may be at most ${budget.limit} bytes (maxBufferBytes), got ${input.data.length}`);
  }

  function append(name: string, input: MessageInput): Entry {
    checkSize(input);
    let channel = channels.get(name);
    if (channel === undefined) {
      if (channels.size >= maxChannels) throw tooManyChannels();
      channel = new Channel(seq);
      channels.set(name, channel);
    }
    seq += 1;
    const entry = new Entry(name, seq, memoryToken(epoch, seq), Date.now(), input.contentType, input.event, input.data);
    channel.entries.push(entry);
    budget.add(entry);
    if (channel.size > buffer) {
      budget.remove(channel.dropOldest());
      evicted += 1;
    }
    // Its channel holds it now, so making room never forgets the channel it goes to.
    budget.fit(evictEntry);
    watchers.message(entry);
    return entry;
  }

  /** All or nothing: the channels a batch would create are counted before anything is appended. */
  function appendMany(inputs: readonly BatchInput[]): Entry[] {
    const fresh = new Set<string>();
    for (const input of inputs) if (!channels.has(input.channel)) fresh.add(input.channel);
    if (fresh.size > 0 && channels.size + fresh.size > maxChannels) throw tooManyChannels();
    for (const input of inputs) checkSize(input);
    return inputs.map((input) => append(input.channel, input));
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
    for (let i = channel.first; i < channel.entries.length; i++) budget.remove(channel.entries[i] as Entry);
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
    bufferBudget: budget.limit,
    append: async (name, input) => append(name, input),
    appendMany: async (inputs) => appendMany(inputs),
    idempotency: keys.ledger(),
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
    stats: () => ({ channels: channels.size, bufferBytes: budget.bytes, expired, evicted }),
    async close() {
      clearInterval(sweepTimer);
      watchers.clear();
      keys.clear();
    },
  };
}
