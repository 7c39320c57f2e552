/** A cluster worker's store: forwards every call to the primary's sequencer and hears its messages and deletions. */
import type { LocalCounts } from '../../presence/local-counts';
import type { SharedCounts } from '../../presence/shared';
import type { WebhookFigures } from '../../webhooks/outbox';
import { type DeploymentFigures, type DeploymentTotals, NO_FIGURES, type ProcessFigures, sumFigures } from '../figures';
import { followsPosition } from '../memory/tokens';
import { RecentMessages } from '../recent';
import { type MessageStore, type StoreStats, StoreUnavailableError, unavailable } from '../store';
import { Watchers } from '../watchers';
import { type Call, type PrimaryMessage, type WorkerMessage, fromWire, isAppended, isBoolean, isChannelInfo, isPrimaryMessage, isString, isWireRead } from './protocol';

/** The side of the IPC channel a worker sees (`process` in a cluster worker). */
export interface PrimaryLink {
  readonly connected?: boolean;
  send?(message: unknown, callback?: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  removeListener(event: 'message', listener: (message: unknown) => void): unknown;
  removeListener(event: 'disconnect', listener: () => void): unknown;
}

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
  /**
   * Figures of the whole cluster: the other workers' last reports (at most `reportInterval` old)
   * plus this worker's own, fresh.
   */
  readonly deployment: DeploymentFigures;
  /** Subscribers of the other workers, as the primary last relayed them (at most `reportInterval` old, plus the IPC hop). */
  readonly counts: SharedCounts;
}

interface Pending {
  settle(value: unknown): void;
  reject(error: Error): void;
  readonly timer: NodeJS.Timeout;
}

/** Recently heard messages kept to hand back from `append` the object the watchers saw. */
const RECENT_LIMIT = 1024;

export function createClusterStore(options: ClusterStoreOptions): ClusterStore {
  const link: PrimaryLink = options.link ?? process;
  const timeout = options.timeout ?? 10_000;
  const { isHeld } = options;
  const watchers = new Watchers();
  const pending = new Map<number, Pending>();
  const recent = new RecentMessages<string>(RECENT_LIMIT);
  /** Channels this worker told the primary it holds. */
  const holds = new Set<string>();
  let nextId = 1;
  let closed = false;
  let storeStats: StoreStats = { channels: 0, bufferBytes: 0, expired: 0, evicted: 0 };
  /** The other workers' sums, as the primary last sent them. */
  let otherFigures: DeploymentTotals | undefined;
  let figures: (() => ProcessFigures) | undefined;
  let local: LocalCounts | undefined;
  /** The webhook's figures, as the primary (which sends them) last told. */
  let webhook: WebhookFigures | undefined;
  /** Subscribers per channel in the other workers. */
  const others = new Map<string, number>();

  function post(message: WorkerMessage): boolean {
    if (link.send === undefined || link.connected === false) return false;
    try {
      link.send(message, () => undefined);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends a call; resolves with its answer once `check` accepts that, else rejects. */
  function call<T>(request: Call, check: (value: unknown) => value is T): Promise<T> {
    if (closed) return Promise.reject(unavailable('the store', 'is closed'));
    return new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(unavailable('the cluster primary', `did not answer within ${timeout} ms`));
      }, timeout);
      const settle = (value: unknown): void => {
        if (check(value)) resolve(value);
        else reject(new Error(`the cluster primary's answer to ${request.op} is malformed`));
      };
      pending.set(id, { settle, reject, timer });
      if (!post({ hp: 'req', id, ...request })) {
        clearTimeout(timer);
        pending.delete(id);
        reject(unavailable('the cluster primary', 'cannot be reached'));
      }
    });
  }

  function answer(message: Extract<PrimaryMessage, { hp: 'res' }>): void {
    const waiting = pending.get(message.id);
    if (waiting === undefined) return;
    pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.ok) {
      waiting.settle(message.value);
      return;
    }
    const { code, message: text } = message.error;
    if (code === 'too_many_channels' || code === 'store_unavailable') waiting.reject(new StoreUnavailableError(code, text));
    else waiting.reject(new Error(text));
  }

  function workerOnPrimaryMessage(message: unknown): void {
    if (!isPrimaryMessage(message)) return;
    switch (message.hp) {
      case 'res':
        answer(message);
        return;
      case 'msg': {
        const stored = fromWire(message.message);
        recent.set(stored.token, stored);
        watchers.message(stored);
        return;
      }
      case 'del':
        holds.delete(message.channel);
        watchers.deleted(message.channel);
        return;
      case 'stats':
        storeStats = message.store;
        otherFigures = message.others;
        webhook = message.webhook;
        return;
      case 'others':
        for (const [channel, count] of message.counts) {
          if (count > 0) others.set(channel, count);
          else others.delete(channel);
        }
    }
  }

  function workerOnDisconnect(): void {
    for (const [id, waiting] of pending) {
      clearTimeout(waiting.timer);
      pending.delete(id);
      waiting.reject(unavailable('the cluster primary', 'went away'));
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
    if (figures !== undefined) post({ hp: 'report', figures: figures() });
    const changed = local?.take();
    if (changed !== undefined && changed.size > 0) post({ hp: 'counts', counts: [...changed] });
  }
  const tickTimer = setInterval(tick, options.reportInterval ?? 500);
  tickTimer.unref();

  return {
    kind: 'cluster',
    async append(channel, input) {
      const value = await call({ op: 'append', args: [channel, { data: input.data, contentType: input.contentType, event: input.event }] }, isAppended);
      return recent.get(value.token) ?? { ...value, data: input.data };
    },
    async read(channels, after, limit) {
      const value = await call({ op: 'read', args: [[...channels], after, limit] }, isWireRead);
      return { ...value, messages: value.messages.map((wire) => recent.get(wire.token) ?? fromWire(wire)) };
    },
    head: () => call({ op: 'head', args: [] }, isString),
    follows: followsPosition,
    async touch(channels) {
      const ok = await call({ op: 'touch', args: [[...channels]] }, isBoolean);
      if (ok) for (const channel of channels) holds.add(channel);
      return ok;
    },
    info: (channel) => call({ op: 'info', args: [channel] }, isChannelInfo),
    delete: (channel) => call({ op: 'delete', args: [channel] }, isBoolean),
    released(channel) {
      if (!holds.has(channel) || isHeld(channel)) return;
      holds.delete(channel);
      post({ hp: 'release', channels: [channel] });
    },
    watch: (events) => watchers.add(events),
    stats: () => storeStats,
    deployment: {
      report(source) {
        figures = source;
      },
      totals: () => (otherFigures === undefined ? undefined : sumFigures([otherFigures, figures?.() ?? NO_FIGURES])),
    },
    counts: {
      source(counts) {
        local = counts;
        counts.start();
      },
      others: (channel) => others.get(channel) ?? 0,
      channels: () => others.keys(),
      webhook: () => webhook,
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(tickTimer);
      if (holds.size > 0) post({ hp: 'release', channels: [...holds] });
      // The holds were answered before the store closes: the primary hears they are gone.
      const gone = local?.take();
      if (gone !== undefined && gone.size > 0) post({ hp: 'counts', counts: [...gone] });
      holds.clear();
      link.removeListener('message', workerOnPrimaryMessage);
      link.removeListener('disconnect', workerOnDisconnect);
      workerOnDisconnect();
      watchers.clear();
    },
  };
}
