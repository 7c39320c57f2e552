/**
 * The shared connection's recent answers, as every tab saw them: a chain of batches, each going
 * from one position to the next. Positions are compared only for equality (tokens are opaque);
 * the chain is what tells which messages come after a position. Pure: no timers, no I/O.
 */
import type { Message } from '../types';

/** One answer of the shared connection. */
export interface LoggedBatch {
  /** The position the request named (null: none yet). */
  readonly from: string | null;
  /** The position after it. */
  readonly to: string | null;
  /** The channels the request asked for: every message after `from` on these is in `messages`. */
  readonly channels: readonly string[];
  readonly messages: readonly Message[];
}

/** A message id `"<s>:<T>"` and a bare `T` name the same place: only the token decides. */
export function samePosition(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return a.replace(/^\d{1,12}:/, '') === b.replace(/^\d{1,12}:/, '');
}

/**
 * What a subscription standing at `position` takes from `batch`: all of it when the batch
 * starts there, the messages after `position` when the batch starts earlier and passes it
 * (a new leading tab asked again from an older place); null when the batch does not continue
 * from where it stands.
 */
export function continuation(batch: LoggedBatch, position: string | null): readonly Message[] | null {
  if (samePosition(batch.from, position)) return batch.messages;
  if (position === null) return null;
  for (let i = 0; i < batch.messages.length; i++) {
    const id = (batch.messages[i] as Message).id;
    if (id !== null && samePosition(id, position)) return batch.messages.slice(i + 1);
  }
  return samePosition(batch.to, position) ? [] : null;
}

export interface StreamLog {
  /** Where the chain ends (undefined: nothing known yet). */
  readonly head: string | null | undefined;
  /** The channels of the last batch (the shared connection's set when it was asked). */
  readonly channels: readonly string[];
  /** Appends a batch that starts at the head; any other starts a new chain. */
  add(batch: LoggedBatch): void;
  /** Knows that the connection stands at `position`, when nothing else is known. */
  anchor(position: string | null): void;
  /**
   * The messages on `channels` after `position`, when the chain passes that place and every
   * batch since asked for all of those channels; null when it cannot tell.
   */
  after(position: string | null, channels: readonly string[]): Message[] | null;
}

/** A log that keeps at most `maxMessages` messages and `maxBatches` batches (the oldest go first). */
export function createStreamLog(maxMessages = 2000, maxBatches = 500): StreamLog {
  let batches: LoggedBatch[] = [];
  let held = 0;
  let anchored: string | null | undefined;

  function head(): string | null | undefined {
    const last = batches[batches.length - 1];
    return last === undefined ? anchored : last.to;
  }

  /** Index of the first batch at or after `position`, and how many of its messages to skip. */
  function locate(position: string | null): { batch: number; skip: number } | null {
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i] as LoggedBatch;
      if (samePosition(batch.from, position)) return { batch: i, skip: 0 };
      if (position === null) continue;
      for (let j = 0; j < batch.messages.length; j++) {
        const id = (batch.messages[j] as Message).id;
        // After a batch's last message is where the next one starts (whatever it asked for).
        if (id !== null && samePosition(id, position)) return j + 1 < batch.messages.length ? { batch: i, skip: j + 1 } : { batch: i + 1, skip: 0 };
      }
      if (samePosition(batch.to, position)) return { batch: i + 1, skip: 0 };
    }
    return null;
  }

  return {
    get head() {
      return head();
    },
    get channels() {
      return batches[batches.length - 1]?.channels ?? [];
    },
    add(batch) {
      const end = head();
      if (end === undefined || !samePosition(batch.from, end)) {
        batches = [];
        held = 0;
      }
      anchored = undefined;
      batches.push(batch);
      held += batch.messages.length;
      while (batches.length > 1 && (held > maxMessages || batches.length > maxBatches)) {
        held -= (batches.shift() as LoggedBatch).messages.length;
      }
    },
    anchor(position) {
      if (head() === undefined) anchored = position;
    },
    after(position, channels) {
      const end = head();
      if (end !== undefined && samePosition(end, position)) return [];
      const at = locate(position);
      if (at === null) return null;
      const wanted = new Set(channels);
      const out: Message[] = [];
      for (let i = at.batch; i < batches.length; i++) {
        const batch = batches[i] as LoggedBatch;
        for (const channel of wanted) if (!batch.channels.includes(channel)) return null;
        const messages = i === at.batch ? batch.messages.slice(at.skip) : batch.messages;
        for (const message of messages) if (message.channel !== null && wanted.has(message.channel)) out.push(message);
      }
      return out;
    },
  };
}
