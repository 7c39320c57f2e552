// When a failed delivery is tried again, and when it is given up.

/** The retry schedule, in multiples of `unit` seconds (1 by default). */
export interface RetrySchedule {
  /** Seconds before the first retry; each later one waits twice as long as the one before. */
  readonly first: number;
  /** The longest wait between two tries, in seconds. */
  readonly longest: number;
  /** Seconds after its first try when a delivery that never succeeded is given up. */
  readonly giveUp: number;
}

/** The contract's schedule (1 s, 2 s, 4 s ... at most 60 s apart, for up to 5 minutes), scaled by `unit`. */
export function retrySchedule(unit = 1): RetrySchedule {
  return { first: unit, longest: 60 * unit, giveUp: 300 * unit };
}

/**
 * Milliseconds to wait after the `failures`-th failed try of a delivery first tried at `firstTry`,
 * or undefined when the next try would come past the give-up time: the delivery is dropped.
 */
export function nextTry(schedule: RetrySchedule, failures: number, firstTry: number, now: number): number | undefined {
  const wait = Math.min(schedule.first * 2 ** Math.max(0, failures - 1), schedule.longest) * 1000;
  return now + wait - firstTry > schedule.giveUp * 1000 ? undefined : wait;
}
