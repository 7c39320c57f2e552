import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How a held response is answered: `seed` is the original demo's `/?uid=`, `poll` Nchan's
 * long-poll, `batch` holdpush's JSON long-poll, `stream` an EventSource stream (never times out).
 */
export type HoldMode = 'seed' | 'poll' | 'batch' | 'stream';

export interface Hold {
  readonly res: ServerResponse;
  readonly mode: HoldMode;
  readonly channels: readonly string[];
  /** Where the client stands: a message at or before this token is not for it. */
  position: string;
  /** The client's position was past a gap; the first message it gets says so. */
  gap: boolean;
  /** Unix ms when a long-poll is answered empty; 0 for streams. */
  readonly deadline: number;
  /** The `If-Modified-Since` the client sent, echoed on a `408`. */
  readonly ifModifiedSince: string | undefined;
  /** Seed face, browser tab: the page to reload at the timeout (its position is added then). */
  readonly reloadUrl: string | undefined;
  /** Held while its last read may have missed a wake-up: wake-ups only mark it `raced`. */
  pending: boolean;
  raced: boolean;
}

interface Entry {
  hold: Hold;
  bucket: number;
}

const ENTRY = Symbol('holdpush.entry');
type HeldResponse = ServerResponse & { [ENTRY]?: Entry };
type HeldRequest = IncomingMessage & { [ENTRY]?: Entry };

export interface RegistryOptions {
  /** Called with a long-poll whose deadline passed, after it left the registry. */
  onExpire(hold: Hold): void;
  /** Called when the last hold on a channel left. */
  onChannelEmpty(channel: string): void;
  /** Deadline resolution in ms: one timer for all holds, ticking this often while any wait. */
  resolution: number;
}

export interface Registry {
  readonly size: number;
  readonly longpolls: number;
  readonly streams: number;
  /** Takes ownership of a response until it is released; releases itself if the client goes. */
  add(hold: Hold): void;
  /** Removes a hold; false when it was already gone (so each hold is answered once). */
  release(hold: Hold): boolean;
  /** Whether the hold is still held (not answered, timed out or gone). */
  has(hold: Hold): boolean;
  /**
   * The holds of a channel at this moment (those `wants` accepts, when given); long-polls
   * among them are released.
   */
  take(channel: string, wants?: (hold: Hold) => boolean): Hold[];
  /** Holders of one channel now. */
  holders(channel: string): number;
  /** Every open stream (keepalives walk them). */
  eachStream(visit: (hold: Hold) => void): void;
  /** Releases and returns every hold (shutdown). */
  drain(): Hold[];
}

/**
 * The only owner of held responses. Two indexes kept in step (channel -> holds, and the
 * response's own entry), emptied sets deleted at once, so `size` is always the truth.
 */
export function createRegistry(options: RegistryOptions): Registry {
  const { onExpire, onChannelEmpty, resolution } = options;
  const byChannel = new Map<string, Set<Hold>>();
  const streams = new Set<Hold>();
  const deadlines = new Map<number, Set<Entry>>();
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  let swept = 0;

  function onClose(this: HeldResponse | HeldRequest): void {
    const entry = this[ENTRY];
    if (entry !== undefined) release(entry.hold);
  }

  function tick(): void {
    const now = Math.floor(Date.now() / resolution);
    for (; swept <= now && deadlines.size > 0; swept++) {
      const due = deadlines.get(swept);
      if (due === undefined) continue;
      deadlines.delete(swept);
      for (const entry of due) {
        if (release(entry.hold)) onExpire(entry.hold);
      }
    }
    if (deadlines.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  function add(hold: Hold): void {
    const res = hold.res as HeldResponse;
    const entry: Entry = { hold, bucket: -1 };
    res[ENTRY] = entry;
    res.on('close', onClose);
    // A response queued behind another on a pipelined connection has no socket yet, and
    // before Node 24 it gets no 'close' if the connection goes: its request does.
    if (res.socket === null) {
      const req = res.req as HeldRequest;
      req[ENTRY] = entry;
      req.on('close', onClose);
    }
    for (const channel of hold.channels) {
      let set = byChannel.get(channel);
      if (set === undefined) {
        set = new Set();
        byChannel.set(channel, set);
      }
      set.add(hold);
    }
    size += 1;
    if (hold.mode === 'stream') {
      streams.add(hold);
      return;
    }
    entry.bucket = Math.ceil(hold.deadline / resolution);
    let due = deadlines.get(entry.bucket);
    if (due === undefined) {
      due = new Set();
      deadlines.set(entry.bucket, due);
    }
    due.add(entry);
    if (timer === undefined) {
      swept = Math.floor(Date.now() / resolution);
      timer = setInterval(tick, resolution);
      timer.unref();
    }
  }

  function release(hold: Hold): boolean {
    const res = hold.res as HeldResponse;
    const entry = res[ENTRY];
    if (entry === undefined || entry.hold !== hold) return false;
    res[ENTRY] = undefined;
    res.removeListener('close', onClose);
    const req = res.req as HeldRequest;
    if (req[ENTRY] !== undefined) {
      req[ENTRY] = undefined;
      req.removeListener('close', onClose);
    }
    size -= 1;
    if (hold.mode === 'stream') streams.delete(hold);
    else {
      const due = deadlines.get(entry.bucket);
      if (due !== undefined) {
        due.delete(entry);
        if (due.size === 0) deadlines.delete(entry.bucket);
      }
    }
    for (const channel of hold.channels) {
      const set = byChannel.get(channel);
      if (set === undefined) continue;
      set.delete(hold);
      if (set.size === 0) {
        byChannel.delete(channel);
        onChannelEmpty(channel);
      }
    }
    return true;
  }

  return {
    get size() {
      return size;
    },
    get longpolls() {
      return size - streams.size;
    },
    get streams() {
      return streams.size;
    },
    add,
    release,
    has: (hold) => (hold.res as HeldResponse)[ENTRY]?.hold === hold,
    take(channel, wants) {
      const set = byChannel.get(channel);
      if (set === undefined) return [];
      const holds = wants === undefined ? [...set] : [...set].filter(wants);
      for (const hold of holds) if (hold.mode !== 'stream') release(hold);
      return holds;
    },
    holders: (channel) => byChannel.get(channel)?.size ?? 0,
    eachStream(visit) {
      for (const hold of streams) visit(hold);
    },
    drain() {
      const all = new Set<Hold>();
      for (const set of byChannel.values()) for (const hold of set) all.add(hold);
      for (const hold of all) release(hold);
      if (timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
      return [...all];
    },
  };
}
