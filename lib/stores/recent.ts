/** Messages a store told its watchers lately, by key: to hand back from `append` the object they saw. */
import type { StoredMessage } from './store';

export class RecentMessages<K> {
  private readonly map = new Map<K, StoredMessage>();

  /** Past `limit` entries, the oldest half goes at once, so trimming is rare. */
  constructor(private readonly limit: number) {}

  get(key: K): StoredMessage | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, message: StoredMessage): void {
    this.map.set(key, message);
    if (this.map.size <= this.limit) return;
    for (const old of this.map.keys()) {
      this.map.delete(old);
      if (this.map.size <= this.limit / 2) break;
    }
  }

  clear(): void {
    this.map.clear();
  }
}
