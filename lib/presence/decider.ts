// The decider: reads the deployment's counts on a beat and turns them into occupancy events.
import { type OccupancyEvent, OccupancyState } from './occupancy';

export interface DeciderOptions {
  /** Milliseconds a channel must stay empty to be vacated (`vacateDelay`). */
  delay: number;
  /** Subscribers of a channel in the whole deployment now. */
  count(channel: string): number;
  /** The channels whose count may have changed since the last call. */
  changed(): Iterable<string>;
  /** Hears each event, in order. */
  emit(event: OccupancyEvent): void;
}

/** Milliseconds between two looks at the counts (and at vacancies falling due). */
const BEAT = 250;

export interface Decider {
  readonly deciding: boolean;
  /**
   * Starts deciding from `announced` (occupied as announced so far), looking at once at those and
   * at `present` (channels with subscribers now).
   */
  start(announced: Iterable<string>, present: Iterable<string>): void;
  /** Stops (another process decides now, or this one closes); its timer goes. */
  stop(): void;
}

export function createDecider(options: DeciderOptions): Decider {
  const state = new OccupancyState(options.delay);
  let timer: NodeJS.Timeout | undefined;

  function look(channels: Iterable<string>, now: number): void {
    for (const channel of channels) {
      const event = state.update(channel, options.count(channel), now);
      if (event !== undefined) options.emit(event);
    }
  }

  function beat(): void {
    const now = Date.now();
    look(options.changed(), now);
    for (const event of state.due(now)) options.emit(event);
  }

  return {
    get deciding() {
      return timer !== undefined;
    },
    start(announced, present) {
      if (timer !== undefined) return;
      state.load(announced);
      timer = setInterval(beat, BEAT);
      timer.unref();
      const now = Date.now();
      look([...state.occupied()], now);
      look(present, now);
      look(options.changed(), now);
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
