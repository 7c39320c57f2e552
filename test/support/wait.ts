/** Waiting for a condition with a deadline: how a test waits, instead of sleeping and hoping. */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

/** What a wait is for; a function is asked at the deadline, so it can tell the state then. */
export type Described = string | (() => string);

/** How a failure shows what was last seen: text as it is, anything else as JSON, cut short. */
function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/**
 * Resolves with what `read` returns once `check` accepts it; rejects after `ms` with `what` and
 * the last value seen. A read that throws (a page between two documents, a server not up yet)
 * is tried again. Checks come quickly at first (5 ms), then every 50 ms at most.
 */
export async function eventually<T>(read: () => T | Promise<T>, check: (value: T) => boolean, ms = 5000, what: Described = 'the condition'): Promise<T> {
  // The monotonic clock: a test may mock Date.now() and move it by hand.
  const deadline = performance.now() + ms;
  let last: unknown = '(nothing read)';
  for (let every = 5; ; every = Math.min(every * 2, 50)) {
    try {
      const value = await read();
      last = value;
      if (check(value)) return value;
    } catch (error) {
      last = `(read failed: ${(error as Error).message.split('\n')[0]})`;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}; last seen: ${show(last)}`);
    await delay(every);
  }
}

/** Resolves once `condition` (which may be async) holds; rejects after `ms`, naming `what`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms = 5000, what: Described = 'the condition'): Promise<void> {
  await eventually(condition, (holds) => holds, ms, what);
}
