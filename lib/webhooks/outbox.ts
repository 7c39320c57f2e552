// Where deliveries wait for their turn, with what has been announced: the contract, and the in-memory one.
import type { OccupancyEvent } from '../presence/occupancy';

/** One delivery: its id and its exact body, signed and sent as they are on every try. */
export interface Delivery {
  readonly id: string;
  readonly body: string;
}

/** Deliveries so far (of the whole deployment where the outbox is shared). */
export interface WebhookFigures {
  /** Answered 2xx. */
  deliveries: number;
  /** Given up after the retries. */
  failures: number;
  /** Refused because the queue was full. */
  dropped: number;
  /** Waiting to be sent, the one being tried included. */
  queue: number;
}

export const NO_WEBHOOK_FIGURES: WebhookFigures = { deliveries: 0, failures: 0, dropped: 0, queue: 0 };

/** `queued`; `dropped` (the queue was full: counted); `fenced` (this process decides no more: nothing recorded). */
export type PushResult = 'queued' | 'dropped' | 'fenced';

export interface Outbox {
  /** The channels announced occupied so far, for a decider that takes over. */
  announced(): Promise<string[]>;
  /** Records `events` as announced and queues their delivery (none without a webhook URL). */
  push(events: readonly OccupancyEvent[], delivery: Delivery | undefined): Promise<PushResult>;
  /** The delivery whose turn it is. */
  head(): Promise<Delivery | undefined>;
  /** Takes `id` off the head of the queue (if it is still there), counted delivered or failed. */
  settle(id: string, delivered: boolean): Promise<void>;
  figures(): WebhookFigures;
}

/** The outbox of one process (or a cluster's primary): `limit` deliveries wait at most. */
export function createMemoryOutbox(limit: number): Outbox {
  const queue: Delivery[] = [];
  const figures = { ...NO_WEBHOOK_FIGURES };
  return {
    announced: async () => [],
    async push(_events, delivery) {
      if (delivery === undefined) return 'queued';
      if (queue.length >= limit) {
        figures.dropped += 1;
        return 'dropped';
      }
      queue.push(delivery);
      return 'queued';
    },
    head: async () => queue[0],
    async settle(id, delivered) {
      if (queue[0]?.id !== id) return;
      queue.shift();
      if (delivered) figures.deliveries += 1;
      else figures.failures += 1;
    },
    figures: () => ({ ...figures, queue: queue.length }),
  };
}
