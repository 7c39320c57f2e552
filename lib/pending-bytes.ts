// Bytes written to subscribers' connections and not yet taken by them, and the rules that cut them.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface PendingBytesOptions {
  /** Unsent bytes all connections may hold together (`maxPendingBytes`). */
  readonly limit: number;
  /** Unsent bytes one stream may hold. */
  readonly streamLimit: number;
}

/** Connections cut, by the rule that cut them. */
export interface Cuts {
  /** All together passed the budget, and these had the most unsent. */
  pendingBudget: number;
  /** One stream passed its own bound. */
  slowReader: number;
}

export interface PendingBytes {
  /** After a write to a subscriber (`stream`: an EventSource stream, held on). */
  wrote(res: ServerResponse, stream: boolean): void;
  /**
   * After a fan-out: when all together may pass the budget, the next turn of the event loop
   * cuts the connections with the most unsent bytes until they fit.
   */
  settle(): void;
  /** Unsent bytes of every tracked connection, read now. */
  bytes(): number;
  readonly cuts: Readonly<Cuts>;
  /**
   * Resolves true once `res` has handed its unsent bytes to the connection ('drain'); false
   * when the client went away first, or the server is shutting down (`clear`, which cuts it:
   * a stream's client comes back with its position).
   */
  drained(res: ServerResponse): Promise<boolean>;
  /** Lets every connection go, listeners and all, and cuts the responses waiting for 'drain' (shutdown). */
  clear(): void;
}

/**
 * The two rules (docs/protocol.md, "Memory"): a stream whose own unsent bytes pass the
 * per-stream bound is cut (a slow reader); and when the connections together pass
 * `--max-pending-bytes`, those with the most unsent bytes are cut first. A cut connection is
 * destroyed: a stream's client comes back with its position, a long-poll's asks again from its
 * own; nothing is lost.
 *
 * Cheap on the hot path: after a write, only a connection that must wait for 'drain' (its
 * unsent bytes, its response's included, reached the high-water mark: 16 KiB, 64 KiB from
 * Node 22) is tracked,
 * with the count seen then, until its 'drain' or 'close'; below that mark a connection holds
 * little, as with any stream. The sum moves as those counts do, and the budget is looked at
 * after a fan-out, not per write. The counts seen at a write include what node:http holds
 * corked until the next tick (so every fresh stream would look alike), and they only fall until
 * the next write: the decision waits for the next turn of the event loop and reads the true
 * counts first.
 */
export function createPendingBytes(options: PendingBytesOptions): PendingBytes {
  const { limit, streamLimit } = options;
  /** Connections with unsent bytes, each with the count last seen. */
  const tracked = new Map<Socket, number>();
  let sum = 0;
  const cuts: Cuts = { pendingBudget: 0, slowReader: 0 };
  let decision: NodeJS.Immediate | undefined;
  /** Responses waiting for 'drain', each with the function that gives up on it. */
  const waiting = new Map<ServerResponse, () => void>();

  function forget(socket: Socket): void {
    tracked.delete(socket);
    socket.removeListener('drain', socketOnDrain);
    socket.removeListener('close', socketOnClose);
  }

  function untrack(socket: Socket): void {
    const known = tracked.get(socket);
    if (known === undefined) return;
    sum -= known;
    forget(socket);
  }

  function socketOnDrain(this: Socket): void {
    untrack(this);
  }

  function socketOnClose(this: Socket): void {
    untrack(this);
  }

  function wrote(res: ServerResponse, stream: boolean): void {
    if (stream && res.writableLength > streamLimit) {
      res.destroy();
      cuts.slowReader += 1;
      return;
    }
    // The response's count, which includes its socket's: from Node 24 a response keeps what it
    // is given within a turn of the event loop itself (corked) and hands it to its socket on
    // the next, so right after a write the socket may show nothing of it unsent.
    const socket = res.req.socket;
    if (!res.writableNeedDrain && !socket.writableNeedDrain) return;
    const now = res.writableLength;
    const known = tracked.get(socket);
    if (known === undefined) {
      socket.on('drain', socketOnDrain);
      socket.on('close', socketOnClose);
    }
    tracked.set(socket, now);
    sum += now - (known ?? 0);
  }

  /** Reads the true counts: connections that sent everything (or closed) leave. */
  function refresh(): void {
    let total = 0;
    for (const [socket] of tracked) {
      const now = socket.destroyed ? 0 : socket.writableLength;
      if (now === 0) forget(socket);
      else {
        tracked.set(socket, now);
        total += now;
      }
    }
    sum = total;
  }

  function decide(): void {
    decision = undefined;
    refresh();
    if (sum <= limit) return;
    const fattest = [...tracked].sort((a, b) => b[1] - a[1]);
    for (const [socket] of fattest) {
      if (sum <= limit) break;
      untrack(socket);
      socket.destroy();
      cuts.pendingBudget += 1;
    }
  }

  return {
    wrote,
    settle() {
      if (sum > limit && decision === undefined) decision = setImmediate(decide);
    },
    bytes() {
      refresh();
      return sum;
    },
    cuts,
    drained(res) {
      if (res.destroyed) return Promise.resolve(false);
      return new Promise((resolve) => {
        function done(ok: boolean): void {
          waiting.delete(res);
          res.removeListener('drain', resOnDrain);
          res.removeListener('close', resOnClose);
          resolve(ok);
        }
        function resOnDrain(): void {
          done(true);
        }
        function resOnClose(): void {
          done(false);
        }
        res.on('drain', resOnDrain);
        res.on('close', resOnClose);
        waiting.set(res, () => {
          done(false);
          res.destroy();
        });
      });
    },
    clear() {
      for (const giveUp of [...waiting.values()]) giveUp();
      if (decision !== undefined) clearImmediate(decision);
      decision = undefined;
      for (const socket of [...tracked.keys()]) forget(socket);
      sum = 0;
    },
  };
}
