/**
 * The Lua scripts of presence on Redis: each server's share of the subscriber counts, its
 * heartbeat, and the election of the one server that decides occupancy.
 *
 * Layout (after the key prefix, default `holdpush:`):
 * - `p:servers` (sorted set): server id -> Unix ms until which it counts as alive.
 * - `p:h:<id>` (hash): that server's subscribers per channel, and `#n`, the number of its last
 *   change. Expires with the heartbeat, so a dead server's share goes with it.
 * - `p:x:<id>` (stream): that server's recent changes, entry ID `<n>-0` for change number n,
 *   so that the others read only what changed since the change they last saw.
 * - `p:f:<id>` (string): that server's figures (JSON), for /stats; expires with the heartbeat.
 * - `p:sender` (string): the id of the server that decides occupancy (a lock with a TTL).
 * - `p:occupied` (set): the channels announced occupied, so that a new sender goes on from there.
 * - `p:outbox` (list): deliveries waiting, each `<id>\n<body>`, the head being sent.
 * - `p:webhook` (hash): `deliveries`, `failures`, `dropped`: the deployment's counts.
 *
 * One tick per server every half second writes its changes, renews its heartbeat, forgets dead
 * servers and reads what the others changed: one round trip, whatever the number of subscribers.
 */
import { type Script, script } from './scripts';

const LUA_PRESENCE_COMMON = `
if redis.replicate_commands then redis.replicate_commands() end
local P = ARGV[1]
local SZ = P .. 'p:servers'
local LK = P .. 'p:sender'
local function fmt(n) return string.format('%.0f', n) end
local function hk(id) return P .. 'p:h:' .. id end
local function xk(id) return P .. 'p:x:' .. id end
local function fk(id) return P .. 'p:f:' .. id end
local OK, OB, WH = P .. 'p:occupied', P .. 'p:outbox', P .. 'p:webhook'
`;

/** Changes one log entry carries at most; past that the readers read the whole hash. */
const LOG_ENTRY_LIMIT = 2000;

/**
 * ARGV: prefix, me, ttl ms, figures, my last change number, full (1: the changes are the whole
 * share), n, n x (channel, count), lock ttl ms (0: not a candidate), k, k x (server, change number
 * last seen).
 * Returns {change number, lost (1: my share vanished, send it whole), sender (1: this server
 * decides), webhook deliveries, failures, dropped, queue, servers...}, each server {id, figures, 's' (nothing new) | 'd' (changes) | 'f'
 * (whole share), change number, channel, count, ...}.
 */
const LUA_TICK = `${LUA_PRESENCE_COMMON}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, ttl = ARGV[2], tonumber(ARGV[3])
local mine, log = hk(me), xk(me)
local expected = tonumber(ARGV[5])
local full = ARGV[6] == '1'
local n = tonumber(ARGV[7])
local at = 8
local seq = tonumber(redis.call('HGET', mine, '#n') or 0)
local lost = 0
if full then
  redis.call('DEL', mine, log)
  if expected > seq then seq = expected end
elseif seq ~= expected then
  lost = 1
end
if lost == 0 and (n > 0 or full) then
  seq = seq + 1
  local entry = {}
  for i = at, at + 2 * n - 1, 2 do
    local ch, count = ARGV[i], ARGV[i + 1]
    if count == '0' then redis.call('HDEL', mine, ch) else redis.call('HSET', mine, ch, count) end
    if n <= ${LOG_ENTRY_LIMIT} then entry[#entry + 1] = ch; entry[#entry + 1] = count end
  end
  redis.call('HSET', mine, '#n', seq)
  if full or n > ${LOG_ENTRY_LIMIT} then
    redis.call('DEL', log)
  else
    redis.call('XADD', log, 'MAXLEN', '~', '64', fmt(seq) .. '-0', unpack(entry))
  end
end
at = at + 2 * n
redis.call('PEXPIRE', mine, ttl)
redis.call('PEXPIRE', log, ttl)
redis.call('SET', fk(me), ARGV[4], 'PX', ttl)
redis.call('ZADD', SZ, now + ttl, me)
local dead = redis.call('ZRANGEBYSCORE', SZ, '-inf', fmt(now))
for _, id in ipairs(dead) do
  redis.call('DEL', hk(id), xk(id), fk(id))
  redis.call('ZREM', SZ, id)
end
local lockTtl = tonumber(ARGV[at])
local sender = 0
local holder = redis.call('GET', LK)
if lockTtl > 0 then
  if holder == me then
    redis.call('PEXPIRE', LK, lockTtl)
    sender = 1
  elseif not holder then
    redis.call('SET', LK, me, 'PX', lockTtl)
    sender = 1
  end
elseif holder == me then
  redis.call('DEL', LK)
end
local known = {}
local k = tonumber(ARGV[at + 1])
for i = at + 2, at + 1 + 2 * k, 2 do known[ARGV[i]] = tonumber(ARGV[i + 1]) end
local wh = redis.call('HMGET', WH, 'deliveries', 'failures', 'dropped')
local out = {seq, lost, sender, tonumber(wh[1] or 0), tonumber(wh[2] or 0), tonumber(wh[3] or 0), redis.call('LLEN', OB)}
local live = redis.call('ZRANGEBYSCORE', SZ, '(' .. fmt(now), '+inf')
for _, id in ipairs(live) do
  if id ~= me then
    local figures = redis.call('GET', fk(id)) or ''
    local current = tonumber(redis.call('HGET', hk(id), '#n') or 0)
    local last = known[id]
    local reply = nil
    if last ~= nil and last == current then
      reply = {id, figures, 's', current}
    elseif last ~= nil and last < current then
      local entries = redis.call('XRANGE', xk(id), fmt(last + 1) .. '-0', '+')
      if #entries == current - last and entries[1][1] == fmt(last + 1) .. '-0' then
        reply = {id, figures, 'd', current}
        for _, e in ipairs(entries) do
          for _, v in ipairs(e[2]) do reply[#reply + 1] = v end
        end
      end
    end
    if reply == nil then
      reply = {id, figures, 'f', current}
      for _, v in ipairs(redis.call('HGETALL', hk(id))) do reply[#reply + 1] = v end
    end
    out[#out + 1] = reply
  end
end
return out
`;

/** ARGV: prefix, me. A server that closes takes its share, heartbeat and lock away at once. */
const LUA_LEAVE = `${LUA_PRESENCE_COMMON}
local me = ARGV[2]
redis.call('DEL', hk(me), xk(me), fk(me))
redis.call('ZREM', SZ, me)
if redis.call('GET', LK) == me then redis.call('DEL', LK) end
return 1
`;

/** ARGV: prefix. The channels announced occupied. */
const LUA_ANNOUNCED = `${LUA_PRESENCE_COMMON}
return redis.call('SMEMBERS', OK)
`;

/**
 * ARGV: prefix, me, queue limit, delivery ('' for none), n, n x (event type, channel).
 * Only the sender records: 0 when this server holds the lock no more; else 1 (queued) or 2
 * (the queue was full: counted as dropped; the events are recorded all the same).
 */
const LUA_PUSH = `${LUA_PRESENCE_COMMON}
if redis.call('GET', LK) ~= ARGV[2] then return 0 end
local n = tonumber(ARGV[5])
for i = 6, 5 + 2 * n, 2 do
  if ARGV[i] == 'channel.occupied' then redis.call('SADD', OK, ARGV[i + 1]) else redis.call('SREM', OK, ARGV[i + 1]) end
end
if ARGV[4] == '' then return 1 end
if redis.call('LLEN', OB) >= tonumber(ARGV[3]) then
  redis.call('HINCRBY', WH, 'dropped', 1)
  return 2
end
redis.call('RPUSH', OB, ARGV[4])
return 1
`;

/** ARGV: prefix. The delivery whose turn it is. */
const LUA_HEAD = `${LUA_PRESENCE_COMMON}
return redis.call('LINDEX', OB, 0)
`;

/** ARGV: prefix, delivery id, counter ('deliveries' or 'failures'). Takes it off if it is still the head. */
const LUA_SETTLE = `${LUA_PRESENCE_COMMON}
local head = redis.call('LINDEX', OB, 0)
local prefix = ARGV[2] .. '\\n'
if not head or string.sub(head, 1, #prefix) ~= prefix then return 0 end
redis.call('LPOP', OB)
redis.call('HINCRBY', WH, ARGV[3], 1)
return 1
`;

export const PRESENCE_SCRIPTS: Record<'tick' | 'leave' | 'announced' | 'push' | 'head' | 'settle', Script> = {
  tick: script(LUA_TICK),
  leave: script(LUA_LEAVE),
  announced: script(LUA_ANNOUNCED),
  push: script(LUA_PUSH),
  head: script(LUA_HEAD),
  settle: script(LUA_SETTLE),
};
