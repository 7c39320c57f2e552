/** The Redis store: every holdpush server on one Redis serves the same channels. */
import { randomBytes } from 'node:crypto';
import { RecentCache } from '../recent-cache';
import { type AppendResult, type BatchInput, type ChannelInfo, type MessageInput, type MessageStore, type ReadResult, type StoreLimits, tooManyChannels, unavailable } from '../store';
import { RecentTouches } from '../touches';
import { Watchers } from '../watchers';
import { appendManyArgs, decodeAppendMany, decodeBatchEvent } from './batch';
import { type RedisClientLike, loadRedis } from './client';
import { createCoalescer } from './coalesce';
import { decodeEvent, decodeHead, decodeInfo, decodeRead, follows, makeMessage, newEpochCandidate, num, parseToken, positionArgs, seqOfId } from './codec';
import { RedisConnection } from './connection';
import { RedisFullError } from './full';
import { createRedisLedger } from './idempotency';
import { EventOrder } from './order';
import { type RedisPresence, createRedisPresence } from './presence';
import { Resync } from './resync';
import { SCRIPTS } from './scripts';
import { Upkeep } from './upkeep';

/** The limits cover the whole Redis: `maxChannels` counts the channels of every server on it. */
export interface RedisStoreOptions extends StoreLimits {
  /** `redis://[user:password@]host:port/db`; ignored when `client` is given. @defaultValue `redis://127.0.0.1:6379` */
  url?: string;
  /** A connected node-redis client owned by the embedder (never closed by the store). */
  client?: RedisClientLike;
  /** Prefix of every key and of the pub/sub channel. @defaultValue `holdpush:` */
  keyPrefix?: string;
  /** Milliseconds a Redis command may take before it fails with `store_unavailable`. @defaultValue 2000 */
  commandTimeout?: number;
  /** Milliseconds an empty channel stays alive after its last subscriber request. @defaultValue 30000 */
  channelGrace?: number;
  /**
   * Bytes this server may keep of recent messages (bodies plus 256 each) to answer re-polls
   * without a Redis read; each channel keeps at most `buffer` of them. @defaultValue 33554432 (32 MiB)
   */
  recentBytes?: number;
}

export interface RedisStore extends MessageStore {
  readonly kind: 'redis';
  appendWithInfo(channel: string, input: MessageInput): Promise<AppendResult>;
  /** Figures and subscriber counts of every server on this Redis (presence.ts). */
  readonly deployment: RedisPresence['deployment'];
  readonly counts: RedisPresence['counts'];
  /** Resolves once both connections are up and the event stream is subscribed. */
  ready(): Promise<void>;
}

/**
 * Every append, read and sweep is one Lua script (see scripts.ts); every server hears each
 * message and deletion on one pub/sub channel, and tells its watchers in sequence order
 * (order.ts), catching up after its event connection comes back (resync.ts). The factory is
 * the store's methods over that shared state, so it is longer than most functions.
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const { buffer, maxChannels, isHeld } = options;
  if (!Number.isInteger(buffer) || buffer < 1) throw new TypeError('buffer must be a positive integer');
  if (!(options.messageTtl > 0)) throw new TypeError('messageTtl must be positive');
  const prefix = options.keyPrefix ?? 'holdpush:';
  const ttlMs = Math.max(1, Math.round(options.messageTtl * 1000));
  const grace = options.channelGrace ?? 30000;
  const recentBytes = options.recentBytes ?? 32 * 1024 * 1024;
  if (!(recentBytes >= 0)) throw new TypeError('recentBytes must be a number of bytes, 0 or more');
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
  // Registered first: the cache holds every message before any subscriber hears of it.
  const cache = new RecentCache({ perChannel: buffer, bytes: recentBytes, trustMs: ttlMs / 2, parse: parseToken });
  watchers.add({ message: (message) => cache.heard(message), deleted: () => undefined });
  const touches = new RecentTouches(Math.min(1000, grace / 4));
  /** Channels a subscriber of this process asked for (kept alive in Redis while held). */
  const known = new Set<string>();
  let closed = false;
  let subscribed = false;

  async function head(): Promise<{ epoch: string; seq: number; token: string }> {
    return decodeHead(await run(SCRIPTS.head, [newEpochCandidate()]));
  }

  async function readRedis(channels: readonly string[], after: string | null, limit: number): Promise<ReadResult> {
    return decodeRead(await run(SCRIPTS.read, [newEpochCandidate(), ...positionArgs(after), String(Math.max(1, limit)), String(ttlMs), ...channels]));
  }

  async function read(channels: readonly string[], after: string | null, limit: number): Promise<ReadResult> {
    if (closed) throw unavailable('the store', 'is closed');
    return cache.read(channels, after, Math.max(1, limit)) ?? readRedis(channels, after, limit);
  }

  const resync = new Resync(order, {
    head,
    held: () => [...known].filter((name) => isHeld(name)),
    read: readRedis,
    connected: () => connection.subscriber.isReady,
  });

  function onEvent(payload: Buffer): void {
    const event = decodeEvent(payload) ?? decodeBatchEvent(payload);
    if (event === null) return;
    if (event.type === 'batch') {
      for (const { seq, message, dropped } of event.messages) {
        // Before the message is told: what its append dropped (another server's buffer may be shorter) is not served after it.
        cache.dropped(message.channel, dropped);
        order.offer(event.epoch, seq, message);
      }
      return;
    }
    if (event.type === 'message') {
      cache.dropped(event.message.channel, event.dropped);
      order.offer(event.epoch, event.seq, event.message);
      return;
    }
    // Every deletion, this server's too: it comes after every message published before it.
    cache.deleted(event.channel);
    touches.forget(event.channel);
    if (event.origin !== origin) watchers.deleted(event.channel);
  }

  function storeOnSubscriberDown(): void {
    // What is published while the event stream is away is not heard: nothing cached stands.
    cache.reset();
    touches.clear();
    resync.down();
  }
  function storeOnSubscriberReady(): void {
    if (subscribed) void resync.run();
  }
  connection.subscriber.on('end', storeOnSubscriberDown);
  connection.subscriber.on('reconnecting', storeOnSubscriberDown);
  connection.subscriber.on('ready', storeOnSubscriberReady);

  const started = (async () => {
    await connection.connect(`${prefix}events`, onEvent);
    subscribed = true;
    await resync.run();
  })();
  started.catch(() => undefined);

  /** One script for a batch: every message with its channel's info after it (for the publishers' answers). */
  async function appendBatch(inputs: readonly BatchInput[]): Promise<AppendResult[]> {
    const appended = decodeAppendMany(await run(SCRIPTS.appendMany, appendManyArgs(newEpochCandidate(), buffer, ttlMs, maxChannels, inputs)));
    if (appended === null) throw tooManyChannels(maxChannels);
    const { epoch, ids, infos } = appended;
    if (ids.length !== inputs.length) throw new Error(`redis answered a batch of ${inputs.length} with ${ids.length} ids`);
    return Promise.all(
      inputs.map(async (input, i) => {
        const id = ids[i] as string;
        // Watchers may have heard it from the event stream first: hand back the object they saw.
        const message = await order.appended(epoch, seqOfId(id), makeMessage(input.channel, epoch, id, input.contentType, input.event, input.data));
        return { message, info: infos[i] as ChannelInfo };
      }),
    );
  }

  // One-message publishes of a channel that meet on their way to Redis go as one batch (coalesce.ts).
  const coalescer = createCoalescer((channel, inputs) => appendBatch(inputs.map((input) => ({ ...input, channel }))));
  const appendWithInfo = (channel: string, input: MessageInput): Promise<AppendResult> => coalescer.append(channel, input);

  async function info(channel: string): Promise<ChannelInfo | null> {
    return decodeInfo(await run(SCRIPTS.info, [newEpochCandidate(), String(ttlMs), channel]));
  }

  async function touchRedis(channels: readonly string[]): Promise<boolean> {
    let reply: unknown;
    try {
      reply = await run(SCRIPTS.touch, [newEpochCandidate(), String(grace), String(maxChannels), ...channels]);
    } catch (error) {
      // Bookkeeping only: a full Redis still serves what it holds (docs/protocol.md, "Memory").
      if (!(error instanceof RedisFullError)) throw error;
      reply = 1;
    }
    return num(reply) === 1;
  }

  const upkeep = new Upkeep({ run, ready: () => connection.client.isReady, known, isHeld, ttlMs, grace });

  return {
    kind: 'redis',
    append: async (channel, input) => (await appendWithInfo(channel, input)).message,
    appendWithInfo,
    appendMany: async (inputs) => (await appendBatch(inputs)).map((appended) => appended.message),
    idempotency: createRedisLedger(run),
    read,
    head: async () => (await head()).token,
    follows,
    async touch(channels) {
      if (!(await touches.touch(channels, () => touchRedis(channels)))) return false;
      // A touch skipped still counts: the channel is kept alive (upkeep) and caught up (resync) while held.
      for (const name of channels) known.add(name);
      return true;
    },
    info,
    async delete(channel) {
      // Until Redis's event of the deletion comes, messages of the channel still on their way are not cached.
      cache.deleting(channel);
      touches.forget(channel);
      const reply = await run(SCRIPTS.delete, [channel, origin]);
      if (num(reply) !== 1) {
        cache.deleted(channel);
        return false;
      }
      known.delete(channel);
      watchers.deleted(channel);
      return true;
    },
    released(channel) {
      if (!isHeld(channel)) known.delete(channel);
    },
    watch: (events) => watchers.add(events),
    stats: () => upkeep.stats,
    deployment: presence.deployment,
    counts: presence.counts,
    async ready() {
      await connection.withTimeout(started);
    },
    async close() {
      if (closed) return;
      closed = true;
      upkeep.stop();
      await presence.close();
      order.close();
      watchers.clear();
      cache.reset();
      touches.clear();
      await connection.close();
    },
  };
}
