// Batch answers read by several subscribers in one turn of the event loop, each built once for all of them.
import { type EncodedMessage, batchAnswer } from './encoded-message';
import type { HeaderPairs } from './http/answer';
import type { Prebuilt } from './http/wire';
import type { StoredMessage } from './stores/store';

/** The batch answer of `messages` (a read of `channels`, in order, at least one) with its gap flag. */
export type BatchAnswerOf = (channels: readonly string[], messages: readonly StoredMessage[], gap: boolean) => Prebuilt;

/**
 * Subscribers that re-poll from one position between the same two publishes read the same
 * messages: their answer is joined from the messages' encodings once, not once per subscriber.
 * Answers are kept until the end of the loop's turn (setImmediate): as long as the sockets they
 * were written to hold them anyway, so this keeps nothing that is not already in memory.
 */
export function createBatchAnswers(encoded: (message: StoredMessage) => EncodedMessage, shared: HeaderPairs): BatchAnswerOf {
  let built = new Map<string, Prebuilt>();
  let clearing = false;

  function clear(): void {
    built = new Map();
    clearing = false;
  }

  return (channels, messages, gap) => {
    const first = messages[0] as StoredMessage;
    // One message: its own answer, kept with its encoding for as long as the message is recent.
    if (messages.length === 1) return encoded(first).batch(gap);
    const last = messages[messages.length - 1] as StoredMessage;
    // Messages are only ever added after the newest one: a read of these channels that starts
    // and ends with these two, with as many between, is the same read.
    const key = `${gap ? 1 : 0} ${messages.length} ${first.token} ${last.token} ${channels.length === 1 ? channels[0] : channels.join(',')}`;
    let answer = built.get(key);
    if (answer === undefined) {
      answer = batchAnswer(shared, messages.map(encoded), last.id, gap);
      built.set(key, answer);
      if (!clearing) {
        clearing = true;
        setImmediate(clear);
      }
    }
    return answer;
  };
}
