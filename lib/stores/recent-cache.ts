/**
 * A process's cache of each channel's recent messages, fed by the messages its store hears from
 * the place that sequences them (Redis's event stream, a cluster's primary): a re-poll whose
 * position falls within it is answered from memory, with no call to that place.
 */
import { performance } from 'node:perf_hooks';
import { firstAfterSeq } from './sequence';
import type { ReadResult, StoredMessage } from './store';
import type { SequencePlace } from './tokens';

export interface RecentCacheOptions {
  /** Messages kept per channel: at most the store's buffer, so none is kept that the sequencer trimmed. */
  readonly perChannel: number;
  /** Bytes every cached message may take together (bodies plus {@link MESSAGE_OVERHEAD} each). */
  readonly bytes: number;
  /** Milliseconds a message is trusted after it was heard (half the message TTL: the sequencer drops it at the TTL). */
  readonly trustMs: number;
  /** A token's epoch and sequence number (the store's own tokens), or null when it is not one. */
  readonly parse: (token: string) => SequencePlace | null;
  /** The clock, in milliseconds. @defaultValue performance.now */
  readonly now?: () => number;
}

/** What a cached message is counted for beyond its body: the object, its token and id, the entry. */
export const MESSAGE_OVERHEAD = 256;
/** Channels deleted here whose deletion the event stream has not brought back yet, at most. */
const BLOCKED_LIMIT = 1024;

interface Entry {
  readonly seq: number;
  readonly message: StoredMessage;
  readonly heard: number;
  readonly size: number;
}

/** One channel's messages with a sequence number in `(base, last heard]`: every one of them, in order. */
interface Line {
  base: number;
  readonly entries: Entry[];
  /** Index of the oldest entry kept (dropping from the front is a move of this index). */
  start: number;
}

export interface CacheFigures {
  readonly channels: number;
  readonly messages: number;
  readonly bytes: number;
}

/**
 * The sequencer (Redis, a cluster's primary) numbers every message of every channel from one
 * counter and tells each in that order, so a process that heard sequence numbers s, s+1, ...
 * without a hole heard every message published meanwhile. The cache trusts itself only over
 * such a run: a hole (a message skipped after its wait, a catch-up after the stream was away),
 * another epoch (the sequencer wiped or restarted) or a token it cannot read empties it, and it
 * starts again from the next message heard. A channel's line holds every message of it after its
 * `base`; a message dropped (per-channel cap, byte budget, past its trust) raises the base to it,
 * and a channel forgotten (budget, deletion) leaves the lines made later starting at the newest
 * message heard (`floor`): a position before a base is read from the sequencer, which knows what
 * was dropped. Answers are what a read of the sequencer would have said when the last message
 * heard was published.
 */
export class RecentCache {
  private epoch: string | undefined;
  /** The last message heard in an unbroken run; undefined until the run starts. */
  private last: { seq: number; token: string } | undefined;
  /** Where a line made now starts: no message after it of a channel without a line was dropped here. */
  private floor = 0;
  /** Lines in the order their channel last heard a message (the first is evicted first). */
  private readonly lines = new Map<string, Line>();
  /** Channels this process is deleting: neither cached nor answered until the sequencer's word of it comes. */
  private readonly blocked = new Set<string>();
  private bytes = 0;
  private messages = 0;
  private readonly now: () => number;

  constructor(private readonly options: RecentCacheOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** A message told to the store's watchers (in the order they hear them). */
  heard(message: StoredMessage): void {
    const token = this.options.parse(message.token);
    if (token === null || token.epoch !== this.epoch || this.last === undefined || token.seq !== this.last.seq + 1) {
      this.reset();
      if (token === null) return;
      this.epoch = token.epoch;
      this.last = { seq: token.seq, token: message.token };
      this.floor = token.seq;
      return;
    }
    this.last = { seq: token.seq, token: message.token };
    const { channel } = message;
    if (this.blocked.has(channel)) return;
    let line = this.lines.get(channel);
    if (line === undefined) line = { base: this.floor, entries: [], start: 0 };
    else this.lines.delete(channel);
    this.lines.set(channel, line);
    const now = this.now();
    const size = message.data.length + MESSAGE_OVERHEAD;
    line.entries.push({ seq: token.seq, message, heard: now, size });
    this.bytes += size;
    this.messages += 1;
    if (line.entries.length - line.start > this.options.perChannel) this.dropOldest(line);
    this.evict(now);
  }

  /**
   * Messages after `after` on `channels`, when every channel has a line that holds all of them:
   * up to `limit`, in publish order, with no gap. Undefined when the sequencer must answer.
   */
  read(channels: readonly string[], after: string | null, limit: number): ReadResult | undefined {
    const last = this.last;
    if (last === undefined || after === null) return undefined;
    const position = this.options.parse(after);
    if (position === null || position.epoch !== this.epoch || position.seq > last.seq) return undefined;
    const now = this.now();
    const found: Entry[][] = [];
    for (const channel of channels) {
      const line = this.lines.get(channel);
      if (line === undefined || this.blocked.has(channel)) return undefined;
      this.dropDistrusted(channel, line, now);
      if (position.seq < line.base || !this.lines.has(channel)) return undefined;
      // One more than the limit at most: enough to tell whether more remain.
      const from = firstAfterSeq(line.entries, line.start, position.seq);
      found.push(line.entries.slice(from, from + limit + 1));
    }
    const merged = found.length === 1 ? (found[0] as Entry[]) : found.flat().sort((a, b) => a.seq - b.seq);
    const messages = merged.slice(0, limit).map((entry) => entry.message);
    const newest = messages[messages.length - 1];
    return { messages, gap: false, head: newest === undefined ? last.token : newest.token, more: merged.length > limit };
  }

  /**
   * The sequencer dropped `channel`'s messages up to sequence number `seq` (trimmed to the
   * appending server's buffer, evicted for its byte budget): none of them is answered from here any more.
   */
  dropped(channel: string, seq: number): void {
    const line = this.lines.get(channel);
    if (line === undefined || seq <= line.base) return;
    while (line.start < line.entries.length && (line.entries[line.start] as Entry).seq <= seq) this.dropOldest(line);
    if (line.start === line.entries.length) this.forget(channel);
    else line.base = seq;
  }

  /** This process is deleting `channel`: forget it, and cache none of it until the sequencer tells of the deletion. */
  deleting(channel: string): void {
    this.forget(channel);
    this.blocked.add(channel);
    if (this.blocked.size > BLOCKED_LIMIT) this.blocked.delete(this.blocked.values().next().value as string);
  }

  /** The sequencer says `channel` was deleted (by any process), or this process's deletion found nothing. */
  deleted(channel: string): void {
    this.forget(channel);
    this.blocked.delete(channel);
    // What was heard of it before the deletion is not answered from here again.
    if (this.last !== undefined) this.floor = this.last.seq;
  }

  /** Forgets everything (the event stream went away); the next message heard starts a new run. */
  reset(): void {
    this.lines.clear();
    this.bytes = 0;
    this.messages = 0;
    this.last = undefined;
    this.epoch = undefined;
  }

  figures(): CacheFigures {
    return { channels: this.lines.size, messages: this.messages, bytes: this.bytes };
  }

  /** Past the byte budget, the oldest messages of the channels heard least lately go first; and one distrusted message with each message heard. */
  private evict(now: number): void {
    for (const [channel, line] of this.lines) {
      if (this.bytes <= this.options.bytes) {
        this.dropDistrusted(channel, line, now, 1);
        return;
      }
      while (this.bytes > this.options.bytes && line.start < line.entries.length) this.dropOldest(line);
      if (line.start === line.entries.length) this.forget(channel);
    }
  }

  /** Drops messages the sequencer may have dropped for their age (up to `most`); a line left empty is forgotten. */
  private dropDistrusted(channel: string, line: Line, now: number, most = Infinity): void {
    for (let dropped = 0; dropped < most; dropped++) {
      const oldest = line.entries[line.start];
      if (oldest === undefined || now - oldest.heard < this.options.trustMs) break;
      this.dropOldest(line);
    }
    if (line.start === line.entries.length) this.forget(channel);
  }

  private dropOldest(line: Line): void {
    const oldest = line.entries[line.start] as Entry;
    line.start += 1;
    line.base = oldest.seq;
    this.bytes -= oldest.size;
    this.messages -= 1;
    // Compact once half the array is dropped entries: each entry is moved at most once on average.
    if (line.start * 2 >= line.entries.length) {
      line.entries.splice(0, line.start);
      line.start = 0;
    }
  }

  private forget(channel: string): void {
    const line = this.lines.get(channel);
    if (line === undefined) return;
    for (let i = line.start; i < line.entries.length; i++) this.bytes -= (line.entries[i] as Entry).size;
    this.messages -= line.entries.length - line.start;
    this.lines.delete(channel);
    if (this.last !== undefined) this.floor = this.last.seq;
  }
}
