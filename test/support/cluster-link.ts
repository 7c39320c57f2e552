/** An in-process IPC channel between a cluster store and its primary, for tests that need no child processes. */
import { EventEmitter } from 'node:events';
import type { WorkerLink } from '../../lib/stores/cluster/primary';
import type { PrimaryLink } from '../../lib/stores/cluster/worker';

export interface LinkPair {
  /** What the primary attaches (a `cluster.Worker` stand-in). */
  readonly worker: WorkerLink & { connected: boolean };
  /** What the worker's store talks through (`process` in a real worker). */
  readonly primary: PrimaryLink & { connected: boolean };
}

/**
 * Both ends of one channel, cloning what they carry as `serialization: 'advanced'` does (a Buffer
 * arrives as a Uint8Array) and delivering it on a later turn of the event loop, in order.
 */
export function linkPair(id: number): LinkPair {
  const toPrimary = new EventEmitter();
  const toWorker = new EventEmitter();
  const primarySide = Object.assign(toPrimary, {
    id,
    connected: true,
    isConnected: () => primarySide.connected,
    send(message: unknown) {
      const copy = structuredClone(message);
      setImmediate(() => toWorker.emit('message', copy));
      return true;
    },
  });
  const workerSide = Object.assign(toWorker, {
    connected: true,
    send(message: unknown) {
      if (!workerSide.connected) throw new Error('channel closed');
      const copy = structuredClone(message);
      setImmediate(() => toPrimary.emit('message', copy));
      return true;
    },
  });
  return { worker: primarySide, primary: workerSide };
}
