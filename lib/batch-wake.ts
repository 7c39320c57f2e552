// Batch long-polls woken by a message answered at the end of its turn, with the rest of a batch publish.
import { type EncodedMessage, batchAnswer } from './encoded-message';
import type { HeaderPairs } from './http/answer';
import type { Prebuilt } from './http/wire';
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
export function createBatchWakes(encoded: (message: StoredMessage) => EncodedMessage, shared: HeaderPairs, fastWire: boolean, pending: PendingBytes): BatchWakes {
  let woken = new Map<Hold, StoredMessage[]>();
  let byChannel = new Map<string, Hold[]>();

  function flush(): void {
    const answers = woken;
    woken = new Map();
    byChannel = new Map();
    // Holds of one channel list woken by one message get the same messages: one answer for all.
    const built = new Map<string, Prebuilt>();
    for (const [hold, messages] of answers) {
      const first = messages[0] as StoredMessage;
      if (messages.length === 1) {
        encoded(first).batch(hold.gap).writeTo(hold.res, fastWire);
        pending.wrote(hold.res, false);
        continue;
      }
      const key = `${hold.gap ? 1 : 0} ${first.token} ${hold.channels.join(',')}`;
      let answer = built.get(key);
      if (answer === undefined) {
        answer = batchAnswer(shared, messages.map(encoded), (messages[messages.length - 1] as StoredMessage).id, hold.gap);
        built.set(key, answer);
      }
      answer.writeTo(hold.res, fastWire);
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
