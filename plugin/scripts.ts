// The Lua scripts of the session data model. Each touches exactly one key, passed as KEYS[1] and never
// built inside the script, so the same code runs on Redis Cluster and honours an ioredis `keyPrefix`.
// They are registered with ioredis defineCommand (EVALSHA with the cached SHA, EVAL on NOSCRIPT),
// once per client: a client shared by several apps or stores is set up by the first one.
import type { RedisClient } from './types'

/**
 * onRequest: load a session and slide its expiry in one atomic round trip.
 * ARGV[1] = now (ISO 8601), ARGV[2] = the default TTL for a hash that lacks a valid session_ttl.
 * Returns the hash as a flat [field, value, ...] array with last_accessed_at already updated,
 * or an empty array when the key does not exist (nothing is written then).
 */
const LOAD = `
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return h end
local ttl
for i = 1, #h, 2 do
  if h[i] == 'session_ttl' then ttl = tonumber(h[i + 1])
  elseif h[i] == 'last_accessed_at' then h[i + 1] = ARGV[1] end
end
if not ttl or ttl < 1 then ttl = tonumber(ARGV[2]) end
redis.call('HSET', KEYS[1], 'last_accessed_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ttl)
return h
`

/**
 * Create a new session hash with its TTL in one atomic step. Refuses to touch a key that exists.
 * ARGV[1] = TTL in seconds, ARGV[2..] = field, value, field, value, ... (reserved fields included).
 * Returns 1 when written, 0 when the key already existed.
 */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`

/**
 * onSend and save(): write only the fields this request changed, and only while the session exists,
 * so a request that raced a logout or an expiry never brings the session back.
 * ARGV[1] = n, then n field/value pairs to set, then the fields to delete.
 * Returns 1 when written, 0 when the session was gone.
 */
const PERSIST = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 2 * n + 1)) end
if #ARGV > 2 * n + 1 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 * n + 2)) end
return 1
`

/**
 * Atomic counter that never creates a key: HINCRBY only while the session exists.
 * ARGV[1] = field, ARGV[2] = increment. Returns the new value, or nil when the session is gone.
 */
const INCREMENT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
`

/**
 * Change a session's own TTL: the stored session_ttl and the key's expiry together.
 * ARGV[1] = TTL in seconds. Returns 1, or 0 when the session is gone.
 */
const SET_TTL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'session_ttl', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`

/**
 * regenerate(): read and delete the old session in one step, so the caller copies its latest
 * state (counts from concurrent requests included) and nobody can use the old ID afterwards.
 * Returns the hash as a flat array, empty when the session was already gone.
 */
const TAKE = `
local h = redis.call('HGETALL', KEYS[1])
if #h > 0 then redis.call('DEL', KEYS[1]) end
return h
`

const SCRIPTS = {
  fastifySessionLoad: LOAD,
  fastifySessionCreate: CREATE,
  fastifySessionPersist: PERSIST,
  fastifySessionIncrement: INCREMENT,
  fastifySessionSetTtl: SET_TTL,
  fastifySessionTake: TAKE
} as const

type Arg = string | number

/** The client with our scripted commands on it. A local type: it never leaks into users' ioredis types. */
export type ScriptedRedis = RedisClient & {
  fastifySessionLoad (key: string, now: string, defaultTtl: number): Promise<string[]>
  fastifySessionCreate (key: string, ttl: number, ...fieldsAndValues: Arg[]): Promise<number>
  fastifySessionPersist (key: string, setCount: number, ...fieldsValuesThenDeletes: Arg[]): Promise<number>
  fastifySessionIncrement (key: string, field: string, by: number): Promise<number | null>
  fastifySessionSetTtl (key: string, ttl: number): Promise<number>
  fastifySessionTake (key: string): Promise<string[]>
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
