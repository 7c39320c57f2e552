// The capability of a store whose processes share their subscriber counts: a cluster's workers, the servers on one Redis.
import type { LocalCounts } from './local-counts';

export interface SharedCounts {
  /**
   * Sets where this process's counts come from. The store takes their changes on its own beat
   * (at most every 500 ms, never per subscriber) and shares them with the other processes.
   */
  source(local: LocalCounts): void;
  /** Subscribers of `channel` held by the other processes of the deployment, as last heard (at most 1 s old). */
  others(channel: string): number;
}
