/** The Redis store: every holdpush server on one Redis serves the same channels. */
import { randomBytes } from 'node:crypto';
import type { ChannelInfo, MessageInput, MessageStore, ReadResult, StoreStats, StoredMessage } from '../store';
import { StoreUnavailableError } from '../store';
import { Watchers } from '../watchers';
import { type RedisClientLike, loadRedis } from './client';
import { decodeAppend, decodeEvent, decodeHead, decodeInfo, decodeRead, decodeStats, follows, makeMessage, newEpochCandidate, num, positionArgs, seqOfId } from './codec';
import { RedisConnection } from './connection';
import { EventOrder } from './order';
import { type RedisPresence, createRedisPresence } from './presence';
import { Resync } from './resync';
import { SCRIPTS } from './scripts';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port/db`; ignored when `client` is given. @defaultValue `redis://127.0.0.1:6379` */
  url?: string;
  /** A connected node-redis client owned by the embedder (never closed by the store). */
  client?: RedisClientLike;
  /** Messages kept per channel. */
  buffer: number;
  /** Seconds a message is kept. */
  messageTtl: number;
  /** Channels alive at once on this Redis; creating one more fails. */
  maxChannels: number;
  /** Whether a subscriber of this process holds the channel now. */
  isHeld(channel: string): boolean;
  /** Prefix of every key and of the pub/sub channel. @defaultValue `holdpush:` */
  keyPrefix?: string;
  /** Milliseconds a Redis command may take before it fails with `store_unavailable`. @defaultValue 2000 */
  commandTimeout?: number;
  /** Milliseconds an empty channel stays alive after its last subscriber request. @defaultValue 30000 */
  channelGrace?: number;
}

export interface RedisStore extends MessageStore {
  readonly kind: 'redis';
  /** Figures and subscriber counts of every server on this Redis (presence.ts). */
  readonly deployment: RedisPresence['deployment'];
  readonly counts: RedisPresence['counts'];
  /** Resolves once both connections are up and the event stream is subscribed. */
  ready(): Promise<void>;
}

/**
 * Every append, read and sweep is one Lua script (see scripts.ts); every server hears each
 * message and deletion on one pub/sub channel, and tells its watchers in sequence order
 * (order.ts), catching up after its event connection comes back (resync.ts).
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const { buffer, maxChannels, isHeld } = options;
  if (!Number.isInteger(buffer) || buffer < 1) throw new TypeError('buffer must be a positive integer');
  if (!(options.messageTtl > 0)) throw new TypeError('messageTtl must be positive');
  const prefix = options.keyPrefix ?? 'holdpush:';
  const ttlMs = Math.max(1, Math.round(options.messageTtl * 1000));
  const grace = options.channelGrace ?? 30000;
  /** Tells this server's own deletions from the others' on the event stream. */
  const origin = randomBytes(8).toString('hex');
  const connection = new RedisConnection(loadRedis(), {
    url: options.url ?? 'redis://127.0.0.1:6379',
    client: options.client,
    commandTimeout: options.commandTimeout ?? 2000,
    prefix,
  });
  const run = connection.run.bind(connection);
  const presence = createRedisPresence({ run, ready: () => connection.client.isReady });
  const watchers = new Watchers();
  const order = new EventOrder(watchers);
  /** Channels a subscriber of this process asked for (kept alive in Redis while held). */
  const known = new Set<string>();
  let closed = false;
  let subscribed = false;
  let lastStats: StoreStats = { channels: 0, bufferBytes: 0, expired: 0, evicted: 0 };

  async function head(): Promise<{ epoch: string; seq: number; token: string }> {
    return decodeHead(await run(SCRIPTS.head, [newEpochCandidate()]));
  }

  async function read(channels: readonly string[], after: string | null, limit: number): Promise<ReadResult> {
    return decodeRead(await run(SCRIPTS.read, [newEpochCandidate(), ...positionArgs(after), String(Math.max(1, limit)), String(ttlMs), ...channels]));
  }

  const resync = new Resync(order, {
    head,
    held: () => [...known].filter((name) => isHeld(name)),
    read,
    connected: () => connection.subscriber.isReady,
  });

  function onEvent(payload: Buffer): void {
    const event = decodeEvent(payload);
    if (event === null) return;
    if (event.type === 'message') order.offer(event.epoch, event.seq, event.message);
    else if (event.origin !== origin) watchers.deleted(event.channel);
  }

  const { subscriber } = connection;
  const subscriberDown = (): void => resync.down();
  subscriber.on('end', subscriberDown);
  subscriber.on('reconnecting', subscriberDown);
  subscriber.on('ready', () => {
    if (subscribed) void resync.run();
  });

  const started = (async () => {
    await connection.connect(`${prefix}events`, onEvent);
    subscribed = true;
    await resync.run();
  })();
  started.catch(() => undefined);

  async function append(channel: string, input: MessageInput): Promise<StoredMessage> {
    const args = [newEpochCandidate(), channel, String(buffer), String(ttlMs), String(maxChannels), input.contentType, input.event ?? '', input.data];
    const appended = decodeAppend(await run(SCRIPTS.append, args));
    if (appended === null) throw new StoreUnavailableError('too_many_channels', `at most ${maxChannels} channels may be alive at once`);
    const message = makeMessage(channel, appended.epoch, appended.id, input.contentType, input.event, input.data);
    // Watchers may have heard it from the event stream first: hand back the object they saw.
    return order.appended(appended.epoch, seqOfId(appended.id), message);
  }

  async function info(channel: string): Promise<ChannelInfo | null> {
    return decodeInfo(await run(SCRIPTS.info, [newEpochCandidate(), String(ttlMs), channel]));
  }

  /** Forgets channels dead in Redis and fetches the figures of /stats. */
  async function sweep(): Promise<void> {
    if (!connection.client.isReady) return;
    try {
      lastStats = decodeStats(await run(SCRIPTS.sweep, [newEpochCandidate(), String(ttlMs), '100']));
    } catch {
      // Redis is down: keep the figures we last knew.
    }
  }

  /** Keeps the channels held here alive in Redis. */
  async function refresh(): Promise<void> {
    if (!connection.client.isReady) return;
    const held: string[] = [];
    for (const name of known) {
      if (isHeld(name)) held.push(name);
      else known.delete(name);
    }
    try {
      for (let i = 0; i < held.length; i += 500) await run(SCRIPTS.refresh, [String(grace), ...held.slice(i, i + 500)]);
    } catch {
      // Tried again at the next tick.
    }
  }

  const statsTimer = setInterval(() => void sweep(), 1000);
  statsTimer.unref();
  const refreshTimer = setInterval(() => void refresh(), Math.max(100, Math.floor(grace / 3)));
  refreshTimer.unref();

  return {
    kind: 'redis',
    append,
    read,
    head: async () => (await head()).token,
    follows,
    async touch(channels) {
      const reply = await run(SCRIPTS.touch, [newEpochCandidate(), String(grace), String(maxChannels), ...channels]);
      if (num(reply) !== 1) return false;
      for (const name of channels) known.add(name);
      return true;
    },
    info,
    async delete(channel) {
      const reply = await run(SCRIPTS.delete, [channel, origin]);
      if (num(reply) !== 1) return false;
      known.delete(channel);
      watchers.deleted(channel);
      return true;
    },
    released(channel) {
      if (!isHeld(channel)) known.delete(channel);
    },
    watch: (events) => watchers.add(events),
    stats: () => lastStats,
    deployment: presence.deployment,
    counts: presence.counts,
    async ready() {
      await connection.withTimeout(started);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(statsTimer);
      clearInterval(refreshTimer);
      await presence.close();
      order.close();
      watchers.clear();
      await connection.close();
    },
  };
}
