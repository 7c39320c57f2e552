/** The watchers of one store: each hears every event, and one that throws never stops the others. */
import type { StoreEvents, StoredMessage } from './store';

export class Watchers {
  private readonly set = new Set<StoreEvents>();

  /** Adds a watcher; returns the function that removes it. */
  add(events: StoreEvents): () => void {
    this.set.add(events);
    return () => {
      this.set.delete(events);
    };
  }

  message(message: StoredMessage): void {
    for (const watcher of this.set) {
      try {
        watcher.message(message);
      } catch {
        // A watcher's failure is its own: the others still hear, and the append stands.
      }
    }
  }

  deleted(channel: string): void {
    for (const watcher of this.set) {
      try {
        watcher.deleted(channel);
      } catch {
        // As above.
      }
    }
  }

  clear(): void {
    this.set.clear();
  }
}
