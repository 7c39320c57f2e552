// The fan-out: each message written to every subscriber held on its channel, and the streams' keepalives.
import type { ServerResponse } from 'node:http';
import { EncodedMessage } from './encoded-message';
import { answerGone } from './endings';
import type { HeaderPairs } from './http/answer';
import type { Hold, HoldMode, Registry } from './registry';
import type { StoreEvents, StoredMessage } from './stores/store';

/** Writes one message to one response in the form its mode takes (`fastWire`: the option). */
export function writeMessage(res: ServerResponse, encoded: EncodedMessage, mode: HoldMode, gap: boolean, fastWire: boolean): void {
  if (mode === 'stream') {
    res.write(encoded.sse);
    return;
  }
  (mode === 'batch' ? encoded.batch(gap) : encoded.poll(gap)).writeTo(res, fastWire);
}

export interface BroadcastOptions {
  readonly registry: Registry;
  /** CORS header pairs of every answer. */
  readonly shared: HeaderPairs;
  /** Unsent bytes past which a stream is cut: its client reconnects with its position and loses nothing. */
  readonly streamLimit: number;
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
  /** A keepalive comment on every stream (a stream that cannot take it is cut). */
  keepalive(): void;
}

export function createBroadcast(options: BroadcastOptions): Broadcast {
  const { registry, shared, streamLimit, fastWire, follows } = options;
  const encodings = new WeakMap<StoredMessage, EncodedMessage>();
  const deliveries = new WeakMap<StoredMessage, number>();
  let delivered = 0;

  function encoded(message: StoredMessage): EncodedMessage {
    let encoding = encodings.get(message);
    if (encoding === undefined) {
      encoding = new EncodedMessage(message, shared);
      encodings.set(message, encoding);
    }
    return encoding;
  }

  /** Long-polls among `holds` were released by the registry; streams stay open. */
  function writeAll(message: StoredMessage, holds: readonly Hold[]): void {
    const encoding = encoded(message);
    for (const hold of holds) {
      writeMessage(hold.res, encoding, hold.mode, hold.gap, fastWire);
      registry.advance(hold, message.token);
      if (hold.mode === 'stream' && hold.res.writableLength > streamLimit) hold.res.destroy();
    }
  }

  return {
    events: {
      message(message) {
        const holds = registry.take(message.channel, follows === undefined ? undefined : (position) => follows(message.token, position));
        if (holds.length === 0) return;
        writeAll(message, holds);
        delivered += holds.length;
        deliveries.set(message, holds.length);
      },
      deleted(channel) {
        for (const hold of registry.take(channel)) {
          // take released the long-polls; streams stay held until let go here.
          if (hold.mode === 'stream') registry.release(hold);
          answerGone(shared, hold);
        }
      },
    },
    get delivered() {
      return delivered;
    },
    deliveredTo: (message) => deliveries.get(message) ?? 0,
    encoded,
    keepalive() {
      registry.eachStream((hold) => {
        hold.res.write(':\n\n');
        if (hold.res.writableLength > streamLimit) hold.res.destroy();
      });
    },
  };
}
