/**
 * One subscription's side: its callbacks, status, position and whether it has stopped. Whatever
 * feeds it (its own connection, or another tab's), it calls the user's functions the same way.
 */
import type { Received } from './connection';
import type { Callbacks } from './options';
import type { Role, Status, StatusDetail } from './types';

export interface Sink {
  readonly stopped: boolean;
  readonly position: string | null;
  readonly status: Status;
  /** Who held its connection when it last said. */
  readonly role: Role;
  /** Calls onGap (when the answer says so), then onMessage for each message in order. */
  receive(batch: Received): void;
  /** Tells onStatus of a change of status or of role (`reconnecting` each time). */
  setStatus(status: Exclude<Status, 'stopped'>, detail: StatusDetail): void;
  /** Marks it stopped and says why; nothing is delivered after. */
  end(detail: StatusDetail): void;
}

export function createSink(callbacks: Callbacks, position: string | null, role: Role): Sink {
  let status: Status | null = null;
  let stopped = false;

  function report(error: unknown): void {
    if (callbacks.onError) {
      try {
        callbacks.onError(error);
      } catch {
        // nothing left to tell
      }
    } else if (typeof console !== 'undefined') {
      console.error(error);
    }
  }

  function call(run: () => void): void {
    try {
      run();
    } catch (error) {
      report(error);
    }
  }

  function announce(next: Status, detail: StatusDetail): void {
    if (next === status && detail.role === role && next !== 'reconnecting') return;
    status = next;
    role = detail.role;
    const { onStatus } = callbacks;
    if (onStatus) call(() => onStatus(next, detail));
  }

  return {
    get stopped() {
      return stopped;
    },
    get position() {
      return position;
    },
    get status() {
      return status ?? 'connecting';
    },
    get role() {
      return role;
    },
    receive(batch) {
      if (stopped) return;
      const { gap } = batch;
      const { onGap, onMessage } = callbacks;
      if (gap && onGap) call(() => onGap(gap));
      for (const message of batch.messages) {
        if (stopped) return;
        if (message.id !== null) position = message.id;
        call(() => onMessage(message));
      }
      if (!stopped && batch.to !== null) position = batch.to;
    },
    setStatus(next, detail) {
      if (!stopped) announce(next, detail);
    },
    end(detail) {
      if (stopped) return;
      stopped = true;
      announce('stopped', detail);
    },
  };
}
