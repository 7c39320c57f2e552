// The app's decisions, kept for a while and shared by identical questions asked together.
import { performance } from 'node:perf_hooks';

/** An answer and how long it may be reused. */
export interface Kept<V> {
  readonly value: V;
  /** Seconds to keep it; 0 (or less) keeps it not at all. */
  readonly seconds: number;
}

export interface DecisionCacheLimits {
  /** Most answers kept; past it the oldest go first. */
  readonly maxEntries: number;
  /** Most characters of keys kept, all together; past it the oldest go first. */
  readonly maxKeyChars: number;
}

export interface DecisionCache<V> {
  /**
   * The answer for `key`: kept and fresh, it comes back at once; when a question for it is on
   * its way, that question's promise; otherwise `ask` is called and its answer kept as it says.
   * `ask` must not reject (a failure is an answer kept for 0 seconds).
   */
  decide(key: string, ask: () => Promise<Kept<V>>): V | Promise<V>;
  /** Answers given without calling `ask` (kept ones and shared questions). */
  readonly hits: number;
  readonly size: number;
}

interface Entry<V> {
  readonly value: V;
  /** `performance.now()` when it stops being fresh: a monotonic clock, so a clock change does not stretch it. */
  readonly expires: number;
}

/**
 * A bounded cache of decisions with coalescing: identical questions that arrive together
 * share one `ask`. The entries live in a Map in the order they were kept, so the oldest
 * goes first when a bound is reached; a stale one is dropped when it is next looked up.
 */
export function createDecisionCache<V>(limits: DecisionCacheLimits): DecisionCache<V> {
  const entries = new Map<string, Entry<V>>();
  const asking = new Map<string, Promise<V>>();
  let keyChars = 0;
  let hits = 0;

  function drop(key: string): void {
    if (entries.delete(key)) keyChars -= key.length;
  }

  function keep(key: string, answer: Kept<V>): void {
    if (!(answer.seconds > 0) || key.length > limits.maxKeyChars) return;
    drop(key);
    entries.set(key, { value: answer.value, expires: performance.now() + answer.seconds * 1000 });
    keyChars += key.length;
    for (const oldest of entries.keys()) {
      if (entries.size <= limits.maxEntries && keyChars <= limits.maxKeyChars) break;
      drop(oldest);
    }
  }

  return {
    decide(key, ask) {
      const entry = entries.get(key);
      if (entry !== undefined) {
        if (entry.expires > performance.now()) {
          hits += 1;
          return entry.value;
        }
        drop(key);
      }
      const pending = asking.get(key);
      if (pending !== undefined) {
        hits += 1;
        return pending;
      }
      const question = ask().then(
        (answer) => {
          asking.delete(key);
          keep(key, answer);
          return answer.value;
        },
        (error: unknown) => {
          asking.delete(key);
          throw error;
        },
      );
      asking.set(key, question);
      return question;
    },
    get hits() {
      return hits;
    },
    get size() {
      return entries.size;
    },
  };
}
