// The per-user index: which sessions a user has, for "your devices" pages and "log out everywhere".
//
// A session filed under a user holds the reserved field `session_user` (and `session_label`, a
// caller-chosen text such as the user agent). The user's index is a sorted set at
// `${prefix}user:${userId}`: its members are the user's session keys without the prefix (the IDs),
// each scored by the time (ms, Redis's clock) its session expires at the latest, as of its last filing. Every script here touches one key, so on Redis Cluster each step is one
// slot; the order of the steps is what makes it safe:
//
// - Filed first, written second. A session is added to its index (create(data, { user }),
//   setUser(), regenerate()'s new ID) before the session itself says so; a failure in between leaves
//   an index entry without a session, which the next call that meets it removes, never a session
//   missing from its index. So "log out everywhere" cannot miss a session that exists when it starts.
// - The index expires with its last session. Filing scores the session its TTL from now (plus
//   SLACK_MS for the step between the two writes) and sets the index to expire at its highest score;
//   a load that slides a session with a user files it again (the only extra command, and only for
//   sessions with a user, and with touchAfter only when the session is touched).
// - Entries are pruned when met: listing, or ending sessions, removes members whose session is gone,
//   and every filing drops the entries whose score has passed (their sessions cannot be live), so
//   the index of a user who logs in often stays as small as their live sessions.
//
// Public handles (listUserSessions) are a hash of the member: they identify a session to its user but
// are not an ID, so a handle shown in a page or a log cannot be used as a cookie.
import { createHash } from 'node:crypto'
import type { RedisClient } from './types'

export const SESSION_USER = 'session_user'
export const SESSION_LABEL = 'session_label'
/** The index's expiry runs this far past its latest session's, to cover the step between the two writes. */
export const SLACK_MS = 2000
export const MAX_USER_BYTES = 512
export const MAX_LABEL_BYTES = 512

/** The public handle of a session: 22 characters of base64url, from the member (never the ID itself). */
export function handleOf (member: string): string {
  return createHash('sha256').update('fastify-redis-hash-session handle\0').update(member).digest('base64url').slice(0, 22)
}

/**
 * File a session in its user's index (or file it again after it slid): score it the latest time it
 * can expire, drop entries whose time has passed, and let the index expire with its latest entry.
 * KEYS[1] = the index, ARGV[1] = the member, ARGV[2] = milliseconds from now the session can live
 * at most. Returns 1.
 */
const FILE = `
local t = redis.call('TIME')
-- Milliseconds with the microseconds as a fraction: every filing gives a new score (see PRUNE).
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2])))
return 1
`

/**
 * Remove members from an index; the index goes when it is empty. KEYS[1] = the index, ARGV = members.
 * Returns how many were removed.
 */
/**
 * Remove entries that a caller found stale, but only if each still has the score the caller read:
 * an entry filed again meanwhile (a login whose session was not written yet when the caller looked)
 * stays. KEYS[1] = the index, ARGV = member, score, member, score, ... Returns how many were removed.
 */
const PRUNE = `
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return removed
`

const UNFILE = `
local removed = redis.call('ZREM', KEYS[1], unpack(ARGV))
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return removed
`

/**
 * setUser(): record the user (and label) in a live session. KEYS[1] = the session,
 * ARGV[1] = user, ARGV[2] = label or '' (none). Returns the previous user ('' for none), or false
 * when the session is gone (nothing written then).
 */
const SET_USER = `
if redis.call('HEXISTS', KEYS[1], 'created_at') == 0 then return false end
local previous = redis.call('HGET', KEYS[1], 'session_user') or ''
redis.call('HSET', KEYS[1], 'session_user', ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'session_label')
else redis.call('HSET', KEYS[1], 'session_label', ARGV[2]) end
return previous
`

/**
 * What a user's session list shows of one session, changing nothing. KEYS[1] = the session,
 * ARGV[1] = the user. Returns { created_at, last_accessed_at, label, seconds left }, or false when the
 * session is gone or is no longer this user's (so the index entry is stale).
 */
const DESCRIBE = `
local v = redis.call('HMGET', KEYS[1], 'created_at', 'last_accessed_at', 'session_label', 'session_user', 'session_expires')
if not v[1] or v[4] ~= ARGV[1] then return false end
if v[5] and tonumber(v[5]) and tonumber(v[5]) <= tonumber(redis.call('TIME')[1]) then return false end
return { v[1], v[2] or '', v[3] or '', redis.call('TTL', KEYS[1]) }
`

/**
 * destroyUserSession(s): delete a live session only if it is still this user's. KEYS[1] = the session,
 * ARGV[1] = the user. Returns 1 when deleted, 0 otherwise.
 */
const DESTROY_FOR_USER = `
if redis.call('HGET', KEYS[1], 'session_user') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'created_at') == 0 then return 0 end
redis.call('DEL', KEYS[1])
return 1
`

const SCRIPTS = {
  fastifySessionUserFile: FILE,
  fastifySessionUserUnfile: UNFILE,
  fastifySessionUserPrune: PRUNE,
  fastifySessionSetUser: SET_USER,
  fastifySessionDescribe: DESCRIBE,
  fastifySessionDestroyForUser: DESTROY_FOR_USER
} as const

export const USER_SCRIPT_NAMES = Object.keys(SCRIPTS) as Array<keyof typeof SCRIPTS>

/** The client with the index's scripted commands on it (a local type, as in scripts.ts). */
export type UserIndexRedis = RedisClient & {
  fastifySessionUserFile (index: string, member: string, keepMs: number): Promise<number>
  fastifySessionUserUnfile (index: string, ...members: string[]): Promise<number>
  fastifySessionUserPrune (index: string, ...membersAndScores: string[]): Promise<number>
  fastifySessionSetUser (key: string, user: string, label: string): Promise<string | null>
  fastifySessionDescribe (key: string, user: string): Promise<[string, string, string, number] | null>
  fastifySessionDestroyForUser (key: string, user: string): Promise<number>
  zrange (key: string, start: number, stop: number, withScores?: 'WITHSCORES'): Promise<string[]>
}

export function defineUserIndexScripts (redis: RedisClient): UserIndexRedis {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') {
      redis.defineCommand(name, { numberOfKeys: 1, lua })
    }
  }
  return redis as UserIndexRedis
}
