import { createHash, randomBytes } from 'node:crypto';
import {
  type ChannelInfo,
  type MessageInput,
  type MessageStore,
  type ReadResult,
  type StoreEvents,
  type StoreStats,
  type StoredMessage,
  StoreUnavailableError,
  messageId,
} from '../store';

/**
 * The Redis store: every holdpush server on one Redis serves the same channels.
 *
 * Layout (all keys start with `keyPrefix`, default `holdpush:`):
 * - `state` (hash): `epoch` (made once per Redis dataset), `seq` (one sequence for the whole
 *   Redis), `ms` (Redis clock of the last message), `forgotten`, `expired`, `evicted`, `bytes`.
 * - `s:<channel>` (stream): one entry per held message, ID `<ms>-<seq>`, fields `d` (bytes),
 *   `c` (content type) and `e` (event name, when any). Trimmed to `buffer` and `messageTtl`.
 * - `m:<channel>` (hash): `created` (seq when made), `gone` (highest seq dropped), `req`
 *   (last subscriber request, ms), `bytes`.
 * - `channels` (sorted set): channel -> Unix ms until which it is alive.
 * - `events` (pub/sub): one message per publish and per delete, read by every server.
 *
 * A cursor token is `<epoch>-<ms>-<seq>`: the stream ID behind the epoch. Sequence numbers come
 * from one counter, so tokens are ordered across channels and servers; a token of another epoch
 * (Redis was wiped) or past the counter was never issued and reads as a gap.
 */

/** The parts of a node-redis (v4 or v5) client this store uses. */
export interface RedisClientLike {
  readonly isReady: boolean;
  sendCommand(args: (string | Buffer)[], options?: unknown): Promise<unknown>;
  duplicate(): RedisClientLike;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: Buffer, channel: Buffer) => void, bufferMode: true): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener?(event: string, listener: (...args: unknown[]) => void): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
  disconnect?(): unknown;
}

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
  /** Resolves once both connections are up and the event stream is subscribed. */
  ready(): Promise<void>;
}

interface RedisModule {
  createClient(options: unknown): RedisClientLike;
  RESP_TYPES?: { BLOB_STRING: number };
  commandOptions?: (options: { returnBuffers: boolean }) => unknown;
}

/** Loads the optional `redis` package; throws a clear error when it is not installed. */
export function loadRedis(): RedisModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('redis') as RedisModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new Error('--redis needs the redis package: run `npm install redis` (node-redis 4.6 or later)');
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Lua. Every script gets the key prefix as ARGV[1]; per-channel keys are built from it, so the
// store needs a single Redis (or one cluster slot via a `{tag}` prefix), not Redis Cluster.

const LUA_COMMON = `
if redis.replicate_commands then redis.replicate_commands() end
local P = ARGV[1]
local SK = P .. 'state'
local ZK = P .. 'channels'
local function fmt(n) return string.format('%.0f', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function state(candidate)
  local s = redis.call('HMGET', SK, 'epoch', 'seq', 'ms')
  if not s[1] then
    redis.call('HSET', SK, 'epoch', candidate, 'seq', 0, 'ms', 0, 'forgotten', 0, 'expired', 0, 'evicted', 0, 'bytes', 0)
    return candidate, 0, 0
  end
  return s[1], tonumber(s[2]), tonumber(s[3])
end
local function seq_of(id) return tonumber(string.match(id, '%-(%d+)$')) end
local function data_len(entry)
  local f = entry[2]
  for i = 1, #f, 2 do if f[i] == 'd' then return #f[i + 1] end end
  return 0
end
local function drop(ch, entries, counter)
  if #entries == 0 then return end
  local sk, mk = P .. 's:' .. ch, P .. 'm:' .. ch
  local bytes = 0
  for i = 1, #entries do bytes = bytes + data_len(entries[i]) end
  local last = entries[#entries][1]
  local ms, seq = string.match(last, '^(%d+)%-(%d+)$')
  redis.call('XTRIM', sk, 'MINID', ms .. '-' .. fmt(tonumber(seq) + 1))
  local gone = tonumber(redis.call('HGET', mk, 'gone') or 0)
  if tonumber(seq) > gone then redis.call('HSET', mk, 'gone', seq) end
  redis.call('HINCRBY', mk, 'bytes', -bytes)
  redis.call('HINCRBY', SK, 'bytes', -bytes)
  redis.call('HINCRBY', SK, counter, #entries)
end
local function expire(ch, now, ttl)
  local cutoff = now - ttl
  if cutoff < 0 then return end
  drop(ch, redis.call('XRANGE', P .. 's:' .. ch, '-', fmt(cutoff)), 'expired')
end
`;

/** ARGV: prefix, epoch candidate, channel, buffer, ttl ms, max channels, type, event, data, origin. */
const LUA_APPEND = `${LUA_COMMON}
local now = now_ms()
local epoch, seq, ms = state(ARGV[2])
local ch = ARGV[3]
local buffer, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local sk, mk = P .. 's:' .. ch, P .. 'm:' .. ch
local score = redis.call('ZSCORE', ZK, ch)
if (not score or tonumber(score) <= now) and redis.call('EXISTS', mk) == 0 then
  if redis.call('ZCOUNT', ZK, '(' .. fmt(now), '+inf') >= tonumber(ARGV[6]) then return {0} end
end
if redis.call('EXISTS', mk) == 0 then redis.call('HSET', mk, 'created', seq, 'gone', 0, 'bytes', 0) end
expire(ch, now, ttl)
seq = seq + 1
if now > ms then ms = now end
local id = fmt(ms) .. '-' .. fmt(seq)
if ARGV[8] ~= '' then
  redis.call('XADD', sk, id, 'd', ARGV[9], 'c', ARGV[7], 'e', ARGV[8])
else
  redis.call('XADD', sk, id, 'd', ARGV[9], 'c', ARGV[7])
end
redis.call('HSET', SK, 'seq', seq, 'ms', ms)
redis.call('HINCRBY', SK, 'bytes', #ARGV[9])
redis.call('HINCRBY', mk, 'bytes', #ARGV[9])
local len = redis.call('XLEN', sk)
if len > buffer then drop(ch, redis.call('XRANGE', sk, '-', '+', 'COUNT', len - buffer), 'evicted') end
redis.call('ZADD', ZK, 'GT', ms + ttl, ch)
redis.call('PUBLISH', P .. 'events', cjson.encode({t = 'm', c = ch, i = id, e = epoch, ct = ARGV[7], ev = ARGV[8], o = ARGV[10]}) .. '\\n' .. ARGV[9])
return {1, epoch, id}
`;

/** ARGV: prefix, epoch candidate, has position, token epoch, ms, seq, limit, ttl ms, channels... */
const LUA_READ = `${LUA_COMMON}
local now = now_ms()
local epoch, seq, ms = state(ARGV[2])
local has_after = ARGV[3] == '1'
local gap = 0
local a_ms, a_seq = 0, 0
if has_after then
  a_ms, a_seq = tonumber(ARGV[5]), tonumber(ARGV[6])
  if ARGV[4] ~= epoch or a_ms == nil or a_seq == nil or a_seq > seq then gap = 1; a_ms = 0; a_seq = 0 end
end
local limit, ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
local forgotten = tonumber(redis.call('HGET', SK, 'forgotten') or 0)
local lists = {}
for i = 9, #ARGV do
  local ch = ARGV[i]
  expire(ch, now, ttl)
  local m = redis.call('HMGET', P .. 'm:' .. ch, 'created', 'gone')
  if not m[1] then
    if has_after and forgotten > a_seq then gap = 1 end
  else
    if has_after and gap == 0 then
      if tonumber(m[2]) > a_seq then gap = 1
      elseif tonumber(m[1]) > a_seq and forgotten > a_seq then gap = 1 end
    end
    local start = '-'
    if has_after then start = '(' .. fmt(a_ms) .. '-' .. fmt(a_seq) end
    local entries = redis.call('XRANGE', P .. 's:' .. ch, start, '+', 'COUNT', limit + 1)
    lists[#lists + 1] = {ch, entries, 1}
  end
end
local out = {}
local more = 0
while true do
  local best, best_seq = nil, nil
  for _, l in ipairs(lists) do
    local e = l[2][l[3]]
    while e and seq_of(e[1]) <= a_seq do l[3] = l[3] + 1; e = l[2][l[3]] end
    if e then
      local s = seq_of(e[1])
      if best == nil or s < best_seq then best = l; best_seq = s end
    end
  end
  if best == nil then break end
  if #out >= limit then more = 1; break end
  local e = best[2][best[3]]
  best[3] = best[3] + 1
  out[#out + 1] = {best[1], e[1], e[2]}
end
return {gap, more, epoch, fmt(ms) .. '-' .. fmt(seq), out}
`;

/** ARGV: prefix, epoch candidate. */
const LUA_HEAD = `${LUA_COMMON}
local epoch, seq, ms = state(ARGV[2])
return {epoch, fmt(ms) .. '-' .. fmt(seq)}
`;

/** ARGV: prefix, epoch candidate, grace ms, max channels, channels... */
const LUA_TOUCH = `${LUA_COMMON}
local now = now_ms()
local epoch, seq = state(ARGV[2])
local fresh = 0
for i = 5, #ARGV do
  local s = redis.call('ZSCORE', ZK, ARGV[i])
  if (not s or tonumber(s) <= now) and redis.call('EXISTS', P .. 'm:' .. ARGV[i]) == 0 then fresh = fresh + 1 end
end
if fresh > 0 and redis.call('ZCOUNT', ZK, '(' .. fmt(now), '+inf') + fresh > tonumber(ARGV[4]) then return 0 end
for i = 5, #ARGV do
  local mk = P .. 'm:' .. ARGV[i]
  if redis.call('EXISTS', mk) == 0 then redis.call('HSET', mk, 'created', seq, 'gone', 0, 'bytes', 0) end
  redis.call('HSET', mk, 'req', now)
  redis.call('ZADD', ZK, 'GT', now + tonumber(ARGV[3]), ARGV[i])
end
return 1
`;

/** ARGV: prefix, grace ms, channels... (keeps channels held here alive) */
const LUA_REFRESH = `${LUA_COMMON}
local now = now_ms()
for i = 3, #ARGV do
  if redis.call('EXISTS', P .. 'm:' .. ARGV[i]) == 1 then redis.call('ZADD', ZK, 'GT', now + tonumber(ARGV[2]), ARGV[i]) end
end
return 1
`;

/** ARGV: prefix, epoch candidate, ttl ms, channel. */
const LUA_INFO = `${LUA_COMMON}
local now = now_ms()
local epoch = state(ARGV[2])
local ch = ARGV[4]
local mk = P .. 'm:' .. ch
if redis.call('EXISTS', mk) == 0 then return nil end
expire(ch, now, tonumber(ARGV[3]))
local len = redis.call('XLEN', P .. 's:' .. ch)
local score = redis.call('ZSCORE', ZK, ch)
if len == 0 and (not score or tonumber(score) <= now) then return nil end
local last = redis.call('XREVRANGE', P .. 's:' .. ch, '+', '-', 'COUNT', 1)
local last_id = ''
if last[1] then last_id = last[1][1] end
return {len, last_id, redis.call('HGET', mk, 'req') or '', epoch}
`;

/** ARGV: prefix, channel, origin. */
const LUA_DELETE = `${LUA_COMMON}
local ch = ARGV[2]
local sk, mk = P .. 's:' .. ch, P .. 'm:' .. ch
if redis.call('EXISTS', mk) == 0 and redis.call('EXISTS', sk) == 0 then return 0 end
local bytes = tonumber(redis.call('HGET', mk, 'bytes') or 0)
redis.call('HINCRBY', SK, 'bytes', -bytes)
redis.call('DEL', sk, mk)
redis.call('ZREM', ZK, ch)
redis.call('PUBLISH', P .. 'events', cjson.encode({t = 'd', c = ch, o = ARGV[3]}) .. '\\n')
return 1
`;

/** ARGV: prefix, epoch candidate, ttl ms, batch. Forgets dead channels; returns the figures. */
const LUA_SWEEP = `${LUA_COMMON}
local now = now_ms()
state(ARGV[2])
local ttl = tonumber(ARGV[3])
local dead = redis.call('ZRANGEBYSCORE', ZK, '-inf', fmt(now), 'LIMIT', 0, tonumber(ARGV[4]))
for _, ch in ipairs(dead) do
  local sk, mk = P .. 's:' .. ch, P .. 'm:' .. ch
  expire(ch, now, ttl)
  local last = redis.call('XREVRANGE', sk, '+', '-', 'COUNT', 1)
  if last[1] then
    local ms = tonumber(string.match(last[1][1], '^(%d+)'))
    redis.call('ZADD', ZK, ms + ttl, ch)
  else
    local gone = tonumber(redis.call('HGET', mk, 'gone') or 0)
    if gone > tonumber(redis.call('HGET', SK, 'forgotten') or 0) then redis.call('HSET', SK, 'forgotten', gone) end
    local bytes = tonumber(redis.call('HGET', mk, 'bytes') or 0)
    if bytes ~= 0 then redis.call('HINCRBY', SK, 'bytes', -bytes) end
    redis.call('DEL', sk, mk)
    redis.call('ZREM', ZK, ch)
  end
end
local s = redis.call('HMGET', SK, 'expired', 'evicted', 'bytes')
return {redis.call('ZCOUNT', ZK, '(' .. fmt(now), '+inf'), s[1] or 0, s[2] or 0, s[3] or 0}
`;

interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  const sha = createHash('sha1').update(source).digest('hex');
  return { source, sha };
}

const SCRIPTS = {
  append: script(LUA_APPEND),
  read: script(LUA_READ),
  head: script(LUA_HEAD),
  touch: script(LUA_TOUCH),
  refresh: script(LUA_REFRESH),
  info: script(LUA_INFO),
  delete: script(LUA_DELETE),
  sweep: script(LUA_SWEEP),
};

// ---------------------------------------------------------------------------------------------

const TOKEN = /^([0-9a-z]{1,40})-(\d{1,16})-(\d{1,16})$/;

interface ParsedToken {
  epoch: string;
  ms: string;
  seq: number;
}

function parseToken(token: string): ParsedToken | null {
  const match = TOKEN.exec(token);
  if (match === null) return null;
  return { epoch: match[1] as string, ms: match[2] as string, seq: Number(match[3]) };
}

function text(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value === null || value === undefined) return '';
  return String(value);
}

function num(value: unknown): number {
  const n = Number(text(value));
  return Number.isFinite(n) ? n : 0;
}

function bytes(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(text(value), 'utf8');
}

function newEpochCandidate(): string {
  return Date.now().toString(36) + randomBytes(4).toString('hex');
}

function makeMessage(channel: string, epoch: string, id: string, contentType: string, event: string | undefined, data: Buffer): StoredMessage {
  const token = `${epoch}-${id}`;
  const time = Number(id.slice(0, id.indexOf('-')));
  return { channel, token, id: messageId(time, token), time, contentType, event, data };
}

function seqOfId(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

/** Fields of a stream entry (`[name, value, ...]`) to a message. */
function entryMessage(channel: string, epoch: string, id: string, fields: unknown): StoredMessage {
  let data: Buffer = Buffer.alloc(0);
  let contentType = 'application/octet-stream';
  let event: string | undefined;
  if (Array.isArray(fields)) {
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = text(fields[i]);
      const value: unknown = fields[i + 1];
      if (name === 'd') data = bytes(value);
      else if (name === 'c') contentType = text(value);
      else if (name === 'e') event = text(value) || undefined;
    }
  }
  return makeMessage(channel, epoch, id, contentType, event, data);
}

function unavailable(err: unknown): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  const words = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError('store_unavailable', `redis is unavailable: ${words.slice(0, 200)}`);
}

/** Most messages held back while waiting for an earlier one (ordering across servers). */
const HOLE_WAIT_MS = 250;
/** Emitted sequence numbers remembered to drop duplicates. */
const RECENT_LIMIT = 8192;

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const { buffer, maxChannels, isHeld } = options;
  if (!Number.isInteger(buffer) || buffer < 1) throw new TypeError('buffer must be a positive integer');
  if (!(options.messageTtl > 0)) throw new TypeError('messageTtl must be positive');
  const redis = loadRedis();
  const prefix = options.keyPrefix ?? 'holdpush:';
  const ttlMs = Math.max(1, Math.round(options.messageTtl * 1000));
  const commandTimeout = options.commandTimeout ?? 2000;
  const grace = options.channelGrace ?? 30000;
  const origin = randomBytes(8).toString('hex');
  const eventsChannel = `${prefix}events`;
  const bufferOptions: unknown = redis.RESP_TYPES !== undefined
    ? { typeMapping: { [redis.RESP_TYPES.BLOB_STRING]: Buffer } }
    : redis.commandOptions?.({ returnBuffers: true });

  const ownClient = options.client === undefined;
  const client: RedisClientLike = options.client ?? redis.createClient({
    url: options.url ?? 'redis://127.0.0.1:6379',
    disableOfflineQueue: true,
    socket: {
      connectTimeout: commandTimeout,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
    },
  });
  const subscriber = client.duplicate();

  const watchers = new Set<StoreEvents>();
  /** Channels a subscriber of this process asked for (kept alive in Redis while held). */
  const known = new Set<string>();
  let closed = false;
  let lastStats: StoreStats = { channels: 0, bufferBytes: 0, expired: 0, evicted: 0 };

  // ---- ordered emission -------------------------------------------------------------------
  // Redis runs scripts one at a time and publishes each message in sequence order, so the event
  // stream is gapless. A local append's reply may overtake the event stream: messages wait here
  // until every earlier sequence number was told, so watchers see publish order.
  let streamEpoch: string | undefined;
  /** Next sequence number to tell; undefined while the event stream is not in step. */
  let next: number | undefined;
  const pending = new Map<number, StoredMessage>();
  /** Recently told messages by sequence number, to drop duplicates and answer appends. */
  const recent = new Map<number, StoredMessage>();
  const emittedWaiters = new Map<number, () => void>();
  let holeTimer: NodeJS.Timeout | undefined;
  let lastEmitted: StoredMessage | undefined;

  function tell(seq: number, message: StoredMessage): void {
    const waiter = emittedWaiters.get(seq);
    if (waiter !== undefined) {
      emittedWaiters.delete(seq);
      waiter();
    }
    if (recent.has(seq)) return;
    recent.set(seq, message);
    if (recent.size > RECENT_LIMIT) {
      for (const old of recent.keys()) {
        recent.delete(old);
        if (recent.size <= RECENT_LIMIT / 2) break;
      }
    }
    if (lastEmitted === undefined || seqOf(lastEmitted) < seq) lastEmitted = message;
    for (const watcher of watchers) {
      try {
        watcher.message(message);
      } catch {
        // A watcher's failure is its own; the others still hear.
      }
    }
  }

  function seqOf(message: StoredMessage): number {
    const parsed = parseToken(message.token);
    return parsed === null ? 0 : parsed.seq;
  }

  function drain(): void {
    while (next !== undefined) {
      const message = pending.get(next);
      if (message === undefined) break;
      pending.delete(next);
      tell(next, message);
      next += 1;
    }
    if (pending.size === 0) {
      if (holeTimer !== undefined) clearTimeout(holeTimer);
      holeTimer = undefined;
    } else if (holeTimer === undefined) {
      holeTimer = setTimeout(skipHole, HOLE_WAIT_MS);
      holeTimer.unref();
    }
  }

  /** An earlier message did not come in time: tell the waiting ones anyway. */
  function skipHole(): void {
    holeTimer = undefined;
    if (pending.size === 0) return;
    next = Math.min(...pending.keys());
    drain();
  }

  function flushPending(): void {
    const seqs = [...pending.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const message = pending.get(seq) as StoredMessage;
      pending.delete(seq);
      tell(seq, message);
    }
    if (holeTimer !== undefined) clearTimeout(holeTimer);
    holeTimer = undefined;
  }

  /** Redis was wiped (or this is the start): a new sequence begins. */
  function switchEpoch(epoch: string): void {
    flushPending();
    recent.clear();
    lastEmitted = undefined;
    streamEpoch = epoch;
  }

  function offer(epoch: string, seq: number, message: StoredMessage): void {
    if (closed) return;
    if (streamEpoch !== epoch) {
      switchEpoch(epoch);
      if (next !== undefined) next = seq;
    }
    if (next === undefined || seq < next) {
      tell(seq, message);
      return;
    }
    pending.set(seq, message);
    drain();
  }

  function onEvent(payload: Buffer): void {
    const newline = payload.indexOf(10);
    if (newline < 0) return;
    let header: { t?: string; c?: string; i?: string; e?: string; ct?: string; ev?: string; o?: string };
    try {
      header = JSON.parse(payload.subarray(0, newline).toString('utf8')) as typeof header;
    } catch {
      return;
    }
    if (typeof header.c !== 'string') return;
    if (header.t === 'd') {
      if (header.o === origin) return;
      for (const watcher of watchers) watcher.deleted(header.c);
      return;
    }
    if (header.t !== 'm' || typeof header.i !== 'string' || typeof header.e !== 'string') return;
    const message = makeMessage(header.c, header.e, header.i, header.ct ?? '', header.ev || undefined, Buffer.from(payload.subarray(newline + 1)));
    offer(header.e, seqOfId(header.i), message);
  }

  // ---- connections ------------------------------------------------------------------------
  let everReady = false;
  let readyWaiters: (() => void)[] = [];
  let subscribed = false;

  function onClientError(): void {
    // node-redis reports every failed reconnect here; the store answers `store_unavailable`
    // meanwhile and the client reconnects by itself.
  }
  client.on('error', onClientError);
  subscriber.on('error', onClientError);

  /** Where the event stream stood when its connection went: resync catches up from there. */
  let resumeEpoch: string | undefined;
  let resumeAfter: string | null = null;

  function onSubscriberDown(): void {
    const wasUp = next !== undefined;
    next = undefined;
    flushPending();
    if (wasUp) {
      resumeEpoch = streamEpoch;
      resumeAfter = lastEmitted?.token ?? null;
    }
  }
  subscriber.on('end', onSubscriberDown);
  subscriber.on('reconnecting', onSubscriberDown);
  function onSubscriberReady(): void {
    if (subscribed) void resync();
  }
  subscriber.on('ready', onSubscriberReady);
  function onClientReady(): void {
    everReady = true;
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const waiter of waiters) waiter();
  }
  client.on('ready', onClientReady);
  if (client.isReady) everReady = true;

  const started = (async () => {
    if (ownClient) await client.connect();
    if (closed) throw new StoreUnavailableError('store_unavailable', 'the store is closed');
    await subscriber.connect();
    if (closed) {
      await quit(subscriber);
      throw new StoreUnavailableError('store_unavailable', 'the store is closed');
    }
    await subscriber.subscribe(eventsChannel, onEvent, true);
    subscribed = true;
    await resync();
  })();
  started.catch(() => undefined);

  /** After the event stream (re)connects: catch up on what it missed, then keep order again. */
  async function resync(): Promise<void> {
    try {
      const reply = (await command(SCRIPTS.head, [newEpochCandidate()])) as unknown[];
      const epoch = text(reply[0]);
      const headSeq = seqOfId(text(reply[1]));
      if (epoch !== streamEpoch) switchEpoch(epoch);
      // Held channels hear what was published while the event stream was away: after the last
      // message heard then or, when Redis came back wiped, all that the new sequence holds.
      if (resumeEpoch !== undefined && known.size > 0) {
        const from = epoch === resumeEpoch ? resumeAfter : null;
        const names = [...known].filter((name) => isHeld(name));
        for (let i = 0; i < names.length; i += 16) {
          const result = await readRaw(names.slice(i, i + 16), from, 1000);
          for (const message of result.messages) {
            const seq = seqOf(message);
            if (seq <= headSeq) tell(seq, message);
          }
        }
      }
      if (subscriber.isReady && next === undefined) {
        next = headSeq + 1;
        for (const seq of [...pending.keys()]) {
          if (seq < next) {
            tell(seq, pending.get(seq) as StoredMessage);
            pending.delete(seq);
          }
        }
        drain();
      }
    } catch {
      // Redis went away again; the next 'ready' tries once more.
    }
  }

  function whenReady(): Promise<void> {
    if (client.isReady) return Promise.resolve();
    if (everReady) return Promise.reject(unavailable(new Error('not connected')));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        readyWaiters = readyWaiters.filter((w) => w !== done);
        reject(unavailable(new Error('not connected')));
      }, commandTimeout);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      readyWaiters.push(done);
    });
  }

  function withTimeout<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable(new Error(`no answer within ${commandTimeout} ms`))), commandTimeout);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** Runs a script, loading it after a Redis restart; every failure is `store_unavailable`. */
  async function command(lua: Script, args: (string | Buffer)[]): Promise<unknown> {
    if (closed) throw new StoreUnavailableError('store_unavailable', 'the store is closed');
    await whenReady();
    const full = [prefix, ...args];
    try {
      try {
        return await withTimeout(client.sendCommand(['EVALSHA', lua.sha, '0', ...full], bufferOptions));
      } catch (err) {
        if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
        return await withTimeout(client.sendCommand(['EVAL', lua.source, '0', ...full], bufferOptions));
      }
    } catch (err) {
      throw unavailable(err);
    }
  }

  // ---- the interface ----------------------------------------------------------------------

  async function append(channel: string, input: MessageInput): Promise<StoredMessage> {
    const reply = (await command(SCRIPTS.append, [
      newEpochCandidate(),
      channel,
      String(buffer),
      String(ttlMs),
      String(maxChannels),
      input.contentType,
      input.event ?? '',
      input.data,
      origin,
    ])) as unknown[];
    if (num(reply[0]) !== 1) {
      throw new StoreUnavailableError('too_many_channels', `at most ${maxChannels} channels may be alive at once`);
    }
    const epoch = text(reply[1]);
    const id = text(reply[2]);
    const seq = seqOfId(id);
    const message = makeMessage(channel, epoch, id, input.contentType, input.event, input.data);
    if (closed) return message;
    if (!recent.has(seq)) {
      const told = new Promise<void>((resolve) => emittedWaiters.set(seq, resolve));
      offer(epoch, seq, message);
      if (emittedWaiters.has(seq)) await told;
    }
    // Watchers may have heard it from the event stream first: hand back the object they saw.
    return recent.get(seq) ?? message;
  }

  async function readRaw(channels: readonly string[], after: string | null, limit: number): Promise<ReadResult> {
    let args: string[];
    if (after === null) args = ['0', '', '0', '0'];
    else {
      const parsed = parseToken(after);
      args = parsed === null ? ['1', '', '0', '0'] : ['1', parsed.epoch, parsed.ms, String(parsed.seq)];
    }
    const reply = (await command(SCRIPTS.read, [newEpochCandidate(), ...args, String(Math.max(1, limit)), String(ttlMs), ...channels])) as unknown[];
    const epoch = text(reply[2]);
    const rows = Array.isArray(reply[4]) ? (reply[4] as unknown[][]) : [];
    const messages = rows.map((row) => entryMessage(text(row[0]), epoch, text(row[1]), row[2]));
    const last = messages[messages.length - 1];
    return {
      messages,
      gap: num(reply[0]) === 1,
      head: last === undefined ? `${epoch}-${text(reply[3])}` : last.token,
      more: num(reply[1]) === 1,
    };
  }

  async function info(channel: string): Promise<ChannelInfo | null> {
    const reply = (await command(SCRIPTS.info, [newEpochCandidate(), String(ttlMs), channel])) as unknown[] | null;
    if (!Array.isArray(reply)) return null;
    const lastId = text(reply[1]);
    const requested = text(reply[2]);
    const epoch = text(reply[3]);
    let lastMessageId: string | undefined;
    if (lastId !== '') lastMessageId = messageId(Number(lastId.slice(0, lastId.indexOf('-'))), `${epoch}-${lastId}`);
    return { messages: num(reply[0]), lastMessageId, requested: requested === '' ? undefined : Number(requested) };
  }

  async function sweep(): Promise<void> {
    if (!client.isReady) return;
    try {
      const reply = (await command(SCRIPTS.sweep, [newEpochCandidate(), String(ttlMs), '100'])) as unknown[];
      lastStats = { channels: num(reply[0]), expired: num(reply[1]), evicted: num(reply[2]), bufferBytes: num(reply[3]) };
    } catch {
      // Redis is down: keep the figures we last knew.
    }
  }

  async function refresh(): Promise<void> {
    if (!client.isReady) return;
    const held: string[] = [];
    for (const name of known) {
      if (isHeld(name)) held.push(name);
      else known.delete(name);
    }
    try {
      for (let i = 0; i < held.length; i += 500) await command(SCRIPTS.refresh, [String(grace), ...held.slice(i, i + 500)]);
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
    read: (channels, after, limit) => readRaw(channels, after, limit),
    async head() {
      const reply = (await command(SCRIPTS.head, [newEpochCandidate()])) as unknown[];
      return `${text(reply[0])}-${text(reply[1])}`;
    },
    follows(token, position) {
      const at = parseToken(position);
      const message = parseToken(token);
      if (at === null || message === null || at.epoch !== message.epoch) return true;
      return message.seq > at.seq;
    },
    async touch(channels) {
      const reply = await command(SCRIPTS.touch, [newEpochCandidate(), String(grace), String(maxChannels), ...channels]);
      if (num(reply) !== 1) return false;
      for (const name of channels) known.add(name);
      return true;
    },
    info,
    async delete(channel) {
      const reply = await command(SCRIPTS.delete, [channel, origin]);
      if (num(reply) !== 1) return false;
      known.delete(channel);
      for (const watcher of watchers) watcher.deleted(channel);
      return true;
    },
    released(channel) {
      if (!isHeld(channel)) known.delete(channel);
    },
    watch(events) {
      watchers.add(events);
      return () => {
        watchers.delete(events);
      };
    },
    stats: () => lastStats,
    async ready() {
      await withTimeout(started);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(statsTimer);
      clearInterval(refreshTimer);
      if (holeTimer !== undefined) clearTimeout(holeTimer);
      for (const waiter of emittedWaiters.values()) waiter();
      emittedWaiters.clear();
      pending.clear();
      watchers.clear();
      await quit(subscriber);
      if (ownClient) await quit(client);
      else {
        const off = client.off ?? client.removeListener;
        off?.call(client, 'error', onClientError);
        off?.call(client, 'ready', onClientReady);
      }
    },
  };
}

async function quit(client: RedisClientLike): Promise<void> {
  try {
    if (!client.isReady) throw new Error('not connected');
    const done = client.close !== undefined ? client.close() : client.quit?.();
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
  } catch {
    // Fall through to a hard stop.
  }
  try {
    if (client.destroy !== undefined) client.destroy();
    else client.disconnect?.();
  } catch {
    // Already closed.
  }
}
