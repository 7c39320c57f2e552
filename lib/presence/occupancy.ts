// Occupancy as announced: which channels are occupied, and when an empty one counts as vacated.
import { EVERY_UID } from '../names';

export type OccupancyType = 'channel.occupied' | 'channel.vacated';

/** One occupancy change, as the webhook and the in-process listeners get it. */
export interface OccupancyEvent {
  readonly type: OccupancyType;
  /** The channel; a seed face uid is `uid:<uid>`. */
  readonly channel: string;
  /** Unix milliseconds when it was decided. */
  readonly time: number;
}

/**
 * The announced state of every channel, changed only by events, so that a channel's events
 * alternate (occupied, vacated, occupied ...). A channel is occupied at its first subscriber, and
 * vacated once it has had none for `delay` ms: a re-poll or a reconnect inside the delay is no
 * vacancy. `uid:*` (every seed subscriber holds it) is not a presence of anyone: left out.
 */
export class OccupancyState {
  private readonly announced = new Set<string>();
  /** Occupied channels seen empty, and since when. */
  private readonly emptySince = new Map<string, number>();

  constructor(private readonly delay: number) {}

  /** Starts from what was announced before (another process decided until now). */
  load(announced: Iterable<string>): void {
    this.announced.clear();
    this.emptySince.clear();
    for (const channel of announced) this.announced.add(channel);
  }

  /** The channels announced occupied. */
  occupied(): IterableIterator<string> {
    return this.announced.values();
  }

  /** A channel's subscribers in the deployment now: its occupied event, or the start of its vacancy. */
  update(channel: string, count: number, now: number): OccupancyEvent | undefined {
    if (channel === EVERY_UID) return undefined;
    if (count > 0) {
      this.emptySince.delete(channel);
      if (this.announced.has(channel)) return undefined;
      this.announced.add(channel);
      return { type: 'channel.occupied', channel, time: now };
    }
    if (this.announced.has(channel) && !this.emptySince.has(channel)) this.emptySince.set(channel, now);
    return undefined;
  }

  /** The vacated events of channels empty for the whole delay, in the order they emptied. */
  due(now: number): OccupancyEvent[] {
    const events: OccupancyEvent[] = [];
    for (const [channel, since] of this.emptySince) {
      if (now - since < this.delay) continue;
      this.emptySince.delete(channel);
      this.announced.delete(channel);
      events.push({ type: 'channel.vacated', channel, time: now });
    }
    return events;
  }
}
