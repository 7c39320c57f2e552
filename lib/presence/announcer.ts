// The announcer: in the one process that decides occupancy, events go to the app's listeners and to the webhook.
import { randomUUID } from 'node:crypto';
import { createBatcher } from '../webhooks/batcher';
import type { Outbox } from '../webhooks/outbox';
import { retrySchedule } from '../webhooks/schedule';
import { type Sender, createSender } from '../webhooks/sender';
import { createDecider } from './decider';
import type { OccupancyEvent } from './occupancy';

/** The options of occupancy (lib/options.ts), as the announcer reads them. */
export interface AnnounceOptions {
  /** Seconds a channel stays empty before it is vacated. */
  readonly vacateDelay: number;
  readonly webhookUrl: string | undefined;
  readonly webhookSecret: string | undefined;
  /** The retry schedule's unit in seconds (lib/webhooks/schedule.ts). */
  readonly webhookRetry: number;
}

export interface AnnouncerOptions {
  readonly options: AnnounceOptions;
  /** Subscribers of a channel in the whole deployment now. */
  count(channel: string): number;
  /** The channels whose count may have changed since the last call. */
  changed(): Iterable<string>;
  /** The channels with subscribers now. */
  present(): Iterable<string>;
  readonly outbox: Outbox;
  /** The in-process listeners (an app's `holdpush.on('occupancy')`). */
  emit(event: OccupancyEvent): void;
}

export interface Announcer {
  /** Whether this process decides now (or is starting to). */
  readonly deciding: boolean;
  /** Starts deciding, from what the outbox says was announced; sends what waits in it. */
  start(): void;
  /** Decides no more: what is gathered and not yet recorded is dropped (the next decider finds it again). */
  stop(): void;
  /** Records what is gathered, then stops for good (the process closes). */
  close(): Promise<void>;
}

/**
 * Events are told to the in-process listeners as they are decided; for the webhook (and, on
 * Redis, the record of what was announced) they are gathered into deliveries and pushed to the
 * outbox one push after the other, so deliveries keep the order of the events.
 */
export function createAnnouncer(spec: AnnouncerOptions): Announcer {
  const { options, outbox } = spec;
  const url = options.webhookUrl === undefined ? undefined : new URL(options.webhookUrl);
  let sender: Sender | undefined;
  /** Pushes leave one after the other. */
  let pushing: Promise<void> = Promise.resolve();
  /** Bumped by every start and stop: a start that finds it changed was overtaken. */
  let generation = 0;
  let starting = false;
  let closed = false;

  const batcher = createBatcher((events) => {
    const id = randomUUID();
    const delivery = url === undefined ? undefined : { id, body: JSON.stringify({ id, events }) };
    const mine = generation;
    pushing = pushing.then(async () => {
      if (mine !== generation) return;
      const result = await outbox.push(events, delivery).catch(() => 'failed' as const);
      if (result === 'queued') sender?.wake();
      // Not recorded: another process decides now, or Redis is away. Either way this process
      // stops; if it still holds the lock, it starts again from the record and decides these anew.
      else if (result !== 'dropped' && mine === generation) stop();
    });
  });

  const decider = createDecider({
    delay: options.vacateDelay * 1000,
    count: spec.count,
    changed: spec.changed,
    emit(event) {
      batcher.add(event);
      try {
        spec.emit(event);
      } catch (error) {
        // A listener that throws is the app's bug, reported as Node reports one: uncaught.
        process.nextTick(() => {
          throw error;
        });
      }
    },
  });

  function stop(): void {
    generation += 1;
    starting = false;
    decider.stop();
    batcher.drop();
    sender?.stop();
    sender = undefined;
  }

  return {
    get deciding() {
      return starting || decider.deciding;
    },
    start() {
      if (closed || starting || decider.deciding) return;
      starting = true;
      const mine = ++generation;
      outbox.announced().then(
        (announced) => {
          if (mine !== generation) return;
          starting = false;
          decider.start(announced, spec.present());
          if (url !== undefined) {
            sender = createSender({ outbox, url, secret: options.webhookSecret, schedule: retrySchedule(options.webhookRetry) });
            sender.wake();
          }
        },
        () => {
          // The record could not be read (Redis away): the next beat of the election tries again.
          if (mine === generation) starting = false;
        },
      );
    },
    stop,
    async close() {
      closed = true;
      decider.stop();
      batcher.flush();
      await pushing;
      stop();
    },
  };
}
