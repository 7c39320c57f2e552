/** The memory store's expiry queue: every held entry in publish order (one TTL for all, so oldest first). */
import type { Entry } from './channels';

export class ExpiryQueue {
  private queue: Entry[] = [];
  private first = 0;
  /** Entries in the queue already dropped by eviction or deletion, kept until compacted. */
  private droppedQueued = 0;

  push(entry: Entry): void {
    this.queue.push(entry);
  }

  /** Hands every entry published at or before `cutoff`, and not dropped yet, to `expire`, oldest first. */
  expire(cutoff: number, expire: (entry: Entry) => void): void {
    while (this.first < this.queue.length) {
      const entry = this.queue[this.first] as Entry;
      if (!entry.dropped && entry.time > cutoff) break;
      this.first += 1;
      if (entry.dropped) this.droppedQueued -= 1;
      else expire(entry);
    }
    if (this.first > 1024 && this.first * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.first);
      this.first = 0;
    }
  }

  /**
   * Counts an entry dropped before its expiry. The queue would keep it (and its bytes) until its
   * TTL, so a busy channel with a small buffer would hold an hour of messages: once most of the
   * queue is dropped entries, they leave it.
   */
  droppedEarly(): void {
    this.droppedQueued += 1;
    if (this.droppedQueued > 1024 && this.droppedQueued * 2 > this.queue.length - this.first) {
      this.queue = this.queue.slice(this.first).filter((entry) => !entry.dropped);
      this.first = 0;
      this.droppedQueued = 0;
    }
  }
}
