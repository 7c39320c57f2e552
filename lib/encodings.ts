// Messages' encodings, built once however many subscribers they are written to, and kept for recent messages only.
import { EncodedMessage } from './encoded-message';
import type { HeaderPairs } from './http/answer';
import type { StoredMessage } from './stores/store';

/** Evicted slots at the front of the queue before it is cut down (amortised O(1) per message). */
const COMPACT_AT = 1024;

/**
 * A message's encodings (its SSE event, JSON item and prebuilt answers) kept for as long as the
 * message is held would take about as much memory again as its body for each form, beside the
 * buffer budget (docs/protocol.md, "Memory"): only recent messages keep theirs, and an older
 * message read again (a replay, a late poll) is encoded again.
 *
 * The oldest go first through a queue of their own, not by walking the map's keys: a Map keeps
 * a deleted entry's slot until it is rehashed, so a walk from its start passes every message
 * evicted since, and once the budget was full each new message paid for all of them.
 */
export class RecentEncodings {
  private readonly map = new Map<StoredMessage, EncodedMessage>();
  /** The messages in `map`, oldest first from `head` (the slots before it are evicted). */
  private queue: (StoredMessage | undefined)[] = [];
  private head = 0;
  /** Bodies of the messages kept here. */
  private bytes = 0;

  /** `limit`: bytes of message bodies whose encodings are kept. */
  constructor(
    private readonly shared: HeaderPairs,
    private readonly limit: number,
  ) {}

  /** Messages whose encodings are kept. */
  get size(): number {
    return this.map.size;
  }

  get(message: StoredMessage): EncodedMessage {
    let encoding = this.map.get(message);
    if (encoding !== undefined) return encoding;
    encoding = new EncodedMessage(message, this.shared);
    this.map.set(message, encoding);
    this.queue.push(message);
    this.bytes += message.data.length;
    while (this.bytes > this.limit && this.head < this.queue.length) {
      const old = this.queue[this.head] as StoredMessage;
      this.queue[this.head++] = undefined;
      this.map.delete(old);
      this.bytes -= old.data.length;
    }
    if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return encoding;
  }
}
