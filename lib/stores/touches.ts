/**
 * Channels this process touched lately in the store that keeps them (Redis, a cluster's
 * primary): a subscriber's touch of one of them within the window costs no call, so re-polls
 * cost that store nothing however many subscribers re-poll.
 */
import { performance } from 'node:perf_hooks';

/** Channels remembered at most; past it the ones touched least lately are forgotten first. */
const LIMIT = 10000;

export class RecentTouches {
  /** When each channel was last touched in the store (performance.now() ms), oldest first. */
  private readonly at = new Map<string, number>();
  /** Touches on their way to the store, by channel list: the re-polls that come meanwhile share them. */
  private readonly going = new Map<string, Promise<boolean>>();

  /**
   * `windowMs` is at most a quarter of the channel grace: a channel touched within it is alive
   * in the store for most of a grace yet, so skipping its touch neither lets it be forgotten nor
   * changes the channel limit; its last request time (`info`) is late by the window at most.
   */
  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * True at once when every channel was touched within the window; else the answer of the touch
   * of the same channels on its way, or of `touch` (the store's), remembered when true.
   */
  touch(channels: readonly string[], touch: () => Promise<boolean>): Promise<boolean> {
    if (this.fresh(channels)) return Promise.resolve(true);
    const key = channels.join('\n');
    let going = this.going.get(key);
    if (going === undefined) {
      going = touch().then((done) => {
        if (done) this.touched(channels);
        return done;
      });
      const settled = (): void => {
        this.going.delete(key);
      };
      going.then(settled, settled);
      this.going.set(key, going);
    }
    return going;
  }

  /** Whether every channel was touched in the store within the window. */
  private fresh(channels: readonly string[]): boolean {
    const now = this.now();
    for (const channel of channels) {
      const at = this.at.get(channel);
      if (at === undefined || now - at >= this.windowMs) return false;
    }
    return true;
  }

  private touched(channels: readonly string[]): void {
    const now = this.now();
    for (const channel of channels) {
      this.at.delete(channel);
      this.at.set(channel, now);
    }
    for (const channel of this.at.keys()) {
      if (this.at.size <= LIMIT) break;
      this.at.delete(channel);
    }
  }

  /** A channel deleted: the next touch creates it again in the store. */
  forget(channel: string): void {
    this.at.delete(channel);
  }

  /** The store may have forgotten everything (Redis wiped, the primary gone): every next touch goes to it. */
  clear(): void {
    this.at.clear();
  }
}
