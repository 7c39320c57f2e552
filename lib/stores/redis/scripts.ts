/**
 * The Redis store's Lua scripts: every change to Redis is one script, run atomically.
 * (Longer than the other modules on purpose: each script is a few dozen lines of Lua that must
 * agree with the key layout below and share LUA_COMMON, so they are read and changed together.)
 *
 * Layout (all keys start with the key prefix, default `holdpush:`):
 * - `state` (hash): `epoch` (made once per Redis dataset), `seq` (one sequence for the whole
 *   Redis), `ms` (Redis clock of the last message), `forgotten`, `expired`, `evicted`, `bytes`.
 * - `s:<channel>` (stream): one entry per held message, ID `<ms>-<seq>`, fields `d` (bytes),
 *   `c` (content type) and `e` (event name, when any). Trimmed to `buffer` and `messageTtl`.
 * - `m:<channel>` (hash): `created` (seq when made), `gone` (highest seq dropped), `req`
 *   (last subscriber request, ms), `bytes`.
 * - `channels` (sorted set): channel -> Unix ms until which it is alive.
 * - `events` (pub/sub): one message per publish, per batch and per delete, read by every server.
 * - `i:<idempotency key>` (string, expiring): `p\n<fingerprint>\n<nonce>` while the first
 *   request with the key publishes, then `d\n<fingerprint>\n<answer JSON>` for the TTL.
 *
 * Every script gets the key prefix as ARGV[1]; per-channel keys are built from it, so the store
 * needs a single Redis (or one cluster slot via a `{tag}` prefix), not Redis Cluster.
 */
import { createHash } from 'node:crypto';

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
-- The newest sequence number dropped per channel by this script: told with the message it published.
local DROPPED = {}
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
  DROPPED[ch] = tonumber(seq)
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

/**
 * ARGV: prefix, epoch candidate, buffer, ttl ms, max channels, then per message: channel, type,
 * event, data. All or nothing: the channels it would create are counted first. One event for
 * the batch: a JSON header listing each message's channel, id, type, event, length and the
 * newest sequence number its channel dropped (0 for none), a newline, then the bodies one after
 * another. Answers `{1, epoch, ids, lengths, requests}`: per message its id, its channel's
 * length just after it and its channel's last subscriber request ('' for none), what a
 * publisher is told (coalesce.ts sends one-message publishes here too).
 */
const LUA_APPEND_MANY = `${LUA_COMMON}
local now = now_ms()
local epoch, seq, ms = state(ARGV[2])
local buffer, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local n = (#ARGV - 5) / 4
-- exists[ch]: whether the channel's hash is there, req[ch] its last subscriber request (looked up once per channel, not per message).
local exists, req, fresh = {}, {}, 0
for i = 0, n - 1 do
  local ch = ARGV[6 + 4 * i]
  if exists[ch] == nil then
    local m = redis.call('HMGET', P .. 'm:' .. ch, 'created', 'req')
    exists[ch] = m[1] ~= false
    req[ch] = m[2] or ''
    if not exists[ch] then
      local score = redis.call('ZSCORE', ZK, ch)
      if not score or tonumber(score) <= now then fresh = fresh + 1 end
    end
  end
end
if fresh > 0 and redis.call('ZCOUNT', ZK, '(' .. fmt(now), '+inf') + fresh > tonumber(ARGV[5]) then return {0} end
if now > ms then ms = now end
local ids, lens, reqs, head, bodies, bytes = {}, {}, {}, {}, {}, 0
-- Per channel, in the order first met: its length (XLEN once, after its expiry), the body bytes
-- added, and where its last message is in head.
local channels, len, added, last = {}, {}, {}, {}
for i = 0, n - 1 do
  local at = 6 + 4 * i
  local ch, ct, ev, d = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local sk, mk = P .. 's:' .. ch, P .. 'm:' .. ch
  if not exists[ch] then
    redis.call('HSET', mk, 'created', seq, 'gone', 0, 'bytes', 0)
    exists[ch] = true
  end
  if len[ch] == nil then
    expire(ch, now, ttl)
    channels[#channels + 1] = ch
    len[ch] = redis.call('XLEN', sk)
    added[ch] = 0
  end
  seq = seq + 1
  local id = fmt(ms) .. '-' .. fmt(seq)
  if ev ~= '' then
    redis.call('XADD', sk, id, 'd', d, 'c', ct, 'e', ev)
  else
    redis.call('XADD', sk, id, 'd', d, 'c', ct)
  end
  bytes = bytes + #d
  added[ch] = added[ch] + #d
  len[ch] = len[ch] + 1
  ids[#ids + 1] = id
  lens[#lens + 1] = math.min(len[ch], buffer)
  reqs[#reqs + 1] = req[ch]
  head[#head + 1] = {ch, id, ct, ev, #d, DROPPED[ch] or 0}
  last[ch] = #head
  bodies[#bodies + 1] = d
end
-- Once per channel, not per message: its bytes, its lifetime, and its trim to the buffer, told
-- with its last message (a server drops what the trim took before it caches that message).
for _, ch in ipairs(channels) do
  local sk = P .. 's:' .. ch
  redis.call('HINCRBY', P .. 'm:' .. ch, 'bytes', added[ch])
  if len[ch] > buffer then
    drop(ch, redis.call('XRANGE', sk, '-', '+', 'COUNT', len[ch] - buffer), 'evicted')
    head[last[ch]][6] = DROPPED[ch]
  end
  redis.call('ZADD', ZK, 'GT', ms + ttl, ch)
end
redis.call('HSET', SK, 'seq', seq, 'ms', ms)
redis.call('HINCRBY', SK, 'bytes', bytes)
redis.call('PUBLISH', P .. 'events', cjson.encode({t = 'b', e = epoch, m = head}) .. '\\n' .. table.concat(bodies))
return {1, epoch, ids, lens, reqs}
`;

/** ARGV: prefix, key, fingerprint, ticket (the fingerprint and a nonce), lease ms. */
const LUA_CLAIM = `${LUA_COMMON}
local k = P .. 'i:' .. ARGV[2]
local v = redis.call('GET', k)
if not v then
  redis.call('SET', k, 'p\\n' .. ARGV[4], 'PX', ARGV[5])
  return {'first'}
end
local kind, fp, rest = string.match(v, '^(%a)\\n([^\\n]*)\\n(.*)$')
if fp ~= ARGV[3] then return {'conflict'} end
if kind == 'p' then return {'pending'} end
return {'done', rest}
`;

/** ARGV: prefix, key, ticket, ttl ms, '1' and the answer to remember, or '0' to forget the claim. */
const LUA_SETTLE = `${LUA_COMMON}
local k = P .. 'i:' .. ARGV[2]
if redis.call('GET', k) ~= 'p\\n' .. ARGV[3] then return 0 end
if ARGV[5] == '1' then
  redis.call('SET', k, 'd\\n' .. string.match(ARGV[3], '^([^\\n]*)') .. '\\n' .. ARGV[6], 'PX', ARGV[4])
else
  redis.call('DEL', k)
end
return 1
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
-- DEL first: a full Redis refuses a script at its first write that takes memory, and DEL takes none.
redis.call('DEL', sk, mk)
redis.call('ZREM', ZK, ch)
redis.call('HINCRBY', SK, 'bytes', -bytes)
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
    -- pcall: a full Redis may refuse it (then the channel is looked at again next time).
    redis.pcall('ZADD', ZK, ms + ttl, ch)
  else
    local gone = tonumber(redis.call('HGET', mk, 'gone') or 0)
    local bytes = tonumber(redis.call('HGET', mk, 'bytes') or 0)
    -- DEL before the writes that take memory, which a full Redis refuses until a script has written.
    redis.call('DEL', sk, mk)
    redis.call('ZREM', ZK, ch)
    if gone > tonumber(redis.call('HGET', SK, 'forgotten') or 0) then redis.call('HSET', SK, 'forgotten', gone) end
    if bytes ~= 0 then redis.call('HINCRBY', SK, 'bytes', -bytes) end
  end
end
local s = redis.call('HMGET', SK, 'expired', 'evicted', 'bytes')
return {redis.call('ZCOUNT', ZK, '(' .. fmt(now), '+inf'), s[1] or 0, s[2] or 0, s[3] or 0}
`;

export interface Script {
  readonly source: string;
  readonly sha: string;
}

export function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export const SCRIPTS = {
  appendMany: script(LUA_APPEND_MANY),
  claim: script(LUA_CLAIM),
  settle: script(LUA_SETTLE),
  read: script(LUA_READ),
  head: script(LUA_HEAD),
  touch: script(LUA_TOUCH),
  refresh: script(LUA_REFRESH),
  info: script(LUA_INFO),
  delete: script(LUA_DELETE),
  sweep: script(LUA_SWEEP),
};
