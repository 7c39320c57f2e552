// The deadline wheel of held long-polls: one timer for all of them, ticking only while any waits.

/** What the wheel needs of a hold: when it is due (Unix ms). */
export interface Due {
  readonly deadline: number;
}

export interface Deadlines<T extends Due> {
  add(item: T): void;
  remove(item: T): void;
  /** Stops the timer and forgets every item (shutdown). */
  clear(): void;
}

/** `resolution`: ms between ticks; `onDue` is called with each item whose deadline passed, once. */
export function createDeadlines<T extends Due>(resolution: number, onDue: (item: T) => void): Deadlines<T> {
  const buckets = new Map<number, Set<T>>();
  let timer: NodeJS.Timeout | undefined;
  let swept = 0;

  /** An item's slot in the wheel. */
  function bucketOf(item: T): number {
    return Math.ceil(item.deadline / resolution);
  }

  function stop(): void {
    if (timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  function tick(): void {
    const now = Math.floor(Date.now() / resolution);
    for (; swept <= now && buckets.size > 0; swept++) {
      const due = buckets.get(swept);
      if (due === undefined) continue;
      buckets.delete(swept);
      for (const item of due) onDue(item);
    }
    if (buckets.size === 0) stop();
  }

  return {
    add(item) {
      const bucket = bucketOf(item);
      let due = buckets.get(bucket);
      if (due === undefined) {
        due = new Set();
        buckets.set(bucket, due);
      }
      due.add(item);
      if (timer === undefined) {
        swept = Math.floor(Date.now() / resolution);
        timer = setInterval(tick, resolution);
        timer.unref();
      }
    },
    remove(item) {
      const bucket = bucketOf(item);
      const due = buckets.get(bucket);
      if (due === undefined) return;
      due.delete(item);
      if (due.size === 0) buckets.delete(bucket);
    },
    clear() {
      stop();
      buckets.clear();
    },
  };
}
