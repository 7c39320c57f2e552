// This process's subscriber counts per channel, and which of them changed since a store last took them.

/** One channel's holders in one process (0: none any more). */
export type Counts = Map<string, number>;

export interface LocalCounts {
  /** The registry says a channel's holders changed (a hold came or went). */
  touched(channel: string): void;
  /**
   * The channels whose count is not the one last taken, with their count now (0 for a channel
   * held no more), and remembers these as taken. A hold that left and came back between two
   * takes changes nothing: a long-poll's re-poll costs a set insertion, not a report.
   */
  take(): Counts;
  /** Every channel held now, with its count: the whole share, for a store that lost its copy. */
  all(): Counts;
  /** Starts noting changes (until then `touched` costs nothing), from the channels held now. */
  start(): void;
}

/** `holders` and `held` read the registry (lib/registry.ts): the counts are its own, read when taken. */
export function createLocalCounts(holders: (channel: string) => number, held: () => Iterable<string>): LocalCounts {
  /** Channels touched since the last take; bounded by the channels held in between. */
  const dirty = new Set<string>();
  /** What the last take said of each channel still held. */
  const taken = new Map<string, number>();
  let started = false;

  function take(): Counts {
    const changes: Counts = new Map();
    for (const channel of dirty) {
      const now = holders(channel);
      if (now === (taken.get(channel) ?? 0)) continue;
      changes.set(channel, now);
      if (now === 0) taken.delete(channel);
      else taken.set(channel, now);
    }
    dirty.clear();
    return changes;
  }

  return {
    touched(channel) {
      if (started) dirty.add(channel);
    },
    take,
    all() {
      take();
      return new Map(taken);
    },
    start() {
      if (started) return;
      started = true;
      for (const channel of held()) dirty.add(channel);
    },
  };
}
