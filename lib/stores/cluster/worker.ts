/**
 * A cluster worker's store: forwards calls to the primary's sequencer and hears its messages and
 * deletions; a re-poll within the messages heard lately is answered here, with no call.
 */
import { isClaim } from '../../idempotency/ledger';
import type { LocalCounts } from '../../presence/local-counts';
import type { SharedCounts } from '../../presence/shared';
import type { WebhookFigures } from '../../webhooks/outbox';
import { type DeploymentFigures, type DeploymentTotals, NO_FIGURES, type ProcessFigures, sumFigures } from '../figures';
import { followsPosition, parseMemoryToken } from '../memory/tokens';
import { RecentMessages } from '../recent';
import { RecentCache } from '../recent-cache';
import { type AppendResult, type MessageInput, type MessageStore, type StoreStats, unavailable } from '../store';
import { RecentTouches } from '../touches';
import { Watchers } from '../watchers';
import { Calls } from './calls';
import { type Call, type Dropped, type WireMessage, type WorkerMessage, fromWire, isAppendedInfo, isAppendedList, isBoolean, isChannelInfo, isPrimaryMessage, isString, isWireRead } from './protocol';

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
  /** The primary's buffer (messages per channel): the most this worker keeps of a channel. */
  buffer: number;
  /** The primary's message TTL in seconds: this worker trusts a message it heard for half of it. */
  messageTtl: number;
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
  /** The primary's `maxBufferBytes`, when it keeps one: this store's `bufferBudget`. */
  bufferBudget?: number;
  /**
   * Bytes this worker may keep of recent messages (bodies plus 256 each) to answer re-polls
   * without a call to the primary; at most `bufferBudget`. @defaultValue 33554432 (32 MiB)
   */
  recentBytes?: number;
}

export interface ClusterStore extends MessageStore {
  readonly kind: 'cluster';
  appendWithInfo(channel: string, input: MessageInput): Promise<AppendResult>;
  /**
   * Figures of the whole cluster: the other workers' last reports (at most `reportInterval` old)
   * plus this worker's own, fresh.
   */
  readonly deployment: DeploymentFigures;
  /** Subscribers of the other workers, as the primary last relayed them (at most `reportInterval` old, plus the IPC hop). */
  readonly counts: SharedCounts;
}

/**
 * Recently heard messages kept to hand back from `append` the object the watchers saw: twice
 * the largest batch, so a batch is still whole when its answer comes (trimming keeps half).
 */
const RECENT_LIMIT = 2048;

/**
 * Milliseconds a touch of a channel this worker holds spares the next ones: the primary keeps a
 * held channel whatever its age, so a skipped touch only leaves its last request time (`info`)
 * late by this much at most.
 */
const TOUCH_WINDOW = 1000;

/**
 * The worker's half of the protocol (protocol.ts): calls go out, messages, deletions and figures
 * come in. The factory is the store's methods over that shared state, so it is longer than most.
 */
export function createClusterStore(options: ClusterStoreOptions): ClusterStore {
  const link: PrimaryLink = options.link ?? process;
  const timeout = options.timeout ?? 10_000;
  const { isHeld } = options;
  const watchers = new Watchers();
  const recent = new RecentMessages<string>(RECENT_LIMIT);
  const { buffer, messageTtl } = options;
  if (!Number.isInteger(buffer) || buffer < 1) throw new TypeError('buffer must be a positive integer');
  if (!(messageTtl > 0)) throw new TypeError('messageTtl must be positive');
  const recentBytes = Math.min(options.recentBytes ?? 32 * 1024 * 1024, options.bufferBudget ?? Infinity);
  if (!(recentBytes >= 0)) throw new TypeError('recentBytes must be a number of bytes, 0 or more');
  // The primary tells every worker each message in sequence order (one counter, one ordered IPC channel).
  const cache = new RecentCache({ perChannel: buffer, bytes: recentBytes, trustMs: (messageTtl * 1000) / 2, parse: parseMemoryToken });
  const touches = new RecentTouches(TOUCH_WINDOW);
  /** Channels this worker told the primary it holds. */
  const holds = new Set<string>();
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

  const calls = new Calls(post, timeout);

  function call<T>(request: Call, check: (value: unknown) => value is T): Promise<T> {
    return closed ? Promise.reject(unavailable('the store', 'is closed')) : calls.call(request, check);
  }

  function workerOnPrimaryMessage(message: unknown): void {
    if (!isPrimaryMessage(message)) return;
    switch (message.hp) {
      case 'res':
        calls.answer(message);
        return;
      case 'msg':
        hear([message.message], message.dropped);
        return;
      case 'msgs':
        hear(message.messages, message.dropped);
        return;
      case 'del':
        // Before the answer to a deletion of this worker's own: the IPC channel keeps their order.
        holds.delete(message.channel);
        cache.deleted(message.channel);
        touches.forget(message.channel);
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

  /**
   * The cache holds every message before any subscriber hears of it, and lets go of what the
   * primary's byte budget dropped for them (of the same batch, too) before any re-poll may read it.
   */
  function hear(wires: readonly WireMessage[], dropped: Dropped | undefined): void {
    const messages = wires.map(fromWire);
    for (const message of messages) {
      recent.set(message.token, message);
      cache.heard(message);
    }
    if (dropped !== undefined) for (const [channel, seq] of dropped) cache.dropped(channel, seq);
    for (const message of messages) watchers.message(message);
  }

  function workerOnDisconnect(): void {
    // What the primary says from now on is not heard: nothing cached stands.
    cache.reset();
    touches.clear();
    calls.failAll();
  }

  link.on('message', workerOnPrimaryMessage);
  link.on('disconnect', workerOnDisconnect);

  /** Lets go of holds the core no longer has (a subscriber answered at once never holds). */
  function tick(): void {
    const gone: string[] = [];
    for (const channel of holds) {
      if (!isHeld(channel)) {
        holds.delete(channel);
        touches.forget(channel);
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

  /** The primary answers every append with the channel's info: one IPC round trip for a publish's answer. */
  async function appendWithInfo(channel: string, input: MessageInput): Promise<AppendResult> {
    const { message, info } = await call({ op: 'append', args: [channel, { data: input.data, contentType: input.contentType, event: input.event }] }, isAppendedInfo);
    return { message: recent.get(message.token) ?? { ...message, data: input.data }, info };
  }

  return {
    kind: 'cluster',
    bufferBudget: options.bufferBudget,
    append: async (channel, input) => (await appendWithInfo(channel, input)).message,
    appendWithInfo,
    async appendMany(inputs) {
      const wire = inputs.map((input) => ({ channel: input.channel, data: input.data, contentType: input.contentType, event: input.event }));
      const values = await call({ op: 'appendMany', args: [wire] }, isAppendedList);
      return values.map((value, i) => recent.get(value.token) ?? { ...value, data: (inputs[i] as (typeof inputs)[number]).data });
    },
    idempotency: {
      claim: (key, fingerprint, ttlMs) => call({ op: 'claim', args: [key, fingerprint, ttlMs] }, isClaim),
      async settle(key, ticket, answer, ttlMs) {
        await call({ op: 'settle', args: [key, ticket, answer, ttlMs] }, isBoolean);
      },
    },
    async read(channels, after, limit) {
      if (closed) throw unavailable('the store', 'is closed');
      const cached = limit >= 1 ? cache.read(channels, after, limit) : undefined;
      if (cached !== undefined) return cached;
      const value = await call({ op: 'read', args: [[...channels], after, limit] }, isWireRead);
      return { ...value, messages: value.messages.map((wire) => recent.get(wire.token) ?? fromWire(wire)) };
    },
    head: () => call({ op: 'head', args: [] }, isString),
    follows: followsPosition,
    async touch(channels) {
      // Only a channel the primary counts as held by this worker may skip its touch.
      for (const channel of channels) if (!holds.has(channel)) touches.forget(channel);
      const ok = await touches.touch(channels, () => call({ op: 'touch', args: [[...channels]] }, isBoolean));
      if (ok) for (const channel of channels) holds.add(channel);
      return ok;
    },
    info: (channel) => call({ op: 'info', args: [channel] }, isChannelInfo),
    delete: (channel) => call({ op: 'delete', args: [channel] }, isBoolean),
    // The next tick lets go of it: a fan-out answers every hold of a channel at once, and its
    // subscribers come back at once; let go now, each of their touches would go to the primary.
    released: () => undefined,
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
