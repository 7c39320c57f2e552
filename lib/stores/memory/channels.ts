/** The memory store's channels: each a buffer of entries in publish order, read by sequence number. */
import { firstAfterSeq } from '../sequence';
import { type StoredMessage, messageId } from '../store';

/** A held message; `seq` is its place in the store's one sequence. */
export class Entry implements StoredMessage {
  /** Links of the store's publish-order list (budget.ts) while the entry is held. */
  older: Entry | undefined = undefined;
  newer: Entry | undefined = undefined;
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

export class Channel {
  /**
   * Held entries from `first` on. The slots before it are emptied as entries leave (so a
   * dropped message's bytes go at once) and cut off now and then.
   */
  entries: (Entry | undefined)[] = [];
  first = 0;
  /** Highest sequence number dropped (evicted or expired) from this channel; 0 if none. */
  droppedSeq = 0;
  /** Unix milliseconds of the last subscriber request. */
  requested: number | undefined = undefined;

  /** `createdSeq`: the store's sequence number when this record was made. */
  constructor(readonly createdSeq: number) {}

  /** Entries held. */
  get size(): number {
    return this.entries.length - this.first;
  }

  last(): Entry | undefined {
    return this.size > 0 ? this.entries[this.entries.length - 1] : undefined;
  }

  /** Drops the oldest held entry (the channel must hold one) and returns it. */
  dropOldest(): Entry {
    const entry = this.entries[this.first] as Entry;
    this.entries[this.first] = undefined;
    this.first += 1;
    if (this.first > 64 && this.first * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.first);
      this.first = 0;
    }
    this.droppedSeq = entry.seq;
    return entry;
  }

  /** Index of the first entry after sequence number `after` (a binary search). */
  firstAfter(after: number): number {
    return firstAfterSeq(this.entries, this.first, after);
  }
}

interface Cursor {
  readonly channel: Channel;
  index: number;
}

/** Up to `limit` entries after sequence number `after`, merged in publish order; `more` when some remain. */
export function readAfter(channels: readonly Channel[], after: number, limit: number): { entries: Entry[]; more: boolean } {
  const cursors: Cursor[] = [];
  for (const channel of channels) {
    const index = channel.firstAfter(after);
    if (index < channel.entries.length) cursors.push({ channel, index });
  }
  let entries: Entry[] = [];
  if (cursors.length === 1) {
    // One channel, every re-poll's case: one copy of the run, not an element at a time.
    const { channel, index } = cursors[0] as Cursor;
    entries = channel.entries.slice(index, index + limit) as Entry[];
  } else {
    // At most 16 channels: a linear pick per entry is enough.
    while (entries.length < limit) {
      let best: Cursor | undefined;
      for (const cursor of cursors) {
        if (cursor.index >= cursor.channel.entries.length) continue;
        if (best === undefined || (cursor.channel.entries[cursor.index] as Entry).seq < (best.channel.entries[best.index] as Entry).seq) best = cursor;
      }
      if (best === undefined) break;
      entries.push(best.channel.entries[best.index] as Entry);
      best.index += 1;
    }
  }
  const last = entries[entries.length - 1];
  let more = false;
  if (last !== undefined && entries.length >= limit) {
    for (const { channel } of cursors) if (channel.firstAfter(last.seq) < channel.entries.length) more = true;
  }
  return { entries, more };
}
