// The fan-out: each message written to every subscriber held on its channel, and the streams' keepalives.
import type { ServerResponse } from 'node:http';
import { type BatchAnswerOf, createBatchAnswers } from './batch-answers';
import { createBatchWakes } from './batch-wake';
import type { EncodedMessage } from './encoded-message';
import { RecentEncodings } from './encodings';
import { answerGone } from './endings';
import type { HeaderPairs } from './http/answer';
import { StreamChunk, writeChunk } from './http/stream-chunk';
import type { PendingBytes } from './pending-bytes';
import type { Hold, HoldMode, Registry } from './registry';
import type { StoreEvents, StoredMessage } from './stores/store';

/** The comment that keeps an idle stream's connection open through proxies. */
const KEEPALIVE = new StreamChunk(':\n\n');

/** Writes one message to one response in the form its mode takes (`fastWire`: the option). */
export function writeMessage(res: ServerResponse, encoded: EncodedMessage, mode: HoldMode, gap: boolean, fastWire: boolean): void {
  if (mode === 'stream') {
    writeChunk(res, encoded.sse, fastWire);
    return;
  }
  (mode === 'batch' ? encoded.batch(gap) : encoded.poll(gap)).writeTo(res, fastWire);
}

export interface BroadcastOptions {
  readonly registry: Registry;
  /** CORS header pairs of every answer. */
  readonly shared: HeaderPairs;
  /**
   * Told of every write, it cuts a stream past its own bound and, after a fan-out, the
   * connections with the most unsent bytes past the budget: their clients come back with
   * their positions and lose nothing.
   */
  readonly pending: PendingBytes;
  /** Bytes of message bodies whose encodings are kept (recent messages only). */
  readonly encodingBytes: number;
  readonly fastWire: boolean;
  /**
   * For a store that wakes this process over the network: whether a message follows a
   * position (`store.follows`), so that a hold skips what it already read. Undefined for a
   * store that wakes it in step, where no read can race a wake-up.
   */
  readonly follows: ((token: string, position: string) => boolean) | undefined;
}

export interface Broadcast {
  /** What the store tells this process: a message to write, a channel deleted. */
  readonly events: StoreEvents;
  /** Messages written to held subscribers so far. */
  readonly delivered: number;
  /** Held subscribers one message was written to. */
  deliveredTo(message: StoredMessage): number;
  encoded(message: StoredMessage): EncodedMessage;
  /** A batch answer of messages read or woken in this turn, shared by every subscriber it is for. */
  readonly batchAnswer: BatchAnswerOf;
  /** A keepalive comment on every stream (a stream that cannot take it is cut). */
  keepalive(): void;
}

export function createBroadcast(options: BroadcastOptions): Broadcast {
  const { registry, shared, pending, fastWire, follows } = options;
  const encodings = new RecentEncodings(shared, options.encodingBytes);
  const deliveries = new WeakMap<StoredMessage, number>();
  let delivered = 0;
  // Batch long-polls woken by a message collect the rest of its turn (a batch publish) first.
  const batchAnswer = createBatchAnswers(encoded, shared);
  const batchWakes = createBatchWakes(batchAnswer, fastWire, pending);

  function encoded(message: StoredMessage): EncodedMessage {
    return encodings.get(message);
  }

  /** Long-polls among `holds` are ended by their write; streams stay open. */
  function writeAll(message: StoredMessage, holds: readonly Hold[]): void {
    const encoding = encoded(message);
    for (const hold of holds) {
      writeMessage(hold.res, encoding, hold.mode, hold.gap, fastWire);
      // A long-poll is about to be let go: only a stream, still held, moves on to this message.
      if (hold.mode === 'stream') registry.advance(hold, message.token);
      pending.wrote(hold.res, hold.mode === 'stream');
    }
    pending.settle();
  }

  return {
    events: {
      message(message) {
        const joined = batchWakes.join(message);
        const holds = registry.take(message.channel, follows === undefined ? undefined : (position) => follows(message.token, position));
        const count = joined + holds.length;
        if (count === 0) return;
        if (holds.length > 0) {
          // Every subscriber gets its bytes first; the registry's bookkeeping of the long-polls
          // ended by them (deadlines, indexes, watchers) comes after, not between two writes.
          try {
            writeAll(message, batchWakes.divert(holds, message));
          } finally {
            registry.letGo(holds);
          }
        }
        delivered += count;
        deliveries.set(message, count);
      },
      deleted(channel) {
        for (const hold of registry.take(channel)) {
          registry.release(hold);
          answerGone(shared, hold);
        }
      },
    },
    get delivered() {
      return delivered;
    },
    deliveredTo: (message) => deliveries.get(message) ?? 0,
    encoded,
    batchAnswer,
    keepalive() {
      registry.eachStream((hold) => {
        writeChunk(hold.res, KEEPALIVE, fastWire);
        pending.wrote(hold.res, true);
      });
      pending.settle();
    },
  };
}
