// The delivery loop: the outbox's head is POSTed, retried on its schedule, and only then the next.
import type { Outbox } from './outbox';
import { createPoster } from './post';
import { type RetrySchedule, nextTry } from './schedule';
import { signature } from './sign';

/** Milliseconds a try waits for an answer. */
const ANSWER_TIMEOUT = 10_000;
/** Milliseconds before the loop reads an outbox that failed (Redis away) again. */
const OUTBOX_RETRY = 1000;

export interface SenderOptions {
  readonly outbox: Outbox;
  readonly url: URL;
  readonly secret: string | undefined;
  readonly schedule: RetrySchedule;
}

export interface Sender {
  /** There may be a delivery to send: the loop runs if it is not running. */
  wake(): void;
  /** Stops for good: a try under way is aborted, a wait cleared. */
  stop(): void;
}

/**
 * One loop per sender, so deliveries leave in order: a delivery waits until the one before it
 * was answered 2xx or given up. Each try sends the same id and body.
 */
export function createSender(options: SenderOptions): Sender {
  const { outbox, secret, schedule } = options;
  const poster = createPoster(options.url, ANSWER_TIMEOUT);
  let running = false;
  /** Woken while running: look at the outbox once more before resting. */
  let again = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let release: (() => void) | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      release = resolve;
      timer = setTimeout(resolve, ms);
      timer.unref();
    });
  }

  function headers(id: string, body: string): Record<string, string> {
    const list: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'holdpush', 'X-Holdpush-Delivery': id };
    if (secret !== undefined) list['X-Holdpush-Signature'] = signature(secret, body);
    return list;
  }

  /** Tries the head until it is delivered or given up; false when the loop must stop. */
  async function deliverHead(): Promise<boolean> {
    const delivery = await outbox.head();
    if (delivery === undefined || stopped) return false;
    const firstTry = Date.now();
    for (let failures = 1; ; failures++) {
      const result = await poster.post(delivery.body, headers(delivery.id, delivery.body));
      if (stopped) return false;
      if ('status' in result && result.status >= 200 && result.status < 300) {
        await outbox.settle(delivery.id, true);
        return true;
      }
      const pause = nextTry(schedule, failures, firstTry, Date.now());
      if (pause === undefined) {
        await outbox.settle(delivery.id, false);
        return true;
      }
      await wait(pause);
      if (stopped) return false;
      // Another sender (a Redis server that decided before) may have settled it meanwhile.
      if ((await outbox.head())?.id !== delivery.id) return true;
    }
  }

  async function loop(): Promise<void> {
    running = true;
    try {
      for (;;) {
        again = false;
        if (await deliverHead()) continue;
        if (!again || stopped) return;
      }
    } catch {
      // The outbox could not be read or written (Redis away): look again in a while.
      if (!stopped) {
        retryTimer = setTimeout(wake, OUTBOX_RETRY);
        retryTimer.unref();
      }
    } finally {
      running = false;
    }
  }

  function wake(): void {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    if (stopped) return;
    if (running) again = true;
    else void loop();
  }

  return {
    wake,
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(retryTimer);
      release?.();
      poster.close();
    },
  };
}
