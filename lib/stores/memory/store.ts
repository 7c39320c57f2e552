/** The in-memory store: one process's channels, buffers and cursor tokens. */
import { randomBytes } from 'node:crypto';
import { IdempotencyCache } from '../../idempotency/cache';
import { type AppendResult, type BatchInput, type ChannelInfo, type MessageInput, type MessageStore, type ReadResult, type StoreLimits, tooManyChannels } from '../store';
import { Watchers } from '../watchers';
import { BufferBudget, DEFAULT_BUFFER_BYTES } from './budget';
import { type Channel, Entry, readAfter } from './channels';
import { ChannelTable } from './table';
import { memoryToken, parseMemoryToken } from './tokens';

export interface MemoryStoreOptions extends StoreLimits {
  /**
   * Bytes all held messages may take together (their bodies and their bookkeeping, see
   * budget.ts); a publish that would pass it first drops the oldest messages of any channel,
   * and a body larger than it is refused (RangeError). @defaultValue 256 MiB
   */
  maxBufferBytes?: number;
}

/** The memory store: it tells a channel's info with every append. */
export interface MemoryStore extends MessageStore {
  appendWithInfo(channel: string, input: MessageInput): Promise<AppendResult>;
}

export function createMemoryStore(options: MemoryStoreOptions): MemoryStore {
  return createSequencer(options);
}

/**
 * The memory store, telling `evicted` of each message its byte budget drops to make room (the
 * cluster's primary passes that on to its workers' caches; expiry and `buffer` they apply themselves).
 *
 * One sequence for the whole process, so tokens are ordered across channels. The token's epoch
 * is new at every start, so a token from an earlier run is recognised as never issued (a gap)
 * instead of a point in the future. Watchers hear a message inside the append that made it.
 * The factory is the store's methods over its shared state, so it is longer than most functions.
 */
export function createSequencer(options: MemoryStoreOptions, evicted?: (channel: string, seq: number) => void): MemoryStore {
  const { buffer, maxChannels } = options;
  const ttlMs = options.messageTtl * 1000;
  const epoch = Date.now().toString(36) + randomBytes(2).toString('hex');
  const channels = new ChannelTable(options.isHeld);
  const watchers = new Watchers();
  const budget = new BufferBudget(options.maxBufferBytes ?? DEFAULT_BUFFER_BYTES);
  const keys = new IdempotencyCache();
  let seq = 0;
  /** The token of `seq`, made once per message: every hold that starts at the head shares it. */
  let headToken = memoryToken(epoch, seq);
  let expired = 0;
  let evictedCount = 0;

  const sweepTimer = setInterval(() => {
    expire(Date.now());
    channels.sweep();
  }, Math.max(10, Math.min(1000, ttlMs / 4)));
  sweepTimer.unref();

  /** The sequence number a token names, or -1 when this store never issued it. */
  function seqOf(token: string): number {
    const parsed = parseMemoryToken(token);
    return parsed !== null && parsed.epoch === epoch && parsed.seq <= seq ? parsed.seq : -1;
  }

  /** Takes out of its channel an entry the budget let go: always its channel's oldest. */
  function leave(entry: Entry): void {
    (channels.get(entry.channel) as Channel).dropOldest();
    channels.forgetIfIdle(entry.channel);
  }

  function expireEntry(entry: Entry): void {
    leave(entry);
    expired += 1;
  }

  function evictEntry(entry: Entry): void {
    leave(entry);
    evictedCount += 1;
    evicted?.(entry.channel, entry.seq);
  }

  function expire(now: number): void {
    budget.expire(now - ttlMs, expireEntry);
  }

  function read(names: readonly string[], after: string | null, limit: number): ReadResult {
    expire(Date.now());
    const afterSeq = after === null ? null : seqOf(after);
    const { found, gap } = channels.lookup(names, afterSeq);
    const { entries, more } = readAfter(found, Math.max(0, afterSeq ?? 0), limit);
    const last = entries[entries.length - 1];
    return { messages: entries, gap, head: last === undefined ? headToken : last.token, more };
  }

  /** A body larger than the whole budget could never be held (the core refuses it first). */
  function checkSize(input: MessageInput): void {
    if (input.data.length > budget.limit) throw new RangeError(`a message may be at most ${budget.limit} bytes (maxBufferBytes), got ${input.data.length}`);
  }

  function append(name: string, input: MessageInput): Entry {
    checkSize(input);
    let channel = channels.get(name);
    if (channel === undefined) {
      if (channels.size >= maxChannels) throw tooManyChannels(maxChannels);
      channel = channels.create(name, seq, false);
    }
    seq += 1;
    headToken = memoryToken(epoch, seq);
    const entry = new Entry(name, seq, headToken, Date.now(), input.contentType, input.event, input.data);
    channel.entries.push(entry);
    budget.add(entry);
    if (channel.size > buffer) {
      budget.remove(channel.dropOldest());
      evictedCount += 1;
    }
    // Its channel holds it now, so making room never forgets the channel it goes to.
    budget.fit(evictEntry);
    watchers.message(entry);
    return entry;
  }

  /** Whether the channels of `names` that do not exist yet (each counted once) may all be made. */
  function roomFor(names: readonly string[]): boolean {
    // Nothing to count (and no set made) when every channel exists: a subscriber's usual case.
    if (names.every((name) => channels.has(name))) return true;
    const fresh = new Set<string>();
    for (const name of names) if (!channels.has(name)) fresh.add(name);
    return channels.size + fresh.size <= maxChannels;
  }

  /** All or nothing: the channels a batch would create are counted before anything is appended. */
  function appendMany(inputs: readonly BatchInput[]): Entry[] {
    if (!roomFor(inputs.map((input) => input.channel))) throw tooManyChannels(maxChannels);
    for (const input of inputs) checkSize(input);
    return inputs.map((input) => append(input.channel, input));
  }

  function touch(names: readonly string[]): boolean {
    if (!roomFor(names)) return false;
    const now = Date.now();
    for (const name of names) (channels.get(name) ?? channels.create(name, seq, true)).requested = now;
    return true;
  }

  function info(name: string): ChannelInfo | null {
    expire(Date.now());
    const channel = channels.get(name);
    if (channel === undefined) return null;
    return { messages: channel.size, lastMessageId: channel.last()?.id, requested: channel.requested };
  }

  function remove(name: string): boolean {
    const channel = channels.remove(name);
    if (channel === undefined) return false;
    for (let i = channel.first; i < channel.entries.length; i++) budget.remove(channel.entries[i] as Entry);
    watchers.deleted(name);
    return true;
  }

  function head(): string {
    return headToken;
  }

  return {
    kind: 'memory',
    immediate: { read, head, touch },
    wakesInStep: true,
    bufferBudget: budget.limit,
    append: async (name, input) => append(name, input),
    async appendWithInfo(name, input) {
      const message = append(name, input);
      // Its own message, too young to expire, keeps the channel: there is an info.
      return { message, info: info(name) as ChannelInfo };
    },
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
    released: (name) => channels.forgetIfIdle(name),
    watch: (events) => watchers.add(events),
    stats: () => ({ channels: channels.size, bufferBytes: budget.bytes, expired, evicted: evictedCount }),
    async close() {
      clearInterval(sweepTimer);
      watchers.clear();
      keys.clear();
    },
  };
}
