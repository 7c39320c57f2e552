/** The Redis store's catch-up when its event stream reconnects: held channels hear what they missed, then order resumes. */
import type { ReadResult } from '../store';
import { parseToken } from './codec';
import type { EventOrder, StreamPosition } from './order';

/** What a catch-up needs of the store. */
export interface ResyncSource {
  /** Redis's head now: the epoch and the last sequence number issued. */
  head(): Promise<{ epoch: string; seq: number }>;
  /** Channels a subscriber of this process holds now. */
  held(): string[];
  read(channels: readonly string[], after: string | null, limit: number): Promise<ReadResult>;
  /** Whether the event stream is connected now (it may have gone again during the catch-up). */
  connected(): boolean;
}

/** Channels one catch-up read covers, and messages it takes (the store's read limits). */
const CHANNELS_PER_READ = 16;
const MESSAGES_PER_READ = 1000;

export class Resync {
  /** Where the event stream stood when its connection last went; undefined before that. */
  private resumeFrom: StreamPosition | undefined;

  constructor(
    private readonly order: EventOrder,
    private readonly source: ResyncSource,
  ) {}

  /** The event stream's connection went. */
  down(): void {
    const at = this.order.pause();
    if (at !== undefined) this.resumeFrom = at;
  }

  /** After the event stream (re)connects: catch up on what it missed, then keep order again. */
  async run(): Promise<void> {
    try {
      const head = await this.source.head();
      if (head.epoch !== this.order.epoch) this.order.switchEpoch(head.epoch);
      if (this.resumeFrom !== undefined) await this.catchUp(head, this.resumeFrom);
      if (this.source.connected()) this.order.resume(head.seq);
    } catch {
      // Redis went away again; the next reconnect tries once more.
    }
  }

  /**
   * Held channels hear what was published while the event stream was away: after the last
   * message heard then or, when Redis came back wiped (a new epoch), all that the new sequence holds.
   */
  private async catchUp(head: { epoch: string; seq: number }, from: StreamPosition): Promise<void> {
    const after = head.epoch === from.epoch ? from.after : null;
    const names = this.source.held();
    for (let i = 0; i < names.length; i += CHANNELS_PER_READ) {
      const result = await this.source.read(names.slice(i, i + CHANNELS_PER_READ), after, MESSAGES_PER_READ);
      for (const message of result.messages) {
        const seq = parseToken(message.token)?.seq ?? 0;
        if (seq <= head.seq) this.order.tell(seq, message);
      }
    }
  }
}
