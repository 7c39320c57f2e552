/** Delays before retrying after errors: exponential with full jitter, never under Retry-After. */
export interface Backoff {
  /** The next delay in ms; `retryAfter` (ms, from the server) is a floor. */
  next(retryAfter: number | null): number;
  /** A success: the next error starts from `min` again. */
  reset(): void;
}

export function createBackoff(min: number, max: number, random: () => number = Math.random): Backoff {
  let failures = 0;
  return {
    next(retryAfter) {
      const cap = Math.min(max, min * 2 ** Math.min(failures, 30));
      failures++;
      const delay = Math.round(random() * cap);
      return retryAfter === null ? delay : Math.max(delay, retryAfter);
    },
    reset() {
      failures = 0;
    },
  };
}
