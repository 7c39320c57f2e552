import { createMemoryStore } from '../memory/store';
import {
  type ChannelInfo,
  type MessageInput,
  type MessageStore,
  type ReadResult,
  type StoreEvents,
  type StoreStats,
  type StoredMessage,
  StoreUnavailableError,
} from '../store';

/**
 * The store of `--workers N`: one sequencer for all workers.
 *
 * The primary runs a memory store (so tokens are ordered across workers and the buffer outlives
 * any worker); each worker gets a proxy that forwards every call over the cluster's IPC channel
 * and hears every new message and deletion from the primary. IPC must use
 * `serialization: 'advanced'` (structured clone), so bodies travel as bytes, not JSON.
 *
 * Messages on the channel are objects with `hp` naming their kind:
 * - worker -> primary: `{hp: 'req', id, op, args}` (op: append, read, head, touch, info,
 *   delete), `{hp: 'release', channels}` (this worker holds them no more),
 *   `{hp: 'report', figures}` (this worker's held counts and totals, for /stats).
 * - primary -> worker: `{hp: 'res', id, ok, value}` or `{hp: 'res', id, ok: false, error: {code, message}}`,
 *   `{hp: 'msg', message}`, `{hp: 'del', channel}`, `{hp: 'stats', store, others}` (the
 *   sequencer's figures and the sums of every other worker's last report).
 * The primary tells every worker of a message before it answers the append that made it, and
 * one IPC channel keeps its order, so a worker's watchers hear it before its append settles.
 */

/** What one worker reports of itself, for figures that cover the whole cluster. */
export interface WorkerFigures {
  held: { longpoll: number; stream: number; total: number };
  published: number;
  delivered: number;
}

/** The sum of every live worker's last report. */
export interface ClusterTotals extends WorkerFigures {
  workers: number;
}

/** The side of the IPC channel a worker sees (`process` in a cluster worker). */
export interface PrimaryLink {
  readonly connected?: boolean;
  send?(message: unknown, callback?: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  removeListener(event: 'message', listener: (message: unknown) => void): unknown;
  removeListener(event: 'disconnect', listener: () => void): unknown;
}

/** The side of the IPC channel the primary sees (a `cluster.Worker`). */
export interface WorkerLink {
  readonly id: number;
  send(message: unknown, callback?: (error: Error | null) => void): boolean;
  isConnected(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  removeListener(event: 'message', listener: (message: unknown) => void): unknown;
}

type Op = 'append' | 'read' | 'head' | 'touch' | 'info' | 'delete';

interface WireMessage {
  channel: string;
  token: string;
  id: string;
  time: number;
  contentType: string;
  event: string | undefined;
  data: Uint8Array;
}

function toWire(message: StoredMessage): WireMessage {
  return { channel: message.channel, token: message.token, id: message.id, time: message.time, contentType: message.contentType, event: message.event, data: message.data };
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function fromWire(wire: WireMessage): StoredMessage {
  return { channel: wire.channel, token: wire.token, id: wire.id, time: wire.time, contentType: wire.contentType, event: wire.event ?? undefined, data: toBuffer(wire.data) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

const NO_FIGURES: WorkerFigures = { held: { longpoll: 0, stream: 0, total: 0 }, published: 0, delivered: 0 };

// ---------------------------------------------------------------------------------------------
// The primary.

export interface ClusterPrimaryOptions {
  buffer: number;
  messageTtl: number;
  maxChannels: number;
  /** Milliseconds between figures pushed to every worker. @defaultValue 500 */
  statsInterval?: number;
}

export interface ClusterPrimary {
  /** The sequencer's own store (for tests and the primary's logs). */
  readonly store: MessageStore;
  /** Serves a worker: call on `cluster.on('fork')`; returns the function that lets it go. */
  attach(worker: WorkerLink): () => void;
  /** Forgets a worker that died: its holds are released. */
  detach(workerId: number): void;
  /** Sums of the last reports of the attached workers. */
  totals(): ClusterTotals;
  close(): Promise<void>;
}

export function createClusterPrimary(options: ClusterPrimaryOptions): ClusterPrimary {
  /** channel -> ids of the workers holding it. */
  const holders = new Map<string, Set<number>>();
  const workers = new Map<number, { link: WorkerLink; holds: Set<string>; figures: WorkerFigures; off: () => void }>();
  const store = createMemoryStore({
    buffer: options.buffer,
    messageTtl: options.messageTtl,
    maxChannels: options.maxChannels,
    isHeld: (channel) => (holders.get(channel)?.size ?? 0) > 0,
  });

  function send(link: WorkerLink, message: unknown): void {
    if (!link.isConnected()) return;
    try {
      link.send(message, () => undefined);
    } catch {
      // The worker is going away; its exit detaches it.
    }
  }

  function broadcast(message: unknown): void {
    for (const { link } of workers.values()) send(link, message);
  }

  function pushStats(): void {
    const storeStats = store.stats();
    for (const [id, { link }] of workers) send(link, { hp: 'stats', store: storeStats, others: totals(id) });
  }

  store.watch({
    message: (message) => broadcast({ hp: 'msg', message: toWire(message) }),
    deleted: (channel) => broadcast({ hp: 'del', channel }),
  });

  function hold(workerId: number, channels: readonly string[]): void {
    const worker = workers.get(workerId);
    if (worker === undefined) return;
    for (const channel of channels) {
      worker.holds.add(channel);
      let set = holders.get(channel);
      if (set === undefined) {
        set = new Set();
        holders.set(channel, set);
      }
      set.add(workerId);
    }
  }

  function release(workerId: number, channels: Iterable<string>): void {
    const worker = workers.get(workerId);
    for (const channel of channels) {
      worker?.holds.delete(channel);
      const set = holders.get(channel);
      if (set === undefined) continue;
      set.delete(workerId);
      if (set.size === 0) {
        holders.delete(channel);
        store.released(channel);
      }
    }
  }

  async function run(workerId: number, op: Op, args: unknown[]): Promise<unknown> {
    switch (op) {
      case 'append': {
        const [channel, input] = args as [string, { data: Uint8Array; contentType: string; event?: string }];
        const message = await store.append(channel, { data: toBuffer(input.data), contentType: input.contentType, event: input.event ?? undefined });
        const { data: _data, ...rest } = toWire(message);
        return rest;
      }
      case 'read': {
        const [channels, after, limit] = args as [string[], string | null, number];
        const result = await store.read(channels, after, limit);
        return { ...result, messages: result.messages.map(toWire) };
      }
      case 'head':
        return store.head();
      case 'touch': {
        const [channels] = args as [string[]];
        const ok = await store.touch(channels);
        if (ok) hold(workerId, channels);
        return ok;
      }
      case 'info':
        return store.info(args[0] as string);
      case 'delete':
        return store.delete(args[0] as string);
      default:
        throw new Error(`unknown operation ${String(op)}`);
    }
  }

  /** Sums over the attached workers, leaving out `except`. */
  function totals(except?: number): ClusterTotals {
    const sum: ClusterTotals = { workers: 0, held: { longpoll: 0, stream: 0, total: 0 }, published: 0, delivered: 0 };
    for (const [id, { figures }] of workers) {
      if (id === except) continue;
      sum.workers += 1;
      sum.held.longpoll += figures.held.longpoll;
      sum.held.stream += figures.held.stream;
      sum.held.total += figures.held.total;
      sum.published += figures.published;
      sum.delivered += figures.delivered;
    }
    return sum;
  }

  const statsTimer = setInterval(pushStats, options.statsInterval ?? 500);
  statsTimer.unref();

  function detach(workerId: number): void {
    const worker = workers.get(workerId);
    if (worker === undefined) return;
    worker.off();
    release(workerId, [...worker.holds]);
    workers.delete(workerId);
  }

  return {
    store,
    attach(link) {
      function primaryOnWorkerMessage(message: unknown): void {
        if (!isObject(message)) return;
        if (message.hp === 'req') {
          const id = message.id;
          run(link.id, message.op as Op, Array.isArray(message.args) ? message.args : []).then(
            (value) => send(link, { hp: 'res', id, ok: true, value }),
            (error: unknown) => {
              const code = error instanceof StoreUnavailableError ? error.code : undefined;
              send(link, { hp: 'res', id, ok: false, error: { code, message: error instanceof Error ? error.message : String(error) } });
            },
          );
        } else if (message.hp === 'release' && Array.isArray(message.channels)) {
          release(link.id, message.channels as string[]);
        } else if (message.hp === 'report' && isObject(message.figures)) {
          const worker = workers.get(link.id);
          if (worker !== undefined) worker.figures = message.figures as unknown as WorkerFigures;
        }
      }
      link.on('message', primaryOnWorkerMessage);
      const off = (): void => {
        link.removeListener('message', primaryOnWorkerMessage);
      };
      workers.set(link.id, { link, holds: new Set(), figures: NO_FIGURES, off });
      send(link, { hp: 'stats', store: store.stats(), others: totals(link.id) });
      return () => detach(link.id);
    },
    detach,
    totals: () => totals(),
    async close() {
      clearInterval(statsTimer);
      for (const id of [...workers.keys()]) detach(id);
      await store.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A worker.

export interface ClusterStoreOptions {
  /** Whether a subscriber of this worker holds the channel now. */
  isHeld(channel: string): boolean;
  /**
   * Milliseconds the primary has to answer. A primary that is gone fails requests at once (the
   * IPC channel closes); this bounds a live but stalled one, so it is generous: a busy machine
   * delays answers that do come, and a publisher told "failed" after its message went out
   * would publish it twice. @defaultValue 10000
   */
  timeout?: number;
  /** Milliseconds between this worker's reports (and hold checks). @defaultValue 500 */
  reportInterval?: number;
  /** The IPC channel to the primary. @defaultValue `process` */
  link?: PrimaryLink;
}

export interface ClusterStore extends MessageStore {
  readonly kind: 'cluster';
  /** Sets where this worker's own figures come from; they are reported to the primary. */
  report(figures: () => WorkerFigures): void;
  /**
   * Figures of the whole cluster: the other workers' last reports (at most `reportInterval`
   * old) plus this worker's own, fresh. Undefined until the primary has sent the first sums.
   */
  totals(): ClusterTotals | undefined;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Recently heard messages kept to hand back from `append` the object the watchers saw. */
const RECENT_LIMIT = 1024;

export function createClusterStore(options: ClusterStoreOptions): ClusterStore {
  const link: PrimaryLink = options.link ?? (process as unknown as PrimaryLink);
  const timeout = options.timeout ?? 10_000;
  const { isHeld } = options;
  const watchers = new Set<StoreEvents>();
  const pending = new Map<number, Pending>();
  const recent = new Map<string, StoredMessage>();
  /** Channels this worker told the primary it holds. */
  const holds = new Set<string>();
  let nextId = 1;
  let closed = false;
  let storeStats: StoreStats = { channels: 0, bufferBytes: 0, expired: 0, evicted: 0 };
  /** The other workers' sums, as the primary last sent them. */
  let others: ClusterTotals | undefined;
  let figures: (() => WorkerFigures) | undefined;

  function unavailable(words: string): StoreUnavailableError {
    return new StoreUnavailableError('store_unavailable', `the cluster primary ${words}`);
  }

  function post(message: unknown): boolean {
    if (link.send === undefined || link.connected === false) return false;
    try {
      link.send(message, () => undefined);
      return true;
    } catch {
      return false;
    }
  }

  function call(op: Op, args: unknown[]): Promise<unknown> {
    if (closed) return Promise.reject(new StoreUnavailableError('store_unavailable', 'the store is closed'));
    return new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(unavailable(`did not answer within ${timeout} ms`));
      }, timeout);
      pending.set(id, { resolve, reject, timer });
      if (!post({ hp: 'req', id, op, args })) {
        clearTimeout(timer);
        pending.delete(id);
        reject(unavailable('cannot be reached'));
      }
    });
  }

  function remember(message: StoredMessage): void {
    recent.set(message.token, message);
    if (recent.size > RECENT_LIMIT) {
      for (const token of recent.keys()) {
        recent.delete(token);
        if (recent.size <= RECENT_LIMIT / 2) break;
      }
    }
  }

  function workerOnPrimaryMessage(message: unknown): void {
    if (!isObject(message)) return;
    switch (message.hp) {
      case 'res': {
        const waiting = pending.get(message.id as number);
        if (waiting === undefined) return;
        pending.delete(message.id as number);
        clearTimeout(waiting.timer);
        if (message.ok === true) waiting.resolve(message.value);
        else {
          const error = isObject(message.error) ? message.error : {};
          const text = typeof error.message === 'string' ? error.message : 'the primary failed';
          if (error.code === 'too_many_channels' || error.code === 'store_unavailable') waiting.reject(new StoreUnavailableError(error.code, text));
          else waiting.reject(new Error(text));
        }
        return;
      }
      case 'msg': {
        if (!isObject(message.message)) return;
        const stored = fromWire(message.message as unknown as WireMessage);
        remember(stored);
        for (const watcher of watchers) watcher.message(stored);
        return;
      }
      case 'del':
        if (typeof message.channel !== 'string') return;
        holds.delete(message.channel);
        for (const watcher of watchers) watcher.deleted(message.channel);
        return;
      case 'stats':
        if (isObject(message.store)) storeStats = message.store as unknown as StoreStats;
        if (isObject(message.others)) others = message.others as unknown as ClusterTotals;
        return;
      default:
    }
  }

  function workerOnDisconnect(): void {
    for (const [id, waiting] of pending) {
      clearTimeout(waiting.timer);
      pending.delete(id);
      waiting.reject(unavailable('went away'));
    }
  }

  link.on('message', workerOnPrimaryMessage);
  link.on('disconnect', workerOnDisconnect);

  /** Lets go of holds the core no longer has (a subscriber answered at once never holds). */
  function tick(): void {
    const gone: string[] = [];
    for (const channel of holds) {
      if (!isHeld(channel)) {
        holds.delete(channel);
        gone.push(channel);
      }
    }
    if (gone.length > 0) post({ hp: 'release', channels: gone });
    if (figures !== undefined) {
      post({ hp: 'report', figures: figures() });
    }
  }
  const tickTimer = setInterval(tick, options.reportInterval ?? 500);
  tickTimer.unref();

  async function append(channel: string, input: MessageInput): Promise<StoredMessage> {
    const value = (await call('append', [channel, { data: input.data, contentType: input.contentType, event: input.event }])) as Omit<WireMessage, 'data'>;
    return recent.get(value.token) ?? { ...value, event: value.event ?? undefined, data: input.data };
  }

  async function read(channels: readonly string[], after: string | null, limit: number): Promise<ReadResult> {
    const value = (await call('read', [channels, after, limit])) as Omit<ReadResult, 'messages'> & { messages: WireMessage[] };
    return { ...value, messages: value.messages.map((wire) => recent.get(wire.token) ?? fromWire(wire)) };
  }

  return {
    kind: 'cluster',
    append,
    read,
    head: async () => (await call('head', [])) as string,
    follows(token, position) {
      // Memory-store tokens: `<epoch>-<seq>`, one epoch for the primary's life.
      const at = position.lastIndexOf('-');
      const of = token.lastIndexOf('-');
      if (at < 0 || of < 0 || position.slice(0, at) !== token.slice(0, of)) return true;
      const seq = position.slice(at + 1);
      if (!/^\d{1,15}$/.test(seq)) return true;
      return Number(token.slice(of + 1)) > Number(seq);
    },
    async touch(channels) {
      const ok = (await call('touch', [channels])) as boolean;
      if (ok) for (const channel of channels) holds.add(channel);
      return ok;
    },
    info: async (channel) => (await call('info', [channel])) as ChannelInfo | null,
    delete: async (channel) => (await call('delete', [channel])) as boolean,
    released(channel) {
      if (!holds.has(channel) || isHeld(channel)) return;
      holds.delete(channel);
      post({ hp: 'release', channels: [channel] });
    },
    watch(events) {
      watchers.add(events);
      return () => {
        watchers.delete(events);
      };
    },
    stats: () => storeStats,
    report(source) {
      figures = source;
    },
    totals() {
      if (others === undefined) return undefined;
      const mine = figures?.() ?? NO_FIGURES;
      return {
        workers: others.workers + 1,
        held: {
          longpoll: others.held.longpoll + mine.held.longpoll,
          stream: others.held.stream + mine.held.stream,
          total: others.held.total + mine.held.total,
        },
        published: others.published + mine.published,
        delivered: others.delivered + mine.delivered,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(tickTimer);
      if (holds.size > 0) post({ hp: 'release', channels: [...holds] });
      holds.clear();
      link.removeListener('message', workerOnPrimaryMessage);
      link.removeListener('disconnect', workerOnDisconnect);
      workerOnDisconnect();
      watchers.clear();
    },
  };
}
