/** Time a test moves by hand (node:test's mocks), for timers whose exact moment is what is checked. */
import type { TestContext } from 'node:test';

/**
 * Mocks setInterval for the rest of test `t`; `t.mock.timers.tick(ms)` then runs what is due.
 * Node 18 takes the list of timers, later Nodes an options object: this speaks both.
 */
export function mockIntervals(t: TestContext): void {
  const timers = t.mock.timers as unknown as { enable(options: unknown): void };
  try {
    timers.enable({ apis: ['setInterval'] });
  } catch {
    timers.enable(['setInterval']);
  }
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
