/** Which workers hold which channels, as the cluster's primary knows it: a channel nobody holds may be forgotten. */

export class HoldTable {
  private readonly byChannel = new Map<string, Set<number>>();
  private readonly byWorker = new Map<number, Set<string>>();

  isHeld(channel: string): boolean {
    return (this.byChannel.get(channel)?.size ?? 0) > 0;
  }

  hold(worker: number, channels: readonly string[]): void {
    let mine = this.byWorker.get(worker);
    if (mine === undefined) {
      mine = new Set();
      this.byWorker.set(worker, mine);
    }
    for (const channel of channels) {
      mine.add(channel);
      let holders = this.byChannel.get(channel);
      if (holders === undefined) {
        holders = new Set();
        this.byChannel.set(channel, holders);
      }
      holders.add(worker);
    }
  }

  /** Lets go of channels a worker held; returns those that nobody holds now. */
  release(worker: number, channels: Iterable<string>): string[] {
    const mine = this.byWorker.get(worker);
    const free: string[] = [];
    for (const channel of channels) {
      mine?.delete(channel);
      const holders = this.byChannel.get(channel);
      if (holders === undefined) continue;
      holders.delete(worker);
      if (holders.size === 0) {
        this.byChannel.delete(channel);
        free.push(channel);
      }
    }
    if (mine?.size === 0) this.byWorker.delete(worker);
    return free;
  }

  /** Lets go of everything a worker held (it went away); returns the channels nobody holds now. */
  releaseAll(worker: number): string[] {
    return this.release(worker, [...(this.byWorker.get(worker) ?? [])]);
  }
}
