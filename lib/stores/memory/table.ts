/** The memory store's channels by name: which are alive, forgetting idle ones, and the gaps that forgetting leaves. */
import { Channel } from './channels';

export class ChannelTable {
  private readonly channels = new Map<string, Channel>();
  /** Channels made by a subscriber's touch that hold no message yet: checked once by the sweep. */
  private untested = new Set<string>();
  /** Highest sequence number dropped from a channel that was then forgotten. */
  private forgottenSeq = 0;

  /** `isHeld`: whether a subscriber holds the channel now (a held channel is never forgotten). */
  constructor(private readonly isHeld: (channel: string) => boolean) {}

  get size(): number {
    return this.channels.size;
  }

  get(name: string): Channel | undefined {
    return this.channels.get(name);
  }

  has(name: string): boolean {
    return this.channels.has(name);
  }

  /** A new channel, at the store's sequence number `seq`; `touched` when a subscriber made it. */
  create(name: string, seq: number, touched: boolean): Channel {
    const channel = new Channel(seq);
    this.channels.set(name, channel);
    if (touched) this.untested.add(name);
    return channel;
  }

  /** Takes a channel out (deleted), whatever it holds. */
  remove(name: string): Channel | undefined {
    const channel = this.channels.get(name);
    if (channel !== undefined) this.channels.delete(name);
    return channel;
  }

  /** Forgets a channel that holds nothing and nobody holds. */
  forgetIfIdle(name: string): void {
    const channel = this.channels.get(name);
    if (channel === undefined || channel.size > 0 || this.isHeld(name)) return;
    this.channels.delete(name);
    if (channel.droppedSeq > this.forgottenSeq) this.forgottenSeq = channel.droppedSeq;
  }

  /** Forgets the channels subscribers made that stayed empty and unheld since the last sweep. */
  sweep(): void {
    if (this.untested.size === 0) return;
    const names = this.untested;
    this.untested = new Set();
    for (const name of names) this.forgetIfIdle(name);
  }

  /**
   * The channels of `names` that exist, and whether a reader after sequence number `after` missed
   * messages in them: `after` is null for a reader with no position, negative for one the store
   * never issued (a gap, read from the start).
   */
  lookup(names: readonly string[], after: number | null): { found: Channel[]; gap: boolean } {
    let gap = after !== null && after < 0;
    const at = after === null || after < 0 ? 0 : after;
    const found: Channel[] = [];
    for (const name of names) {
      const channel = this.channels.get(name);
      if (channel === undefined) {
        if (after !== null && this.forgottenSeq > at) gap = true;
        continue;
      }
      if (after !== null && !gap) {
        if (channel.droppedSeq > at) gap = true;
        else if (channel.createdSeq > at && this.forgottenSeq > at) gap = true;
      }
      found.push(channel);
    }
    return { found, gap };
  }
}
