/** Time a test moves by hand (node:test's mocks), for timers whose exact moment is what is checked. */
import type { TestContext } from 'node:test';

interface Interval {
  due: number;
  readonly every: number;
  readonly run: () => void;
}

/**
 * Replaces setInterval and clearInterval for the rest of test `t` with intervals on a clock
 * that only `tick(ms)` moves (running, in order, every run that falls due). node:test's own
 * mock.timers would do, but on Node 18 its timers have no unref(), which holdpush calls.
 */
export function mockIntervals(t: TestContext): { tick(ms: number): void } {
  const realClear = globalThis.clearInterval;
  const intervals = new Set<Interval>();
  let now = 0;
  t.mock.method(globalThis, 'setInterval', (run: () => void, every: number) => {
    const interval: Interval = { due: now + every, every, run };
    intervals.add(interval);
    return Object.assign(interval, { ref: () => interval, unref: () => interval, hasRef: () => false });
  });
  t.mock.method(globalThis, 'clearInterval', (timer: unknown) => {
    if (!intervals.delete(timer as Interval)) realClear(timer as NodeJS.Timeout);
  });
  return {
    tick(ms) {
      const end = now + ms;
      for (;;) {
        let next: Interval | undefined;
        for (const interval of intervals) if (interval.due <= end && (next === undefined || interval.due < next.due)) next = interval;
        if (next === undefined) break;
        now = next.due;
        next.due += Math.max(1, next.every);
        next.run();
      }
      now = end;
    },
  };
}

/**
 * Replaces `Date.now()` for the rest of test `t` with a clock that stands at `start` until moved.
 * Returns `advance(ms)`. Real timers keep firing; code that reads the time sees this clock.
 */
export function mockNow(t: TestContext, start = Date.now()): (ms: number) => void {
  let now = start;
  t.mock.method(Date, 'now', () => now);
  return (ms) => {
    now += ms;
  };
}
