// Batch long-polls woken by a message answered at the end of its turn, with the rest of a batch publish.
import type { BatchAnswerOf } from './batch-answers';
import type { PendingBytes } from './pending-bytes';
import type { Hold } from './registry';
import type { StoredMessage } from './stores/store';

/** Messages one answer carries at most, as for a batch read; the rest wait for the next poll. */
const ANSWER_LIMIT = 1000;

export interface BatchWakes {
  /** Holds woken earlier in this turn that read `message`'s channel take it too; returns how many. */
  join(message: StoredMessage): number;
  /**
   * Takes the batch holds out of `holds` (released long-polls woken by `message`) to answer at
   * the end of the turn; returns the others, to be written now.
   */
  divert(holds: readonly Hold[], message: StoredMessage): readonly Hold[];
}

/**
 * Batch long-polls (`Accept: application/json`) woken by a message are answered at the end of
 * that turn of the event loop, with every message for their channels that came in the same turn:
 * a batch publish reaches such a subscriber in one answer, not one message and then the rest.
 * Stores tell a batch's messages in one turn (memory: inside appendMany; a cluster worker: one
 * IPC message; Redis: one event).
 */
export function createBatchWakes(answerOf: BatchAnswerOf, fastWire: boolean, pending: PendingBytes): BatchWakes {
  let woken = new Map<Hold, StoredMessage[]>();
  let byChannel = new Map<string, Hold[]>();

  function flush(): void {
    const answers = woken;
    woken = new Map();
    byChannel = new Map();
    // Holds of one channel list woken by one message get the same messages: one answer for all.
    for (const [hold, messages] of answers) {
      answerOf(hold.channels, messages, hold.gap).writeTo(hold.res, fastWire);
      pending.wrote(hold.res, false);
    }
    pending.settle();
  }

  function wake(hold: Hold, message: StoredMessage): void {
    if (woken.size === 0) queueMicrotask(flush);
    woken.set(hold, [message]);
    for (const channel of hold.channels) {
      const holds = byChannel.get(channel);
      if (holds === undefined) byChannel.set(channel, [hold]);
      else holds.push(hold);
    }
  }

  return {
    join(message) {
      const holds = byChannel.get(message.channel);
      if (holds === undefined) return 0;
      let joined = 0;
      for (const hold of holds) {
        const messages = woken.get(hold);
        if (messages === undefined || messages.length >= ANSWER_LIMIT) continue;
        messages.push(message);
        joined += 1;
      }
      return joined;
    },
    divert(holds, message) {
      let rest: Hold[] | undefined;
      for (let i = 0; i < holds.length; i++) {
        const hold = holds[i] as Hold;
        if (hold.mode !== 'batch') rest?.push(hold);
        else {
          rest ??= holds.slice(0, i);
          wake(hold, message);
        }
      }
      return rest ?? holds;
    },
  };
}
