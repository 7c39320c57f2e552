/** The Redis store's wake-ups in order: watchers hear every message once, in sequence order, whichever way it came. */
import { RecentMessages } from '../recent';
import type { StoredMessage } from '../store';
import type { Watchers } from '../watchers';

/** Most milliseconds messages are held back while an earlier one is awaited (ordering across servers). */
export const HOLE_WAIT_MS = 250;
/** Sequence numbers told lately, remembered to drop duplicates and to answer appends. */
const RECENT_LIMIT = 8192;

/** Where the event stream stood when it went: the epoch it followed, and the last message told. */
export interface StreamPosition {
  readonly epoch: string | undefined;
  readonly after: string | null;
}

/**
 * Redis runs scripts one at a time and publishes each message in sequence order, so the event
 * stream is gapless. A local append's reply may overtake it: messages wait here until every
 * earlier sequence number was told, so watchers see publish order. While the stream is not in
 * step (before the first head, or its connection is away) whatever comes is told at once.
 */
export class EventOrder {
  private streamEpoch: string | undefined;
  /** Next sequence number to tell; undefined while the event stream is not in step (then `pending` is empty). */
  private next: number | undefined;
  private readonly pending = new Map<number, StoredMessage>();
  private readonly recent = new RecentMessages<number>(RECENT_LIMIT);
  /** Appends waiting until their message was told, by sequence number. */
  private readonly waiters = new Map<number, () => void>();
  private holeTimer: NodeJS.Timeout | undefined;
  private last: { seq: number; token: string } | undefined;
  private closed = false;

  constructor(
    private readonly watchers: Watchers,
    private readonly holeWait = HOLE_WAIT_MS,
  ) {}

  /** The epoch of the sequence being told. */
  get epoch(): string | undefined {
    return this.streamEpoch;
  }

  /** A message from the event stream (or a local append): told now or once the ones before it were. */
  offer(epoch: string, seq: number, message: StoredMessage): void {
    if (this.closed) return;
    if (this.streamEpoch !== epoch) {
      this.switchEpoch(epoch);
      if (this.next !== undefined) this.next = seq;
    }
    if (this.next === undefined || seq < this.next) {
      this.tell(seq, message);
      return;
    }
    this.pending.set(seq, message);
    this.drain();
  }

  /**
   * A message this process appended: resolves once it was told (so local watchers hear it before
   * the append settles) with the object the watchers saw, which may have come by the event stream.
   */
  async appended(epoch: string, seq: number, message: StoredMessage): Promise<StoredMessage> {
    if (this.closed) return message;
    // A number told lately is this message only in the same epoch: after a wipe, numbers restart.
    if (epoch !== this.streamEpoch || !this.recent.has(seq)) {
      const told = new Promise<void>((resolve) => this.waiters.set(seq, resolve));
      this.offer(epoch, seq, message);
      if (this.waiters.has(seq)) await told;
    }
    return this.recent.get(seq) ?? message;
  }

  /** Tells a message now unless it was told already (what a catch-up read found). */
  tell(seq: number, message: StoredMessage): void {
    const waiter = this.waiters.get(seq);
    if (waiter !== undefined) {
      this.waiters.delete(seq);
      waiter();
    }
    if (this.recent.has(seq)) return;
    this.recent.set(seq, message);
    if (this.last === undefined || this.last.seq < seq) this.last = { seq, token: message.token };
    this.watchers.message(message);
  }

  /** The event stream's connection went: what waits is told, and where the stream stood returned (undefined if it was not in step). */
  pause(): StreamPosition | undefined {
    const wasInStep = this.next !== undefined;
    this.next = undefined;
    this.flushPending();
    return wasInStep ? { epoch: this.streamEpoch, after: this.last?.token ?? null } : undefined;
  }

  /** Redis was wiped (or this is the start): a new sequence begins. */
  switchEpoch(epoch: string): void {
    this.flushPending();
    this.recent.clear();
    this.last = undefined;
    this.streamEpoch = epoch;
  }

  /** The event stream is in step again: the next message it brings follows `headSeq`. */
  resume(headSeq: number): void {
    if (this.next === undefined) this.next = headSeq + 1;
  }

  close(): void {
    this.closed = true;
    if (this.holeTimer !== undefined) clearTimeout(this.holeTimer);
    this.holeTimer = undefined;
    for (const waiter of this.waiters.values()) waiter();
    this.waiters.clear();
    this.pending.clear();
  }

  private drain(): void {
    while (this.next !== undefined) {
      const message = this.pending.get(this.next);
      if (message === undefined) break;
      this.pending.delete(this.next);
      this.tell(this.next, message);
      this.next += 1;
    }
    if (this.pending.size === 0) {
      if (this.holeTimer !== undefined) clearTimeout(this.holeTimer);
      this.holeTimer = undefined;
    } else if (this.holeTimer === undefined) {
      // Left ref'd: the store's event connection holds the process while it is open anyway, and
      // close() clears this timer.
      this.holeTimer = setTimeout(() => this.skipHole(), this.holeWait);
    }
  }

  /** An earlier message did not come in time: tell the waiting ones anyway. */
  private skipHole(): void {
    this.holeTimer = undefined;
    if (this.pending.size === 0) return;
    this.next = Math.min(...this.pending.keys());
    this.drain();
  }

  private flushPending(): void {
    const seqs = [...this.pending.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const message = this.pending.get(seq) as StoredMessage;
      this.pending.delete(seq);
      this.tell(seq, message);
    }
    if (this.holeTimer !== undefined) clearTimeout(this.holeTimer);
    this.holeTimer = undefined;
  }
}
