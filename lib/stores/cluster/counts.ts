/** Subscriber counts per channel as the cluster's primary knows them: each worker's share, and their sums. */

export class CountTable {
  private readonly shares = new Map<number, Map<string, number>>();
  private readonly totals = new Map<string, number>();

  /** Subscribers of a channel in every worker. */
  total(channel: string): number {
    return this.totals.get(channel) ?? 0;
  }

  /** Subscribers of a channel in every worker but `worker`. */
  others(worker: number, channel: string): number {
    return this.total(channel) - (this.shares.get(worker)?.get(channel) ?? 0);
  }

  /** Every channel with a subscriber somewhere, with its total. */
  all(): IterableIterator<[string, number]> {
    return this.totals.entries();
  }

  /** A worker's counts that changed (0: it holds the channel no more). */
  set(worker: number, changes: Iterable<readonly [string, number]>): string[] {
    let share = this.shares.get(worker);
    if (share === undefined) {
      share = new Map();
      this.shares.set(worker, share);
    }
    const changed: string[] = [];
    for (const [channel, count] of changes) {
      const before = share.get(channel) ?? 0;
      if (count === before) continue;
      if (count === 0) share.delete(channel);
      else share.set(channel, count);
      this.add(channel, count - before);
      changed.push(channel);
    }
    if (share.size === 0) this.shares.delete(worker);
    return changed;
  }

  /** Forgets a worker that went away; returns the channels whose totals changed. */
  drop(worker: number): string[] {
    const share = this.shares.get(worker);
    if (share === undefined) return [];
    this.shares.delete(worker);
    for (const [channel, count] of share) this.add(channel, -count);
    return [...share.keys()];
  }

  private add(channel: string, delta: number): void {
    const total = (this.totals.get(channel) ?? 0) + delta;
    if (total <= 0) this.totals.delete(channel);
    else this.totals.set(channel, total);
  }
}
