// The memory store's held entries in publish order, and their bytes against one budget for the whole store.
import type { Entry } from './channels';

/** `maxBufferBytes` when none is given: 256 MiB. */
export const DEFAULT_BUFFER_BYTES = 256 * 1024 * 1024;

/**
 * What a held message costs besides its body (the entry, its id and token, the body's Buffer
 * object, its slots in the lists: about 400 bytes of heap, measured): charged to the budget too, so that
 * many tiny messages are bounded as well as a few large ones.
 */
export const ENTRY_COST = 512;

/**
 * `--max-buffer-bytes`: the oldest entries leave first, at the end of their TTL (one TTL for
 * all, so publish order is expiry order) or when a publish needs room, whatever channel they
 * are in. A list linked through the entries themselves: an entry that leaves early (trimmed by
 * `--buffer`, its channel deleted) leaves the list at once, so nothing here keeps its bytes
 * until a later compaction, and every step is O(1).
 */
export class BufferBudget {
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  /** Bytes of the bodies of every held entry (`bufferBytes` of /stats). */
  bytes = 0;
  /** What the held entries cost against the limit: their bodies and ENTRY_COST each. */
  private charged = 0;

  /** `limit`: bytes the held entries may cost together. */
  constructor(readonly limit: number) {}

  add(entry: Entry): void {
    entry.older = this.newest;
    if (this.newest === undefined) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
    this.bytes += entry.data.length;
    this.charged += entry.data.length + ENTRY_COST;
  }

  /** Takes an entry out (it must be held); its links are cleared, so it keeps no neighbour alive. */
  remove(entry: Entry): void {
    const { older, newer } = entry;
    if (older === undefined) this.oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.newest = older;
    else newer.older = older;
    entry.older = undefined;
    entry.newer = undefined;
    this.bytes -= entry.data.length;
    this.charged -= entry.data.length + ENTRY_COST;
  }

  /** Takes out every entry published at or before `cutoff`, oldest first, and hands each to `left`. */
  expire(cutoff: number, left: (entry: Entry) => void): void {
    for (let entry = this.oldest; entry !== undefined && entry.time <= cutoff; entry = this.oldest) {
      this.remove(entry);
      left(entry);
    }
  }

  /**
   * After an add: takes out the oldest entries, handing each to `left`, until the held ones fit
   * the budget again; never the newest (the caller refuses a body larger than the budget).
   */
  fit(left: (entry: Entry) => void): void {
    for (let entry = this.oldest; entry !== undefined && entry !== this.newest && this.charged > this.limit; entry = this.oldest) {
      this.remove(entry);
      left(entry);
    }
  }
}
