/** The Redis store's upkeep: the sweep (dead channels forgotten, the figures of /stats fetched) and keeping held channels alive. */
import type { StoreStats } from '../store';
import { decodeStats, newEpochCandidate } from './codec';
import { SCRIPTS, type Script } from './scripts';

export interface UpkeepOptions {
  run(script: Script, args: string[]): Promise<unknown>;
  /** Whether the command connection is up (no upkeep is tried while it is down). */
  ready(): boolean;
  /** Channels a subscriber of this process asked for; those no longer held leave it here. */
  readonly known: Set<string>;
  isHeld(channel: string): boolean;
  readonly ttlMs: number;
  /** Milliseconds an empty channel stays alive after its last request. */
  readonly grace: number;
}

export class Upkeep {
  /** The figures the last sweep fetched (kept while Redis is down). */
  stats: StoreStats = { channels: 0, bufferBytes: 0, expired: 0, evicted: 0 };
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly refreshTimer: NodeJS.Timeout;

  constructor(private readonly options: UpkeepOptions) {
    this.sweepTimer = setInterval(() => void this.sweep(), 1000);
    this.sweepTimer.unref();
    // Three refreshes within a grace: a held channel outlives a late or failed one.
    this.refreshTimer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(options.grace / 3)));
    this.refreshTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    clearInterval(this.refreshTimer);
  }

  /** Forgets channels dead in Redis (a hundred at a time) and fetches the figures. */
  private async sweep(): Promise<void> {
    if (!this.options.ready()) return;
    try {
      this.stats = decodeStats(await this.options.run(SCRIPTS.sweep, [newEpochCandidate(), String(this.options.ttlMs), '100']));
    } catch {
      // Redis is down: keep the figures we last knew.
    }
  }

  /** Keeps the channels held here alive in Redis. */
  private async refresh(): Promise<void> {
    const { known, isHeld, run, grace } = this.options;
    if (!this.options.ready()) return;
    const held: string[] = [];
    for (const name of known) {
      if (isHeld(name)) held.push(name);
      else known.delete(name);
    }
    try {
      for (let i = 0; i < held.length; i += 500) await run(SCRIPTS.refresh, [String(grace), ...held.slice(i, i + 500)]);
    } catch {
      // Tried again at the next tick.
    }
  }
}
