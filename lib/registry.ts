import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

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

  // One 'close' listener per connection, not per held request: a keep-alive connection that
  // re-polls costs no listener churn, and a request queued behind another on a pipelined
  // connection (whose response has no socket yet) is covered too. The lists live here, not on
  // the socket: an embedded library leaves node's objects as it found them, and two holdpush
  // instances on one server keep apart lists of a shared connection.
  /** Connections this registry listens on, each with its held requests (usually one). */
  const sockets = new Map<Socket, Entry[]>();

  function socketOnClose(this: Socket): void {
    const entries = sockets.get(this);
    sockets.delete(this);
    if (entries !== undefined) for (const entry of entries) forget(entry);
  }

  /** The entry of a hold while it is held, and its index in its connection's list. */
  function find(hold: Hold): { entries: Entry[]; index: number } | undefined {
    const entries = sockets.get(hold.res.req.socket);
    if (entries === undefined) return undefined;
    for (let index = 0; index < entries.length; index++) if ((entries[index] as Entry).hold === hold) return { entries, index };
    return undefined;
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
    const entry: Entry = { hold, bucket: -1 };
    const socket = hold.res.req.socket;
    const entries = sockets.get(socket);
    if (entries !== undefined) entries.push(entry);
    else {
      sockets.set(socket, [entry]);
      socket.on('close', socketOnClose);
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
    const found = find(hold);
    if (found === undefined) return false;
    const { entries, index } = found;
    const entry = entries[index] as Entry;
    if (index === entries.length - 1) entries.pop();
    else entries.splice(index, 1);
    forget(entry);
    return true;
  }

  /** Drops a hold that has left its connection's list from every index. */
  function forget(entry: Entry): void {
    const { hold } = entry;
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
    has: (hold) => find(hold) !== undefined,
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
      for (const socket of sockets.keys()) socket.removeListener('close', socketOnClose);
      sockets.clear();
      return [...all];
    },
  };
}
