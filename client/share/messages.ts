/**
 * What the tabs of one origin say to each other over their BroadcastChannel. `tab` is the
 * sender; a tab takes the leader's messages only from the tab that leads now.
 */
import type { GapInfo, Message, Status, StatusDetail } from '../types';
import type { LoggedBatch } from './log';

/** A status as the leading tab tells it (each tab adds its own role). */
export type SharedDetail = Omit<StatusDetail, 'role'>;

export type TabMessage =
  /** A tab took the lead: every other tab announces its subscriptions again. */
  | { readonly t: 'lead'; readonly tab: string }
  /** A subscription (again) wants `channels` after `position` (null: from the next message). */
  | { readonly t: 'join'; readonly tab: string; readonly member: string; readonly seq: number; readonly channels: readonly string[]; readonly position: string | null }
  | { readonly t: 'leave'; readonly tab: string; readonly member: string }
  /** An answer of the shared connection, for every subscription that stands at its `from`. */
  | { readonly t: 'batch'; readonly tab: string; readonly batch: LoggedBatch; readonly gap: GapInfo | null }
  /** A subscription now follows the shared connection from `at`, after the `replay` messages. */
  | { readonly t: 'joined'; readonly tab: string; readonly member: string; readonly seq: number; readonly at: string | null; readonly replay: readonly Message[]; readonly status: Exclude<Status, 'stopped'>; readonly detail: SharedDetail }
  /** Messages a late subscription was behind on, fetched for it alone until it meets the shared connection. */
  | { readonly t: 'catchup'; readonly tab: string; readonly member: string; readonly seq: number; readonly messages: readonly Message[]; readonly to: string | null; readonly gap: GapInfo | null }
  /**
   * A subscription must run on its own connection. Like `stopped`, a decision about it that
   * holds whoever leads when it arrives (a new leader may take the lock before the old one's
   * last words reach every tab).
   */
  | { readonly t: 'alone'; readonly tab: string; readonly member: string }
  /** A subscription ended, as it would have alone (a 410, a client error). */
  | { readonly t: 'stopped'; readonly tab: string; readonly member: string; readonly detail: SharedDetail }
  | { readonly t: 'status'; readonly tab: string; readonly status: Exclude<Status, 'stopped'>; readonly detail: SharedDetail };
