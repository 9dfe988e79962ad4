// The Lua scripts of the session data model. Each touches exactly one key, passed as KEYS[1] and never
// built inside the script, so the same code runs on Redis Cluster and honours an ioredis `keyPrefix`.
// They are registered with ioredis defineCommand (EVALSHA with the cached SHA, EVAL on NOSCRIPT),
// once per client: a client shared by several apps or stores is set up by the first one.
//
// A live session always holds `created_at`. When a login or regenerate() moves a session to a new ID,
// the old key becomes a short-lived rotation marker: a hash holding only `rotated_at`. A marker is
// not a session: no script reads, writes or slides it, and a request that still carries the old ID
// never creates a session lazily (see session.ts), so it cannot replace the browser's new cookie.
// A logout that meets a marker marks it `destroyed_at`, so a failed regenerate() cannot put the
// session back afterwards.
// The renewal timeout (rotateAfter) moves a session the same way, but its marker also forwards: it
// holds `rotated_to` (what follows the prefix in the new key) and `forward_until` (ms, Redis's clock),
// the end of the grace window. Until then a load or write that meets it answers { rotated_to } (a
// one-element array), and the plugin serves that request from the new key without giving it the new ID.
import type { RedisClient } from './types'

// Lua's unpack() fails beyond about 8,000 values, so field lists are sent to Redis in chunks.
const CHUNKED = `
local function chunked (command, key, from, to)
  for i = from, to, 1000 do
    redis.call(command, key, unpack(ARGV, i, math.min(i + 999, to)))
  end
end
`

// The same rule as checkTtl(): a whole number from 1 to 2147483647, in plain decimal digits.
const VALID_TTL = `
local function valid_ttl (v)
  if v and #v <= 10 and string.find(v, '^[1-9]%d*$') then
    local n = tonumber(v)
    if n <= 2147483647 then return n end
  end
  return nil
end
`

// absoluteTtl: a session created with it holds session_expires (Unix seconds); no expiry set on its
// key reaches past that, by Redis's clock. capped(ttl) is the TTL to set: at most the time left, and
// at least 1 (a session at its end then expires within the second; a load ends it at once).
const CAPPED = `
local function capped (ttl, hard)
  hard = tonumber(hard or redis.call('HGET', KEYS[1], 'session_expires') or '')
  if not hard then return ttl end
  return math.max(1, math.min(ttl, hard - tonumber(redis.call('TIME')[1])))
end
`

// A write to a session past its absolute end (absoluteTtl): the session is over. Its key would expire
// within the second anyway; deleting it now means no write lands on it first. True when it ended.
const ENDED = `
local function ended ()
  local hard = tonumber(redis.call('HGET', KEYS[1], 'session_expires') or '')
  if hard and hard <= tonumber(redis.call('TIME')[1]) then
    redis.call('DEL', KEYS[1])
    return true
  end
  return false
end
`

// A renewal's marker within its grace window (and not logged out since): { the new key's ref }, else nil.
const FORWARD = `
local function forward ()
  local v = redis.call('HMGET', KEYS[1], 'rotated_to', 'forward_until', 'destroyed_at')
  if not v[1] or v[3] then return nil end
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) < tonumber(v[2]) then return { v[1] } end
  return nil
end
`

// After a write on a lazy route (no load in onRequest, so nothing slid the session yet): slide it
// as the load would have. now = '' slides nothing (a loaded request's load already did).
const SLIDE = VALID_TTL + CAPPED + `
local function slide (now, default_ttl)
  if now == '' then return end
  redis.call('HSET', KEYS[1], 'last_accessed_at', now)
  redis.call('EXPIRE', KEYS[1], capped(valid_ttl(redis.call('HGET', KEYS[1], 'session_ttl')) or tonumber(default_ttl)))
end
`

/**
 * onRequest: load a session and slide its expiry in one atomic round trip.
 * ARGV[1] = now (ISO 8601), ARGV[2] = the default TTL, used when session_ttl is missing or not valid.
 * (With touchAfter the store first reads the hash with a plain HGETALL, see store.ts #peek, and
 * calls this only when a slide is due or that read cannot tell.)
 * Returns false when the key does not exist, 0 for a rotation marker, { ref } for a renewal's marker
 * within its grace window (all three: nothing written), or
 * the hash as a flat [field, value, ...] array with last_accessed_at as it now stands (ARGV[1]).
 * When Redis refuses the write (OOM under noeviction, say) the session is still
 * returned, unslid, with Redis's error as one extra last element.
 */
const LOAD = VALID_TTL + FORWARD + `
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
local ttl, live, touched, hard
for i = 1, #h, 2 do
  local f = h[i]
  if f == 'created_at' then live = true
  elseif f == 'session_ttl' then ttl = valid_ttl(h[i + 1])
  elseif f == 'last_accessed_at' then touched = i + 1
  elseif f == 'session_expires' then hard = tonumber(h[i + 1]) end
end
if not live then return forward() or 0 end
ttl = ttl or tonumber(ARGV[2])
-- absoluteTtl: past its end the session is over, however fresh its idle TTL; before, no slide
-- reaches past it.
if hard then
  local left = hard - tonumber(redis.call('TIME')[1])
  if left <= 0 then
    redis.call('DEL', KEYS[1])
    return false
  end
  ttl = math.min(ttl, left)
end
local ok = redis.pcall('HSET', KEYS[1], 'last_accessed_at', ARGV[1])
if type(ok) == 'table' and ok.err then
  h[#h + 1] = ok.err
  return h
end
redis.call('EXPIRE', KEYS[1], ttl)
if touched then h[touched] = ARGV[1] else h[#h + 1] = 'last_accessed_at'; h[#h + 1] = ARGV[1] end
return h
`

/**
 * Write a whole session hash with its TTL in one atomic step.
 * ARGV[1] = 'new': only where no key exists (a new ID); 'restore': only where the key is still the
 * rotation marker a failed regenerate() left, not marked destroyed (put the session back; a logout
 * meanwhile wins).
 * ARGV[2] = TTL in seconds, ARGV[3] = the hash's session_expires or '' (so the cap needs no read),
 * ARGV[4..] = field, value, ... (reserved fields included).
 * Returns 1 when written, 0 when the precondition did not hold.
 */
const WRITE = CHUNKED + CAPPED + `
if ARGV[1] == 'new' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
else
  if redis.call('HEXISTS', KEYS[1], 'rotated_at') == 0 or redis.call('HEXISTS', KEYS[1], 'created_at') == 1 or
    redis.call('HEXISTS', KEYS[1], 'destroyed_at') == 1 then return 0 end
  redis.call('DEL', KEYS[1])
end
chunked('HSET', KEYS[1], 4, #ARGV)
redis.call('EXPIRE', KEYS[1], ARGV[3] == '' and ARGV[2] or capped(tonumber(ARGV[2]), ARGV[3]))
return 1
`

/**
 * onSend and save(): write only the fields this request changed, and only while the session is live,
 * so a request that raced a logout, an expiry or a rotation never brings the session back.
 * ARGV[1] = now to slide (a lazy route) or '', ARGV[2] = the default TTL, ARGV[3] = maxFields and
 * ARGV[4] = maxSessionBytes (0: no limit; over one: a SIZE_LIMIT error, nothing written), ARGV[5] = n,
 * then n field/value pairs to set, then the fields to delete.
 * Returns 1 when written, 0 when the session was gone, { ref } at a renewal's marker (nothing written).
 */
const PERSIST = CHUNKED + SLIDE + ENDED + FORWARD + `
if redis.call('HEXISTS', KEYS[1], 'created_at') == 0 then return forward() or 0 end
if ended() then return 0 end
local n = tonumber(ARGV[5])
-- maxFields / maxSessionBytes (ARGV[3], ARGV[4]; 0: none): the session as it would be, checked before writing.
local max_fields, max_bytes = tonumber(ARGV[3]), tonumber(ARGV[4])
if max_fields > 0 or max_bytes > 0 then
  local reserved = { created_at = true, last_accessed_at = true, session_ttl = true, session_expires = true, session_user = true, session_label = true, session_issued = true }
  local size = {}
  local h = redis.call('HGETALL', KEYS[1])
  for i = 1, #h, 2 do size[h[i]] = #h[i] + #h[i + 1] end
  for i = 6, 2 * n + 5, 2 do size[ARGV[i]] = #ARGV[i] + #ARGV[i + 1] end
  for i = 2 * n + 6, #ARGV do size[ARGV[i]] = nil end
  local fields, bytes = 0, 0
  for f, b in pairs(size) do
    bytes = bytes + b
    if not reserved[f] then fields = fields + 1 end
  end
  if max_fields > 0 and fields > max_fields then return redis.error_reply('SIZE_LIMIT fields ' .. fields .. ' ' .. max_fields) end
  if max_bytes > 0 and bytes > max_bytes then return redis.error_reply('SIZE_LIMIT bytes ' .. bytes .. ' ' .. max_bytes) end
end
if n > 0 then chunked('HSET', KEYS[1], 6, 2 * n + 5) end
if #ARGV > 2 * n + 5 then chunked('HDEL', KEYS[1], 2 * n + 6, #ARGV) end
slide(ARGV[1], ARGV[2])
return 1
`

/**
 * Atomic counter that never creates a key: HINCRBY only while the session is live, and only when
 * the result stays an exact JavaScript integer (Redis goes to 2^63, a JS number exactly to 2^53).
 * ARGV[1] = field, ARGV[2] = increment, ARGV[3] = now to slide (a lazy route) or '', ARGV[4] = the
 * default TTL, ARGV[5] = maxFields (0: none; a new field over it: a SIZE_LIMIT error). Returns the new value as a string (its digits, exactly: an integer reply can come out
 * of the client's parser rounded near 2^53), nil when the session is gone, { ref } at a renewal's marker
 * (nothing written in either case).
 */
const INCREMENT = VALID_TTL + FORWARD + `
-- One read for everything the step needs: live?, the absolute end, the session's own TTL, the field.
local m = redis.call('HMGET', KEYS[1], 'created_at', 'session_expires', 'session_ttl', ARGV[1])
if not m[1] then return forward() or false end
-- absoluteTtl: past its end the session is over (its key goes now, so nothing lands on it first).
local hard, now = tonumber(m[2] or ''), nil
if hard then
  now = tonumber(redis.call('TIME')[1])
  if hard <= now then
    redis.call('DEL', KEYS[1])
    return false
  end
end
-- maxFields (ARGV[5]; 0: none): a new counter field must fit. Reserved fields are not counted.
local max_fields = tonumber(ARGV[5] or '0')
if max_fields > 0 and not m[4] then
  local fields = 0
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if f ~= 'created_at' and f ~= 'last_accessed_at' and f ~= 'session_ttl' and f ~= 'session_expires' and f ~= 'session_user' and f ~= 'session_label' and f ~= 'session_issued' then fields = fields + 1 end
  end
  if fields + 1 > max_fields then return redis.error_reply('SIZE_LIMIT fields ' .. (fields + 1) .. ' ' .. max_fields) end
end
local current = tonumber(m[4] or '0')
if current then
  -- Lua numbers are doubles too: a stored value already past the limit is refused as well.
  local result = current + tonumber(ARGV[2])
  if math.abs(current) > 9007199254740991 or math.abs(result) > 9007199254740991 then
    return redis.error_reply('UNSAFE_INTEGER the result would not be an exact JavaScript integer')
  end
end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
-- A lazy route: slide as the load would have (ARGV[3] = now), capped by the absolute end.
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'last_accessed_at', ARGV[3])
  local ttl = valid_ttl(m[3]) or tonumber(ARGV[4])
  if hard then ttl = math.max(1, math.min(ttl, hard - now)) end
  redis.call('EXPIRE', KEYS[1], ttl)
end
-- Within 2^53 (checked above), so a double holds it exactly and %.0f prints every digit (%d goes
-- through a C long, 32 bits on some builds).
return string.format('%.0f', n)
`

/**
 * Change a session's own TTL: the stored session_ttl and the key's expiry together.
 * ARGV[1] = TTL in seconds. Returns 1, 0 when the session is gone, or { ref } at a renewal's marker.
 */
const SET_TTL = CAPPED + ENDED + FORWARD + `
if redis.call('HEXISTS', KEYS[1], 'created_at') == 0 then return forward() or 0 end
if ended() then return 0 end
redis.call('HSET', KEYS[1], 'session_ttl', ARGV[1])
redis.call('EXPIRE', KEYS[1], capped(tonumber(ARGV[1])))
return 1
`

/** Seconds before a live session expires, as Redis TTL answers; -2 for a missing key or a marker. */
const REMAINING = `
if redis.call('HEXISTS', KEYS[1], 'created_at') == 0 then return -2 end
return redis.call('TTL', KEYS[1])
`

// Replace a live session by a rotation marker: ARGV[1] = now, ARGV[2] = the marker's TTL. The HSET
// comes first: under maxmemory with noeviction Redis refuses a script's first write that needs memory
// (HSET) but never a DEL, so the other order would delete the session and then write the marker,
// leaving the user logged out behind a "nothing was written". This way OOM refuses the whole step.
// Extra field/value pairs (a renewal's forward) go into the marker with rotated_at.
const RETIRE = `
local function retire (...)
  redis.call('HSET', KEYS[1], 'rotated_at', ARGV[1], ...)
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'rotated_at', ARGV[1], ...)
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
`

/**
 * regenerate(): read a live session and leave a rotation marker in its place, in one step, so the
 * caller copies its latest state (counts from concurrent requests included) and nobody can use the
 * old ID afterwards. Returns the hash as a flat array, empty when the session was already gone.
 */
const TAKE = RETIRE + `
local h = redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  if h[i] == 'created_at' then
    retire()
    return h
  end
end
return {}
`

/**
 * The renewal timeout (rotateAfter): as TAKE, but the marker forwards to the new key until the grace
 * window ends. ARGV[1] = now, ARGV[2] = the marker's TTL, ARGV[3] = the new key's ref, ARGV[4] = the
 * grace window in ms. Returns the hash; { ref } when another request renewed it first (a forwarding
 * marker); empty when the session is gone.
 */
const RENEW = RETIRE + FORWARD + `
local h = redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  if h[i] == 'created_at' then
    local t = redis.call('TIME')
    retire('rotated_to', ARGV[3], 'forward_until', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[4]))
    return h
  end
end
return forward() or {}
`

/**
 * create() over a live session (a login): leave a rotation marker at the old ID.
 * Returns 1 when there was a live session, 0 otherwise (nothing written then).
 */
const REPLACE = RETIRE + `
if redis.call('HEXISTS', KEYS[1], 'created_at') == 0 then return 0 end
retire()
return 1
`

/**
 * destroy(): delete a live session; where a login or regenerate() left a rotation marker, keep the
 * marker (requests still carrying the old ID must keep seeing it) and mark it destroyed, so a failed
 * regenerate() elsewhere cannot put the session back. ARGV[1] = now.
 * Returns 1 when a session was deleted, 2 when a marker was marked, 0 when there was neither, and
 * { ref } when the marker was a renewal's within its grace window: the session lives on there, and
 * the caller destroys it too.
 */
const DESTROY = FORWARD + `
if redis.call('HEXISTS', KEYS[1], 'created_at') == 1 then
  redis.call('DEL', KEYS[1])
  return 1
end
if redis.call('HEXISTS', KEYS[1], 'rotated_at') == 0 then return 0 end
local to = forward()
redis.call('HSET', KEYS[1], 'destroyed_at', ARGV[1])
return to or 2
`

const SCRIPTS = {
  fastifySessionLoad: LOAD,
  fastifySessionWrite: WRITE,
  fastifySessionPersist: PERSIST,
  fastifySessionIncrement: INCREMENT,
  fastifySessionSetTtl: SET_TTL,
  fastifySessionRemaining: REMAINING,
  fastifySessionTake: TAKE,
  fastifySessionRenew: RENEW,
  fastifySessionReplace: REPLACE,
  fastifySessionDestroy: DESTROY
} as const

/** The names of the scripted commands, for the tests that check each one runs. */
export const SCRIPT_NAMES = Object.keys(SCRIPTS) as Array<keyof typeof SCRIPTS>

type Arg = string | number
/** A renewal's marker answered: the new key's ref, in a one-element array. */
type Forwarded = [string]

/** The client with our scripted commands on it. A local type: it never leaks into users' ioredis types. */
export type ScriptedRedis = RedisClient & {
  fastifySessionLoad (key: string, now: string, defaultTtl: number): Promise<string[] | 0 | null>
  fastifySessionWrite (key: string, mode: 'new' | 'restore', ttl: number, end: string, ...fieldsAndValues: Arg[]): Promise<number>
  fastifySessionPersist (key: string, slideNow: string, defaultTtl: number, maxFields: number, maxBytes: number, setCount: number, ...fieldsValuesThenDeletes: Arg[]): Promise<number | Forwarded>
  fastifySessionIncrement (key: string, field: string, by: number, slideNow: string, defaultTtl: number, maxFields: number): Promise<string | null | Forwarded>
  fastifySessionSetTtl (key: string, ttl: number): Promise<number | Forwarded>
  fastifySessionRemaining (key: string): Promise<number>
  fastifySessionTake (key: string, now: string, markerTtl: number): Promise<string[]>
  fastifySessionRenew (key: string, now: string, markerTtl: number, newRef: string, graceMs: number): Promise<string[]>
  fastifySessionReplace (key: string, now: string, markerTtl: number): Promise<number>
  fastifySessionDestroy (key: string, now: string): Promise<0 | 1 | 2 | Forwarded>
}

/** Define the scripts on a client once. Safe to call for every store that shares the client. */
export function defineScripts (redis: RedisClient): ScriptedRedis {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') {
      redis.defineCommand(name, { numberOfKeys: 1, lua })
    }
  }
  return redis as ScriptedRedis
}
