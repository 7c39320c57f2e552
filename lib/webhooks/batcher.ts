// Events gathered into deliveries: up to 100 each, sent within a second of the first.
import type { OccupancyEvent } from '../presence/occupancy';

/** Events one delivery carries at most. */
export const BATCH_EVENTS = 100;
/** Milliseconds a delivery waits for more events after its first. */
const BATCH_WAIT = 1000;

export interface Batcher {
  add(event: OccupancyEvent): void;
  /** Hands over what is gathered now (on close). */
  flush(): void;
  /** Forgets what is gathered (this process decides no more: the next decider sees the same changes). */
  drop(): void;
}

export function createBatcher(flush: (events: OccupancyEvent[]) => void): Batcher {
  let events: OccupancyEvent[] = [];
  let timer: NodeJS.Timeout | undefined;

  function hand(): void {
    clearTimeout(timer);
    timer = undefined;
    const batch = events;
    events = [];
    if (batch.length > 0) flush(batch);
  }

  return {
    add(event) {
      events.push(event);
      if (events.length >= BATCH_EVENTS) hand();
      else if (timer === undefined) {
        timer = setTimeout(hand, BATCH_WAIT);
        // Optional: node:test's mock timers on Node 18 (the batcher's unit test) have no unref().
        timer.unref?.();
      }
    },
    flush: hand,
    drop() {
      clearTimeout(timer);
      timer = undefined;
      events = [];
    },
  };
}
