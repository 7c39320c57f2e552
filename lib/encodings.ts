// Messages' encodings, built once however many subscribers they are written to, and kept for recent messages only.
import { EncodedMessage } from './encoded-message';
import type { HeaderPairs } from './http/answer';
import type { StoredMessage } from './stores/store';

/**
 * A message's encodings (its SSE event, JSON item and prebuilt answers) kept for as long as the
 * message is held would take about as much memory again as its body for each form, beside the
 * buffer budget (docs/protocol.md, "Memory"): only recent messages keep theirs, and an older
 * message read again (a replay, a late poll) is encoded again.
 */
export class RecentEncodings {
  /** In the order they were made (a Map iterates in insertion order): the oldest go first. */
  private readonly map = new Map<StoredMessage, EncodedMessage>();
  /** Bodies of the messages kept here. */
  private bytes = 0;

  /** `limit`: bytes of message bodies whose encodings are kept. */
  constructor(
    private readonly shared: HeaderPairs,
    private readonly limit: number,
  ) {}

  get(message: StoredMessage): EncodedMessage {
    let encoding = this.map.get(message);
    if (encoding !== undefined) return encoding;
    encoding = new EncodedMessage(message, this.shared);
    this.map.set(message, encoding);
    this.bytes += message.data.length;
    for (const old of this.map.keys()) {
      if (this.bytes <= this.limit) break;
      this.map.delete(old);
      this.bytes -= old.data.length;
    }
    return encoding;
  }
}
