// The registry: the one owner of held responses, their deadlines and their race state.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createDeadlines } from './deadlines';

/**
 * How a held response is answered: `seed` is the original demo's `/?uid=`, `poll` Nchan's
 * long-poll, `batch` holdpush's JSON long-poll, `stream` an EventSource stream (never times out).
 */
export type HoldMode = 'seed' | 'poll' | 'batch' | 'stream';

/** A held subscriber. Only the registry changes one: everyone else reads it. */
export interface Hold {
  readonly res: ServerResponse;
  readonly mode: HoldMode;
  readonly channels: readonly string[];
  /** Where the client stands: a message at or before this token is not for it. */
  readonly position: string;
  /** The client's position was past a gap; the first message it gets says so. */
  readonly gap: boolean;
  /** Unix ms when a long-poll is answered empty; 0 for streams. */
  readonly deadline: number;
  /** The `If-Modified-Since` the client sent, echoed on a `408`. */
  readonly ifModifiedSince: string | undefined;
  /** Seed face, browser tab: the page to reload at the timeout (its position is added then). */
  readonly reloadUrl: string | undefined;
  /** Held while its last read may have missed a wake-up: wake-ups only mark it `raced`. */
  readonly pending: boolean;
  readonly raced: boolean;
}

/** What the registry changes in a hold. TypeScript lets a `Hold` be passed as one: only this file does. */
interface HoldState {
  position: string;
  gap: boolean;
  pending: boolean;
  raced: boolean;
}

export interface RegistryOptions {
  /** Called with a long-poll whose deadline passed, after it left the registry. */
  onExpire(hold: Hold): void;
  /** Called when the last hold on a channel left. */
  onChannelEmpty(channel: string): void;
  /** Called for each channel of a hold that was added or left (its holders changed). */
  onChannelChange?(channel: string): void;
  /** Deadline resolution in ms: one timer for all holds, ticking this often while any wait. */
  resolution: number;
}

export interface Registry {
  readonly size: number;
  readonly longpolls: number;
  readonly streams: number;
  /**
   * Takes ownership of a response until it is released; releases itself if the client goes.
   * The object passed (`raced` false) becomes the hold, not a copy: one object per held request.
   */
  add(hold: Hold & { readonly raced: false }): Hold;
  /** Removes a hold; false when it was already gone (so each hold is answered once). */
  release(hold: Hold): boolean;
  /** Whether the hold is still held (not answered, timed out or gone). */
  has(hold: Hold): boolean;
  /**
   * The holds of a channel at this moment, still held: the caller writes to them, then gives the
   * long-polls back with `letGo` in the same turn (the bookkeeping waits until every subscriber
   * has its bytes). With `follows` (a store that wakes this process over the network), only
   * holds whose position the message follows, and not pending ones: those are marked `raced`
   * and read again (see `confirmed`).
   */
  take(channel: string, follows?: (position: string) => boolean): Hold[];
  /** Releases the long-polls among `holds` (from `take`); streams stay held. */
  letGo(holds: readonly Hold[]): void;
  /** A message was written to the hold: it stands at `position` now, past any gap. */
  advance(hold: Hold, position: string): void;
  /** A pending hold reads again: wake-ups from now on count as races. */
  confirming(hold: Hold): void;
  /** A pending hold's read stopped at `head`; it is pending no longer once a whole read saw no race. */
  confirmed(hold: Hold, head: string, more: boolean): void;
  /** Holders of one channel now. */
  holders(channel: string): number;
  /** The channels held now. */
  channels(): IterableIterator<string>;
  /** Every open stream (keepalives walk them). */
  eachStream(visit: (hold: Hold) => void): void;
  /** Releases and returns every hold (shutdown). */
  drain(): Hold[];
}

/**
 * The only owner of held responses. Its indexes (channel -> holds, connection -> holds, and
 * the deadline wheel) are kept in step, emptied sets deleted at once, so `size` is always the
 * truth. One closure over those indexes, longer than a function should be, because they must
 * change together: each function inside it is short.
 */
export function createRegistry(options: RegistryOptions): Registry {
  /** The hold's changeable fields (readonly to everyone else). */
  const state = (hold: Hold): HoldState => hold;
  const { onExpire, onChannelEmpty, onChannelChange, resolution } = options;
  const byChannel = new Map<string, Set<Hold>>();
  const streams = new Set<Hold>();
  const deadlines = createDeadlines<Hold>(resolution, (hold) => {
    if (release(hold)) onExpire(hold);
  });
  let size = 0;

  // One 'close' listener per connection, not per held request: a keep-alive connection that
  // re-polls costs no listener churn, and a request queued behind another on a pipelined
  // connection (whose response has no socket yet) is covered too. The lists live here, not on
  // the socket: an embedded library leaves node's objects as it found them, and two holdpush
  // instances on one server keep apart lists of a shared connection.
  /**
   * Connections this registry listens on, each with its held requests: the hold itself when
   * it is the only one (nearly always: no array kept per connection), a list when a pipelined
   * connection has more, null when it holds none now (it is still listened on).
   */
  const sockets = new Map<Socket, Hold | Hold[] | null>();

  function socketOnClose(this: Socket): void {
    const holds = sockets.get(this);
    sockets.delete(this);
    if (holds === undefined || holds === null) return;
    if (Array.isArray(holds)) for (const hold of holds) forget(hold);
    else forget(holds);
  }

  function add(hold: Hold): Hold {
    const socket = hold.res.req.socket;
    const held = sockets.get(socket);
    if (held === undefined) {
      sockets.set(socket, hold);
      socket.on('close', socketOnClose);
    } else if (held === null) sockets.set(socket, hold);
    else if (Array.isArray(held)) held.push(hold);
    else sockets.set(socket, [held, hold]);
    for (const channel of hold.channels) {
      let set = byChannel.get(channel);
      if (set === undefined) {
        set = new Set();
        byChannel.set(channel, set);
      }
      set.add(hold);
      onChannelChange?.(channel);
    }
    size += 1;
    if (hold.mode === 'stream') {
      streams.add(hold);
      return hold;
    }
    deadlines.add(hold);
    return hold;
  }

  /** Whether a hold is woken by a message that `follows` its position, or (pending) only marked raced. */
  function wakes(hold: Hold, follows: (position: string) => boolean): boolean {
    if (!follows(hold.position)) return false;
    if (!hold.pending) return true;
    state(hold).raced = true;
    return false;
  }

  function release(hold: Hold): boolean {
    const socket = hold.res.req.socket;
    const held = sockets.get(socket);
    if (held === hold) sockets.set(socket, null);
    else {
      const index = Array.isArray(held) ? held.indexOf(hold) : -1;
      if (index < 0) return false;
      (held as Hold[]).splice(index, 1);
    }
    forget(hold);
    return true;
  }

  /** Whether a connection's entry holds `hold`. */
  function contains(entry: Hold | Hold[] | null | undefined, hold: Hold): boolean {
    return entry === hold || (Array.isArray(entry) && entry.includes(hold));
  }

  /** Drops a hold that has left its connection's list from every index. */
  function forget(hold: Hold): void {
    size -= 1;
    if (hold.mode === 'stream') streams.delete(hold);
    else deadlines.remove(hold);
    for (const channel of hold.channels) {
      const set = byChannel.get(channel);
      if (set === undefined) continue;
      set.delete(hold);
      onChannelChange?.(channel);
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
    has: (hold) => contains(sockets.get(hold.res.req.socket), hold),
    take(channel, follows) {
      const set = byChannel.get(channel);
      if (set === undefined) return [];
      return follows === undefined ? [...set] : [...set].filter((hold) => wakes(hold, follows));
    },
    letGo(holds) {
      for (const hold of holds) if (hold.mode !== 'stream') release(hold);
    },
    advance(hold, position) {
      const changed = state(hold);
      changed.position = position;
      changed.gap = false;
    },
    confirming(hold) {
      state(hold).raced = false;
    },
    confirmed(hold, head, more) {
      const changed = state(hold);
      changed.position = head;
      if (!more && !hold.raced) changed.pending = false;
    },
    holders: (channel) => byChannel.get(channel)?.size ?? 0,
    channels: () => byChannel.keys(),
    eachStream(visit) {
      for (const hold of streams) visit(hold);
    },
    drain() {
      const all = new Set<Hold>();
      for (const set of byChannel.values()) for (const hold of set) all.add(hold);
      for (const hold of all) release(hold);
      deadlines.clear();
      for (const socket of sockets.keys()) socket.removeListener('close', socketOnClose);
      sockets.clear();
      return [...all];
    },
  };
}
