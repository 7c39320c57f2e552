// The capability of a store whose processes share their subscriber counts: a cluster's workers, the servers on one Redis.
import type { Outbox, WebhookFigures } from '../webhooks/outbox';
import type { LocalCounts } from './local-counts';

/** What one beat of an election says. */
export interface ElectionNews {
  /** This process decides occupancy now. */
  readonly sender: boolean;
  /** Channels whose count in the deployment may have changed since the last beat. */
  readonly changed: ReadonlySet<string>;
}

/** The processes choose among themselves the one that decides occupancy (Redis: a lock with a TTL). */
export interface Election {
  /** Stands while `wanted()` says so, and hears every beat's news. */
  stand(wanted: () => boolean, news: (news: ElectionNews) => void): void;
  /** The outbox every candidate shares: deliveries waiting, and what was announced. */
  outbox(limit: number): Outbox;
}

export interface SharedCounts {
  /**
   * Sets where this process's counts come from. The store takes their changes on its own beat
   * (at most every 500 ms, never per subscriber) and shares them with the other processes.
   */
  source(local: LocalCounts): void;
  /** Subscribers of `channel` held by the other processes of the deployment, as last heard (at most 1 s old). */
  others(channel: string): number;
  /** The channels the other processes hold, as last heard. */
  channels(): Iterable<string>;
  /** Present when the processes elect the one that decides occupancy; absent when one outside them decides (a cluster's primary). */
  readonly election?: Election;
  /** The webhook figures of the deployment as last heard (undefined until heard). */
  webhook(): WebhookFigures | undefined;
}
