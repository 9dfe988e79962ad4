// RedisSessionStore: the session data model. One hash per session at `${prefix}${id}` holding the
// application's fields plus three reserved ones, an expiry that slides by the session's own TTL, and
// every multi-step change done atomically by a script in scripts.ts.
import { createHash, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { encodeValue } from './codec'
import { Deadline } from './deadline'
import { CHANNELS, type SessionEventName, type SessionEvents } from './events'
import {
  FieldTooLargeError, InvalidFieldError, InvalidTtlError, InvalidValueError, NOTHING_WRITTEN, NotAnIntegerError,
  NOT_SENT, OUTCOME_UNKNOWN, RETRY, RedisReplyError, RedisUnavailableError, ReservedFieldError, SessionTooLargeError, UnsafeIntegerError, notSent
} from './errors'
import { MAX_TTL, resolveStoreOptions, type ResolvedStoreOptions } from './options'
import { type ExpiredEvents, watchExpiredKeys } from './expired-events'
import { Readiness } from './readiness'
import { defineScripts, type ScriptedRedis } from './scripts'
import type { GetSessionOptions, IORedisClient, RedisSessionStoreOptions, SessionValue, StoredSession, UserSession } from './types'
import {
  MAX_LABEL_BYTES, MAX_USER_BYTES, SESSION_LABEL, SESSION_USER, SLACK_MS, defineUserIndexScripts, handleOf, type UserIndexRedis
} from './user-index'
import { Warnings } from './warnings'

export const CREATED_AT = 'created_at'
export const LAST_ACCESSED_AT = 'last_accessed_at'
export const SESSION_TTL = 'session_ttl'
/** With absoluteTtl: when the session ends however active it is, in Unix seconds. */
export const SESSION_EXPIRES = 'session_expires'
/** When the session got its current ID (Unix seconds), written when an ID is renewed or regenerated; else created_at says. */
export const SESSION_ISSUED = 'session_issued'
/** Fields the store owns: the application can read them but never write or delete them. */
export const RESERVED_FIELDS: ReadonlySet<string> = new Set([CREATED_AT, LAST_ACCESSED_AT, SESSION_TTL, SESSION_EXPIRES, SESSION_USER, SESSION_LABEL, SESSION_ISSUED])
/** Seconds a rotation marker stays at an ID that a login or regenerate() retired (see scripts.ts). */
export const ROTATION_MARKER_TTL = 60
/** Seconds the companion of a rotation marker (for the `expired` event) lives: longer than the marker. */
const RETIRED_MARK_TTL = ROTATION_MARKER_TTL + 30
/** What load() answers for an ID that a login or regenerate() retired moments ago. */
export const ROTATED = 0

/**
 * What an operation meets at an ID that the renewal timeout moved on less than rotateGrace ago: where
 * the session is now. `id` addresses the new key for the store's methods, but is not the new ID (with
 * hashIds Redis does not even hold that), so it can never become a cookie.
 */
export class Forward {
  constructor (readonly id: string) {}
}
/** A Forward's id is the new key's ref behind this mark, which no session ID contains. */
const FORWARD_MARK = '>'

export type Loaded = Map<string, string> | null | typeof ROTATED | Forward

/** @internal A session load() served as it was, nothing slid (touchAfter's window). */
export class Unslid extends Map<string, string> {}

/** A script's one-element array answer: a renewal's marker, forwarding to the ref in it. */
function forwarded (reply: unknown): Forward | undefined {
  return Array.isArray(reply) && reply.length === 1 ? new Forward(FORWARD_MARK + String(reply[0])) : undefined
}

// 32 random bytes in base64url are 43 characters; the last one carries 4 bits, so only 16 letters fit.
const ID_SHAPE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/

let lastMs = 0
let lastIso = ''
let windowMs = 0
let windowIso = ''
/** A time (ms) as ISO 8601: the last one asked for is kept, as it is asked again for every read. */
function isoAt (ms: number): string {
  if (ms !== windowMs) {
    windowMs = ms
    windowIso = new Date(ms).toISOString()
  }
  return windowIso
}

/** The current time as ISO 8601, formatted at most once per millisecond. */
export function nowIso (): string {
  const ms = Date.now()
  if (ms !== lastMs) {
    lastMs = ms
    lastIso = new Date(ms).toISOString()
  }
  return lastIso
}

// randomBytes() per ID costs a call into OpenSSL each time; 128 IDs' worth at once costs about one.
const ID_BYTES = 32
const POOL_SIZE = ID_BYTES * 128
let pool = Buffer.alloc(0)
let poolOffset = 0

/** A new session ID: 256 bits from the CSPRNG, base64url. */
export function generateId (): string {
  if (poolOffset === pool.length) {
    pool = randomBytes(POOL_SIZE)
    poolOffset = 0
  }
  const id = pool.toString('base64url', poolOffset, poolOffset + ID_BYTES)
  // Never hand out the same bytes twice.
  pool.fill(0, poolOffset, poolOffset += ID_BYTES)
  return id
}

/** Whether a value has the exact shape of an ID we issue; anything else never reaches Redis. */
export function isValidId (id: unknown): id is string {
  return typeof id === 'string' && id.length === 43 && ID_SHAPE.test(id)
}

/** A stored session_ttl, by the load script's rule; undefined when missing or not valid. */
export function parseTtl (stored: string | undefined): number | undefined {
  if (stored === undefined || !/^[1-9]\d{0,9}$/.test(stored)) return undefined
  const ttl = Number(stored)
  return ttl <= MAX_TTL ? ttl : undefined
}

export function checkTtl (ttl: unknown): number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) {
    throw new InvalidTtlError(String(ttl))
  }
  return ttl
}

/** A flat [field, value, ...] reply as a Map. */
export function toMap (flat: string[]): Map<string, string> {
  const map = new Map<string, string>()
  for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1])
  return map
}

function utf8Bytes (s: string, limit: number): number {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no counting.
  return s.length * 3 <= limit ? s.length : Buffer.byteLength(s)
}

function describe (value: unknown): string {
  if (typeof value === 'number') return String(value)
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array with a value that is not JSON' : 'an object that is not plain JSON (or holds such a value)'
  return typeof value
}

export class RedisSessionStore extends EventEmitter<SessionEvents> {
  readonly #redis: ScriptedRedis
  readonly #users: UserIndexRedis
  readonly #options: ResolvedStoreOptions
  readonly #warnings: Warnings
  readonly #readiness: Readiness
  /** What follows the prefix in a session's key: the ID, or with hashIds its SHA-256. */
  readonly #ref: (id: string) => string
  /** Which IDs the public methods take: IDs, or (the CLI with --hash-ids) the hashes in the keys. */
  readonly #accepts: (id: unknown) => id is string
  /** Which key names under the prefix are sessions. */
  readonly #isRef: (ref: string) => boolean
  readonly #serverPrefix: string
  /**
   * touchAfter's plain read is used: touchAfter is set, and reads go to the masters. (A Cluster
   * client with scaleReads would send a plain HGETALL to a replica, which may still hold a session
   * that was just logged out; then every load is the script, as without touchAfter's plain read.)
   */
  readonly #peeks: boolean
  /** The expired-key subscribers, with expiredEvents. */
  #expiries: ExpiredEvents | undefined

  constructor (options: RedisSessionStoreOptions) {
    super()
    this.#options = resolveStoreOptions(options)
    const byHash = (options as { [kByHash]?: boolean })[kByHash] === true
    const ref = this.#options.hashIds ? hashId : (id: string): string => id
    // A Forward's id names its key's ref directly.
    this.#ref = (id) => id.charCodeAt(0) === 62 ? id.slice(1) : ref(id)
    this.#accepts = byHash ? isHashRef : isValidId
    this.#isRef = this.#options.hashIds || byHash ? isHashRef : isValidId
    this.#redis = defineScripts(this.#options.redis)
    this.#users = defineUserIndexScripts(this.#options.redis)
    this.#warnings = new Warnings(this.#options.log)
    this.#readiness = new Readiness(this.#redis)
    // Keyspace notifications name keys as the server holds them: an ioredis keyPrefix in front.
    this.#serverPrefix = ((this.#redis as unknown as Scanner).options?.keyPrefix ?? '') + this.#options.prefix
    const scaleReads = (this.#redis as unknown as Scanner).options?.scaleReads
    this.#peeks = this.#options.touchAfter > 0 && (scaleReads === undefined || scaleReads === 'master')
    const mode = this.#options.expiredEvents
    if (mode !== false) this.#expiries = watchExpiredKeys(this.#options.redis, mode, (key) => { this.#onExpired(key) }, this.#warnings)
  }

  /** The key namespace. */
  get prefix (): string { return this.#options.prefix }
  /** The default idle TTL in seconds. */
  get ttl (): number { return this.#options.ttl }
  /** The ioredis client it was given, typed as the application's ioredis (5 or 6, whichever it resolves). */
  get redis (): IORedisClient { return this.#redis as unknown as IORedisClient }
  /** Milliseconds of waiting for Redis one request (or one store call) may spend. */
  get timeout (): number { return this.#options.timeout }

  /** The Redis key of a session, as `redis-cli` sees it (an ioredis `keyPrefix` comes in front); with hashIds it holds the ID's SHA-256, not the ID. */
  key (id: string): string {
    return this.#options.prefix + this.#ref(id)
  }

  /** Check a field name for a write; throws a coded error. */
  checkField (field: unknown): string {
    if (typeof field !== 'string' || field.length === 0) throw new InvalidFieldError(describe(field))
    if (RESERVED_FIELDS.has(field)) throw new ReservedFieldError(field)
    const max = this.#options.maxFieldNameBytes
    const bytes = utf8Bytes(field, max)
    if (bytes > max) throw new FieldTooLargeError('name', bytes, max, 'maxFieldNameBytes')
    return field
  }

  /** Check a counter field and its increment; throws a coded error. */
  checkIncrement (field: unknown, by: unknown): void {
    this.checkField(field)
    if (!Number.isSafeInteger(by)) throw new InvalidValueError(field as string, `increment ${describe(by)} is not a whole number`)
  }

  /** Check a field and its value for a write and return the string Redis will hold (see codec.ts). */
  encode (field: unknown, value: SessionValue): string {
    const name = this.checkField(field)
    const s = encodeValue(value)
    if (s === undefined) throw new InvalidValueError(name, describe(value))
    // The limit applies to the stored form.
    const max = this.#options.maxFieldValueBytes
    const bytes = utf8Bytes(s, max)
    if (bytes > max) throw new FieldTooLargeError(`"${name}" value`, bytes, max, 'maxFieldValueBytes')
    return s
  }

  /** Check a whole record before anything is written: one bad field rejects it all. An undefined value is a delete (null). */
  encodeRecord (data: unknown): Array<[string, string | null]> {
    if (data === undefined) return []
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new InvalidValueError('(record)', 'expected an object of field: value pairs')
    }
    return Object.entries(data as Record<string, SessionValue | undefined>).map(([field, value]) =>
      [field, value === undefined ? (this.checkField(field), null) : this.encode(field, value)])
  }

  /** A new session's fields from a record: undefined values are left out. */
  /** @internal */
  newFields (data: unknown): Map<string, string> {
    const fields = new Map<string, string>()
    for (const [field, value] of this.encodeRecord(data)) if (value !== null) fields.set(field, value)
    return fields
  }

  // ---------------------------------------------------------------------------------------------
  // Public operations, usable outside HTTP. None of them creates a key except createSession().
  // Each call gets the whole `timeout`; inside a request, the Session's one deadline is spent instead.

  /** Create a session holding `data` with its own TTL (default: the store's); returns the new ID. */
  async createSession (data?: Record<string, SessionValue>, ttl?: number): Promise<string> {
    const fields = this.newFields(data)
    const sessionTtl = ttl === undefined ? this.#options.ttl : checkTtl(ttl)
    const id = generateId()
    await this.write(id, fields, sessionTtl, this.#deadline())
    this.event('created', id, undefined)
    return id
  }

  /** Every field of the session (reserved ones included), or null. Slides the TTL (as a request's load does, touchAfter included) unless `refreshTtl: false`. */
  async getSession (id: string, options: GetSessionOptions = {}): Promise<StoredSession | null> {
    if (!this.#accepts(id)) return null
    const deadline = this.#deadline()
    const fields = options.refreshTtl === false ? await this.#read(id, deadline) : await this.load(id, deadline)
    return fields instanceof Map ? Object.fromEntries(fields) : null
  }

  /** Atomically add `by` to an integer field and return the new value; null when the session does not exist. */
  async incrementField (id: string, field: string, by = 1): Promise<number | null> {
    this.checkIncrement(field, by)
    if (!this.#accepts(id)) return null
    // An ID a renewal moved on is no session here, as for getSession().
    const value = await this.increment(id, field, by, this.#deadline())
    return value instanceof Forward ? null : value
  }

  /** Change a session's own TTL (stored field and key expiry, atomically); false when the session does not exist. */
  async setTtl (id: string, ttl: number): Promise<boolean> {
    checkTtl(ttl)
    if (!this.#accepts(id)) return false
    return await this.changeTtl(id, ttl, this.#deadline()) === true
  }

  /** The session's configured TTL in seconds (the default when the stored one is not valid), or null when it does not exist. */
  async getConfiguredTtl (id: string): Promise<number | null> {
    if (!this.#accepts(id)) return null
    const fields = await this.#read(id, this.#deadline())
    return fields instanceof Map ? parseTtl(fields.get(SESSION_TTL)) ?? this.#options.ttl : null
  }

  /** Seconds before the session expires, as Redis TTL answers: -2 when it does not exist. */
  async remainingTtl (id: string): Promise<number> {
    if (!this.#accepts(id)) return -2
    return await this.remaining(id, this.#deadline())
  }

  /** Delete a session; true when it existed. */
  async deleteSession (id: string): Promise<boolean> {
    if (!this.#accepts(id)) return false
    const deleted = await this.delete(id, this.#deadline())
    if (deleted) this.event('destroyed', id, undefined)
    return deleted
  }

  /** @internal Emit a lifecycle event (and publish it on its diagnostics channel) for the session `id`. */
  event (name: Exclude<SessionEventName, 'regenerated' | 'rotated'>, id: string, user: string | undefined): void
  event (name: 'regenerated' | 'rotated', id: string, user: string | undefined, previous: string): void
  event (name: SessionEventName, id: string, user: string | undefined, previous?: string): void {
    this.#eventForRef(name, this.#ref(id), user, previous === undefined ? undefined : this.#ref(previous))
  }

  #eventForRef (name: SessionEventName, ref: string, user: string | undefined, previousRef?: string): void {
    const ch = CHANNELS[name]
    if (this.listenerCount(name) === 0 && !ch.hasSubscribers) return
    const event = previousRef === undefined ? { handle: handleOf(ref), user } : { handle: handleOf(ref), user, previous: handleOf(previousRef) }
    // A listener that throws must not fail the operation Redis has already confirmed.
    try {
      if (ch.hasSubscribers) ch.publish(event)
      ;(this.emit as (name: string, event: object) => boolean)(name, event)
    } catch (err) {
      this.#warnings.warn('LISTENER', `fastify-redis-hash-session: a "${name}" event listener threw (${(err as Error).message}); the session change itself stands`)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Per-user sessions (see user-index.ts for the index and why its steps are safe on Cluster).

  /** The Redis key of a user's index. */
  userIndexKey (user: string): string {
    return this.#options.prefix + 'user:' + user
  }

  /** File a live session under a user (with an optional label, such as the user agent); false when the session does not exist. */
  async setUser (id: string, user: string, options: { label?: string } = {}): Promise<boolean> {
    checkUser(user)
    const label = checkLabel(options.label)
    if (!this.#accepts(id)) return false
    const deadline = this.#deadline()
    const fields = await this.#read(id, deadline)
    if (!(fields instanceof Map)) return false
    const ttl = parseTtl(fields.get(SESSION_TTL)) ?? this.#options.ttl
    return await this.assignUser(id, user, label, ttl, deadline, fields.get(SESSION_EXPIRES))
  }

  /**
   * The user's live sessions, most recently used first: each one's public handle (not usable as a
   * cookie), times, expiry and label. Entries whose session is gone are removed from the index.
   */
  async listUserSessions (user: string): Promise<UserSession[]> {
    checkUser(user)
    const deadline = this.#deadline()
    const [members, scores] = await this.#entries(user, deadline)
    const found = await Promise.all(members.map((member) => this.#send(deadline, false, () => this.#users.fastifySessionDescribe(this.#options.prefix + member, user))))
    const sessions: UserSession[] = []
    const stale: string[] = []
    const now = Date.now()
    for (let i = 0; i < members.length; i++) {
      const row = found[i]
      if (row === null) {
        stale.push(members[i], scores[i])
        continue
      }
      const [createdAt, lastAccessedAt, label, left] = row
      sessions.push({
        handle: handleOf(members[i]),
        createdAt: new Date(createdAt),
        lastAccessedAt: new Date(lastAccessedAt === '' ? createdAt : lastAccessedAt),
        expiresAt: new Date(now + Math.max(0, Number(left)) * 1000),
        label: label === '' ? undefined : label
      })
    }
    if (stale.length > 0) await this.#prune(user, stale, deadline)
    return sessions.sort((a, b) => b.lastAccessedAt.getTime() - a.lastAccessedAt.getTime())
  }

  /** End one of the user's sessions by its handle; false when the user has no such session. */
  async destroyUserSession (user: string, handle: string): Promise<boolean> {
    checkUser(user)
    if (typeof handle !== 'string') return false
    const deadline = this.#deadline()
    const [members, scores] = await this.#entries(user, deadline)
    const i = members.findIndex((m) => handleOf(m) === handle)
    if (i === -1) return false
    const member = members[i]
    const deleted = await this.#send(deadline, true, () => this.#users.fastifySessionDestroyForUser(this.#options.prefix + member, user))
    await this.#prune(user, [member, scores[i]], deadline)
    if (deleted === 1) this.#eventForRef('destroyed', member, user)
    return deleted === 1
  }

  /**
   * Log the user out everywhere: end every session filed under the user when this starts, except the
   * one whose handle is `except` (the current one, say). Returns how many were ended.
   */
  async destroyUserSessions (user: string, options: { except?: string } = {}): Promise<number> {
    checkUser(user)
    // { except: request.session.handle } on a request without a loaded session would end that one too.
    if (Object.hasOwn(options, 'except') && typeof options.except !== 'string') {
      throw new InvalidValueError('(except)', 'expected a session handle (request.session.handle), got ' + describe(options.except) + '; on a lazy route, call `await request.session.load()` first')
    }
    const deadline = this.#deadline()
    const [all, allScores] = await this.#entries(user, deadline)
    const members: string[] = []
    const read: string[] = []
    for (const [i, m] of all.entries()) {
      if (options.except !== undefined && handleOf(m) === options.except) continue
      members.push(m)
      read.push(m, allScores[i])
    }
    if (members.length === 0) return 0
    // Each session is its own key (its own slot on a Cluster): one script each, sent together. Every
    // confirmed delete counts and is reported, even when another fails; then the failure is thrown.
    const results = await Promise.allSettled(members.map((member) => this.#send(deadline, true, () => this.#users.fastifySessionDestroyForUser(this.#options.prefix + member, user))))
    const ended: string[] = []
    let failure: unknown
    for (const [i, result] of results.entries()) {
      if (result.status === 'rejected') failure ??= result.reason
      else if (result.value === 1) ended.push(members[i])
    }
    for (const member of ended) this.#eventForRef('destroyed', member, user)
    if (failure !== undefined) throw failure
    // Entries filed again meanwhile (a login still being written) stay: see PRUNE.
    await this.#prune(user, read, deadline).catch(noop)
    return ended.length
  }

  /** @internal The members of a user's index (session IDs, live or not yet pruned), for the CLI. */
  async userMembers (user: string): Promise<string[]> {
    checkUser(user)
    return await this.#send(this.#deadline(), false, () => this.#users.zrange(this.userIndexKey(user), 0, -1))
  }

  /** A user's index: its members (refs) and their scores, as Redis formats them. */
  async #entries (user: string, deadline: Deadline): Promise<[string[], string[]]> {
    const flat = await this.#send(deadline, false, () => this.#users.zrange(this.userIndexKey(user), 0, -1, 'WITHSCORES'))
    const members: string[] = []
    const scores: string[] = []
    for (let i = 0; i < flat.length; i += 2) {
      members.push(flat[i])
      scores.push(flat[i + 1])
    }
    return [members, scores]
  }

  /** Remove index entries found stale, each only if it still has the score it was read with. */
  async #prune (user: string, membersAndScores: string[], deadline: Deadline): Promise<void> {
    await this.#send(deadline, true, () => this.#users.fastifySessionUserPrune(this.userIndexKey(user), ...membersAndScores))
  }

  /** The public handle of a session ID: what listUserSessions() shows for it. */
  handle (id: string): string {
    return handleOf(this.#ref(id))
  }

  /**
   * @internal File a session under a user: the index first (so a live session is never missing from
   * it), then the session's own fields. False when the session is gone (its index entry is removed).
   */
  async assignUser (id: string, user: string, label: string, ttl: number, deadline: Deadline, endsAt?: string): Promise<boolean> {
    await this.file(user, id, ttl, deadline, endsAt)
    const previous = await this.#send(deadline, true, () => this.#users.fastifySessionSetUser(this.key(id), user, label))
    if (previous === null) {
      await this.unfile(user, [id], deadline)
      return false
    }
    // Filed again now that the session says so: a listing that ran between the two steps may have
    // pruned the entry, seeing a session not (yet) filed under the user.
    await this.file(user, id, ttl, deadline, endsAt)
    // Moved from another user: that index no longer lists it (a stale entry would be pruned anyway).
    if (previous !== '' && previous !== user) await this.unfile(previous, [id], deadline).catch(noop)
    return true
  }

  /**
   * @internal Add (or renew) a session in its user's index, which then expires with its longest-lived
   * entry: the session's TTL from now, or its absolute end (`endsAt`, Unix seconds) when that is sooner.
   */
  async file (user: string, id: string, ttl: number, deadline: Deadline, endsAt?: string): Promise<void> {
    const end = endsAt === undefined ? Infinity : Number(endsAt) * 1000 - Date.now()
    const keepMs = Math.max(0, Math.min(ttl * 1000, end)) + SLACK_MS
    await this.#send(deadline, true, () => this.#users.fastifySessionUserFile(this.userIndexKey(user), this.#ref(id), keepMs))
  }

  /** @internal A new session's absolute end (Unix seconds) under absoluteTtl, for filing it before it is written. */
  newSessionEnd (): string | undefined {
    const absolute = this.#options.absoluteTtl
    return absolute > 0 ? String(Math.floor(Date.now() / 1000) + absolute) : undefined
  }

  /** @internal Remove sessions, by their IDs, from a user's index. */
  async unfile (user: string, ids: string[], deadline: Deadline): Promise<void> {
    const refs = ids.map(this.#ref)
    await this.#send(deadline, true, () => this.#users.fastifySessionUserUnfile(this.userIndexKey(user), ...refs))
  }

  // ---------------------------------------------------------------------------------------------
  // Inspection, for operations tools (the CLI): never on a request's path.

  /**
   * Every session ID under the prefix: SCAN (never KEYS) for hashes, `count` keys per step, on every
   * master of a Cluster one after another. A session that lives through the whole scan is seen at
   * least once (SCAN's guarantee; one may be seen twice while Redis resizes its table, and on a
   * Cluster one whose slot moves to an already scanned master meanwhile is missed); keys whose
   * name is not a session ID are skipped. A rotation marker is a hash too: getSession() answers null for it.
   */
  async * sessionIds (options: { count?: number } = {}): AsyncGenerator<string> {
    const count = options.count ?? 1000
    const scanner = this.#redis as unknown as Scanner
    // SCAN's MATCH and its replies are the server's names: an ioredis keyPrefix is not applied to them.
    const serverPrefix = (scanner.options?.keyPrefix ?? '') + this.#options.prefix
    const match = serverPrefix.replace(/[*?[\\\]]/g, '\\$&') + '*'
    const nodes = typeof scanner.nodes === 'function' ? scanner.nodes('master') : [scanner]
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, keys] = await this.#send(this.#deadline(), false, () => node.scan(cursor, 'MATCH', match, 'COUNT', count, 'TYPE', 'hash'))
        cursor = next
        for (const key of keys) {
          const ref = key.slice(serverPrefix.length)
          if (this.#isRef(ref)) yield ref
        }
      } while (cursor !== '0')
    }
  }

  /** Bytes the session's key takes in Redis (MEMORY USAGE), or null when it does not exist. */
  async memoryUsage (id: string): Promise<number | null> {
    if (!this.#accepts(id)) return null
    const redis = this.#redis as unknown as Scanner
    return await this.#send(this.#deadline(), false, () => redis.memory('USAGE', this.key(id), 'SAMPLES', '0'))
  }

  // ---------------------------------------------------------------------------------------------
  // Building blocks the request-scoped Session uses. IDs are checked by the caller; every call spends
  // from the given deadline, and is sent only while the client is connected (never queued).

  /** @internal Load and slide (one round trip; with touchAfter, one plain read inside the window and two when it slides): the hash, null when missing, ROTATED for a rotation marker, a Forward for a renewal's within its grace window. */
  load (id: string, deadline: Deadline, now = nowIso()): Promise<Loaded> {
    // Promises chained, not awaited: this is every request's path, and each await is one more tick.
    if (this.#peeks) {
      return this.#peek(id, deadline).then((untouched) => untouched !== undefined ? untouched : this.#loadAndSlide(id, deadline, now))
    }
    return this.#loadAndSlide(id, deadline, now)
  }

  /** The load script: read and slide. */
  #loadAndSlide (id: string, deadline: Deadline, now: string): Promise<Loaded> {
    return this.#send(deadline, false, () => this.#redis.fastifySessionLoad(this.key(id), now, this.#options.ttl)).then((reply) => {
      if (reply === null) return null
      if (reply === ROTATED) return ROTATED
      // A live hash has at least created_at and its value: one element is a renewal's forward.
      if (reply.length === 1) return forwarded(reply) as Forward
      if (reply.length % 2 === 1) {
        const refusal = reply.pop() as string
        this.#warnings.warn(refusal.split(' ', 1)[0], `fastify-redis-hash-session: Redis refuses writes (${refusal.split(' ', 1)[0]}); sessions are served without sliding their expiry until it accepts writes again`)
      }
      return toMap(reply)
    }, async (err: unknown) => {
      if (redisCode(err) !== 'READONLY') throw err
      // A replica (after a failover, say) refuses scripts: serve the session without sliding it.
      this.#warnings.warn('READONLY', 'fastify-redis-hash-session: Redis is read-only (a replica?); sessions are served without sliding their expiry and cannot change until it accepts writes again')
      return await this.#read(id, deadline)
    })
  }

  /**
   * touchAfter's read that writes nothing: one plain HGETALL, no script (a script's call and the
   * conversion of its reply cost Redis more than the two writes it would skip). The session as it
   * is while it was slid less than the window ago, null when the key does not exist; undefined for
   * everything else, which the load script then does: a slide is due, a rotation marker, a session
   * at its absolute end. "Slid" is last_accessed_at, which every slide writes, read by this server's
   * clock; a value in the future (another server's clock ahead), malformed or missing counts as due,
   * so a skewed clock costs slides, never a session.
   */
  #peek (id: string, deadline: Deadline): Promise<Unslid | null | undefined> {
    return this.#send(deadline, false, () => this.#redis.hgetall(this.key(id))).then((hash) => {
      const fields = new Unslid()
      for (const field in hash) fields.set(field, hash[field])
      if (fields.size === 0) return null
      if (!fields.has(CREATED_AT)) return undefined
      // nowIso()'s format sorts as it counts: a string compare, no parsing, on the common path.
      const last = fields.get(LAST_ACCESSED_AT)
      if (last === undefined || last.length !== 24 || last > nowIso()) return undefined
      const ttl = parseTtl(fields.get(SESSION_TTL)) ?? this.#options.ttl
      const now = Date.now()
      const end = fields.get(SESSION_EXPIRES)
      if (end !== undefined) {
        // absoluteTtl: at its end (within a second, for the clocks' sake) the script ends it; once the
        // last slide took the key's expiry to the end, no slide can add to it.
        const endMs = Number(end) * 1000
        if (!(endMs - now > 1000)) return undefined
        if (Date.parse(last) + ttl * 1000 >= endMs) return fields
      }
      // The window: touchAfter, at most half the session's own TTL.
      const after = Math.min(this.#options.touchAfter, Math.floor(ttl / 2)) * 1000
      return after > 0 && last > isoAt(now - after) ? fields : undefined
    })
  }

  /** The hash as it is, changing nothing. */
  async #read (id: string, deadline: Deadline): Promise<Loaded> {
    const flat = await this.#send(deadline, false, () => this.#redis.hgetall(this.key(id)))
    if (Object.keys(flat).length === 0) return null
    const fields = new Map(Object.entries(flat))
    if (!fields.has(CREATED_AT)) return ROTATED
    // Past its absolute end (absoluteTtl) it is no session, though its key may linger for a second.
    const end = fields.get(SESSION_EXPIRES)
    return end !== undefined && Number(end) * 1000 <= Date.now() ? null : fields
  }

  /**
   * @internal Write a new session (application fields from `fields`, reserved ones set here)
   * with its TTL, atomically. `createdAt` is kept by regenerate(). Returns the full hash as written.
   */
  async write (id: string, fields: Map<string, string>, ttl: number, deadline: Deadline, createdAt?: string): Promise<Map<string, string>> {
    const now = nowIso()
    const hash = new Map(fields)
    hash.set(CREATED_AT, createdAt ?? now)
    hash.set(LAST_ACCESSED_AT, now)
    hash.set(SESSION_TTL, String(ttl))
    // A new session (not a regenerate(), which brings its own) gets its absolute end, unless the
    // caller decided it already (create() with a user files the session under it first).
    if (createdAt === undefined && !hash.has(SESSION_EXPIRES)) {
      const end = this.newSessionEnd()
      if (end !== undefined) hash.set(SESSION_EXPIRES, end)
    }
    this.#checkSize(hash)
    // 256 random bits never collide in practice; the script still refuses to overwrite a key.
    if (await this.#send(deadline, true, () => this.#redis.fastifySessionWrite(this.key(id), 'new', ttl, hash.get(SESSION_EXPIRES) ?? '', ...flatten(hash))) !== 1) {
      throw new RedisReplyError('a key with the new session ID already exists')
    }
    return hash
  }

  /** maxFields and maxSessionBytes for a whole new hash (the scripts check changes to a live one). */
  #checkSize (hash: Map<string, string>): void {
    const { maxFields, maxSessionBytes } = this.#options
    if (maxFields === 0 && maxSessionBytes === 0) return
    let fields = 0
    let bytes = 0
    for (const [field, value] of hash) {
      if (!RESERVED_FIELDS.has(field)) fields++
      bytes += Buffer.byteLength(field) + Buffer.byteLength(value)
    }
    if (maxFields > 0 && fields > maxFields) throw new SessionTooLargeError(String(fields), 'fields', maxFields, 'maxFields')
    if (maxSessionBytes > 0 && bytes > maxSessionBytes) throw new SessionTooLargeError(String(bytes), 'bytes', maxSessionBytes, 'maxSessionBytes')
  }

  /** @internal Put back a session that regenerate() took, if its ID still holds the rotation marker. */
  async restore (id: string, hash: Map<string, string>, deadline: Deadline): Promise<boolean> {
    const ttl = parseTtl(hash.get(SESSION_TTL)) ?? this.#options.ttl
    const restored = await this.#send(deadline, true, () => this.#redis.fastifySessionWrite(this.key(id), 'restore', ttl, hash.get(SESSION_EXPIRES) ?? '', ...flatten(hash))) === 1
    // Only once it is back: a refused restore (a logout meanwhile) leaves a marker, still no session.
    if (restored) await this.#retiredMark(id, deadline, false)
    return restored
  }

  /**
   * @internal HINCRBY while the session is live; the caller has checked the ID, field and increment.
   * Null when gone. `slideNow` (a lazy route's write) also slides the session, in the same step.
   */
  async increment (id: string, field: string, by: number, deadline: Deadline, slideNow = ''): Promise<number | null | Forward> {
    const value = await this.#send(deadline, true, () => this.#redis.fastifySessionIncrement(this.key(id), field, by, slideNow, this.#options.ttl, this.#options.maxFields), field)
    return value === null ? null : forwarded(value) ?? Number(value)
  }

  /** @internal Field-level changes while the session is live (null value = delete), sliding it with `slideNow`. False when it was gone. */
  async persist (id: string, changes: Map<string, string | null>, deadline: Deadline, slideNow = ''): Promise<boolean | Forward> {
    const sets: string[] = []
    const deletes: string[] = []
    for (const [field, value] of changes) {
      if (value === null) deletes.push(field)
      else sets.push(field, value)
    }
    const reply = await this.#send(deadline, true, () => this.#redis.fastifySessionPersist(this.key(id), slideNow, this.#options.ttl, this.#options.maxFields, this.#options.maxSessionBytes, sets.length / 2, ...sets, ...deletes))
    return forwarded(reply) ?? reply === 1
  }

  /** @internal The stored session_ttl and the key's expiry, atomically; false when the session is gone. */
  async changeTtl (id: string, ttl: number, deadline: Deadline): Promise<boolean | Forward> {
    const reply = await this.#send(deadline, true, () => this.#redis.fastifySessionSetTtl(this.key(id), ttl))
    return forwarded(reply) ?? reply === 1
  }

  /** @internal Seconds before a live session expires; -2 when it is gone. */
  async remaining (id: string, deadline: Deadline): Promise<number> {
    return await this.#send(deadline, false, () => this.#redis.fastifySessionRemaining(this.key(id)))
  }

  /** @internal Delete a session; true when the key existed. */
  async delete (id: string, deadline: Deadline): Promise<boolean> {
    return await this.#send(deadline, true, () => this.#redis.del(this.key(id))) === 1
  }

  /**
   * @internal A logout: delete a live session (1); at a rotation marker keep the marker and mark it
   * destroyed, so no failed regenerate() puts the session back (2); 0 when there was neither.
   */
  async destroy (id: string, deadline: Deadline): Promise<0 | 1 | 2 | Forward> {
    const reply = await this.#send(deadline, true, () => this.#redis.fastifySessionDestroy(this.key(id), nowIso()))
    return forwarded(reply) ?? reply as 0 | 1 | 2
  }

  /** @internal Read a live session and leave a rotation marker at its ID, atomically; null when it was gone. */
  async take (id: string, deadline: Deadline): Promise<Map<string, string> | null> {
    const flat = await this.#retiring(id, deadline, this.#send(deadline, true, () => this.#redis.fastifySessionTake(this.key(id), nowIso(), ROTATION_MARKER_TTL)))
    return flat.length === 0 ? null : toMap(flat)
  }

  /**
   * @internal The renewal timeout: read a live session and leave at its ID a marker that forwards to
   * `newId` for `graceMs`, atomically. Null when it was gone; a Forward when another request renewed it first.
   */
  async renew (id: string, newId: string, graceMs: number, deadline: Deadline): Promise<Map<string, string> | null | Forward> {
    const flat = await this.#retiring(id, deadline, this.#send(deadline, true, () => this.#redis.fastifySessionRenew(this.key(id), nowIso(), ROTATION_MARKER_TTL, this.#ref(newId), graceMs)))
    return flat.length === 0 ? null : forwarded(flat) ?? toMap(flat)
  }

  /** @internal Leave a rotation marker where a live session was (a login over it); false when there was none. */
  async retire (id: string, deadline: Deadline): Promise<boolean> {
    return await this.#retiring(id, deadline, this.#send(deadline, true, () => this.#redis.fastifySessionReplace(this.key(id), nowIso(), ROTATION_MARKER_TTL))) === 1
  }

  // ---------------------------------------------------------------------------------------------
  // `expired` events (the expiredEvents option; see expired-events.ts). A rotation marker expiring is
  // not a session expiring, and a notification carries nothing but the key's name: so the steps that
  // leave a marker also set a companion key, {prefix}retired:{ref}, which outlives the marker
  // (RETIRED_MARK_TTL against ROTATION_MARKER_TTL), and an expiry at a marked ref is no event.

  /** A step that leaves a rotation marker at `id` (already sent), with the companion set alongside it. */
  async #retiring<T> (id: string, deadline: Deadline, step: Promise<T>): Promise<T> {
    if (this.#expiries === undefined) return await step
    const [result] = await Promise.all([step, this.#retiredMark(id, deadline, true)])
    return result
  }

  /** Set (or, for restore(), delete) the companion of a ref that now holds a rotation marker. Never throws. */
  #retiredMark (id: string, deadline: Deadline, retired: boolean): Promise<void> | undefined {
    if (this.#expiries === undefined) return undefined
    const key = this.#retiredKey(this.#ref(id))
    return this.#send(deadline, true, () => retired ? (this.#redis as unknown as Marker).set(key, '1', 'EX', RETIRED_MARK_TTL) : this.#redis.del(key)).then(() => {}, (err: Error) => {
      // Not sent: nor was the step beside it, sent in the same state of the same deadline.
      if (notSent(err)) return
      this.#warnings.warn('EXPIRED_EVENTS_MARK', `fastify-redis-hash-session: could not ${retired ? 'mark' : 'unmark'} a rotated session ID for the expired event (${err.message}); if the rotation went through, ${retired ? 'its rotation marker\'s expiry may be reported as "expired"' : 'the restored session\'s expiry within 90 s may go unreported'}`)
    })
  }

  #retiredKey (ref: string): string {
    return this.#options.prefix + 'retired:' + ref
  }

  /** A keyspace notification: `serverKey` expired. An event when it was a session (not a marker, not another key). */
  #onExpired (serverKey: string): void {
    if (this.#expiries === undefined || !serverKey.startsWith(this.#serverPrefix)) return
    const ref = serverKey.slice(this.#serverPrefix.length)
    if (!this.#isRef(ref)) return
    if (this.listenerCount('expired') === 0 && !CHANNELS.expired.hasSubscribers) return
    const mark = this.#retiredKey(ref)
    this.#send(this.#deadline(), false, () => (this.#redis as unknown as Marker).exists(mark)).then((marked) => {
      if (marked === 0) this.#eventForRef('expired', ref, undefined)
    }, (err: Error) => {
      this.#warnings.warn('EXPIRED_EVENTS_CHECK', `fastify-redis-hash-session: a session expired but could not be told from a rotation marker (${err.message}); no "expired" event for it`)
    })
  }

  /** Stop the `expired` events' subscriber connections (expiredEvents). Never closes the client it was given. */
  async close (): Promise<void> {
    this.#expiries?.close()
    this.#expiries = undefined
  }

  /** A deadline for one call of the public API. */
  #deadline (): Deadline {
    return new Deadline(this.#options.timeout)
  }

  /**
   * Send a command only while the client is connected and the deadline has time left: never into
   * ioredis's offline queue, where a request answered 503 would still write minutes later. Its
   * failures become coded errors; `write` says whether an answer lost on the way leaves the outcome unknown.
   */
  #send<T> (deadline: Deadline, write: boolean, command: () => Promise<T>, field?: string): Promise<T> {
    if (deadline.expired) return Promise.reject(new RedisUnavailableError(deadline.reason, NOT_SENT))
    if (!this.#readiness.ready) {
      if (!this.#readiness.connecting) return Promise.reject(new RedisUnavailableError('not connected to Redis', NOT_SENT))
      return this.#sendWhenReady(deadline, write, command, field)
    }
    return new Promise<T>((resolve, reject) => {
      const expire = (reason: string): void => { reject(new RedisUnavailableError(reason, write ? OUTCOME_UNKNOWN : RETRY)) }
      deadline.wait(expire)
      command().then((value) => {
        deadline.settle(expire)
        resolve(value)
      }, (err: Error) => {
        deadline.settle(expire)
        reject(translate(err, write, field))
      })
    })
  }

  /** A connection attempt is under way: wait for it within the deadline, then send, or fail unsent. */
  #sendWhenReady<T> (deadline: Deadline, write: boolean, command: () => Promise<T>, field?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let waiting = true
      const expire = (reason: string): void => {
        waiting = false
        reject(new RedisUnavailableError(reason, NOT_SENT))
      }
      deadline.wait(expire)
      this.#readiness.whenReady((ready) => {
        if (!waiting) return
        deadline.settle(expire)
        if (ready) this.#send(deadline, write, command, field).then(resolve, reject)
        else reject(new RedisUnavailableError('not connected to Redis', NOT_SENT))
      })
    })
  }
}

/** A session's key without the prefix, with hashIds: the ID's SHA-256, in hex. */
function hashId (id: string): string {
  return createHash('sha256').update(id).digest('hex')
}

const HASH_REF = /^[0-9a-f]{64}$/
function isHashRef (ref: unknown): ref is string {
  return typeof ref === 'string' && HASH_REF.test(ref)
}

/** @internal The CLI's --hash-ids: a store whose methods take the hashes found in the keys, not IDs. */
export const kByHash = Symbol('fastify-redis-hash-session.byHash')

/** A user ID for the index: a non-empty string of at most MAX_USER_BYTES bytes. */
export function checkUser (user: unknown): string {
  if (typeof user !== 'string' || user.length === 0 || Buffer.byteLength(user) > MAX_USER_BYTES) {
    throw new InvalidValueError('(user)', `expected the user's ID as a non-empty string of at most ${MAX_USER_BYTES} bytes, got ${describe(user)}`)
  }
  return user
}

/** A session label: undefined (none) or a string of at most MAX_LABEL_BYTES bytes; '' is none. */
export function checkLabel (label: unknown): string {
  if (label === undefined) return ''
  if (typeof label !== 'string' || Buffer.byteLength(label) > MAX_LABEL_BYTES) {
    throw new InvalidValueError('(label)', `expected a string of at most ${MAX_LABEL_BYTES} bytes, such as the user agent (cut it to length), got ${describe(label)}`)
  }
  return label
}

/** The ioredis members that scanning needs: SCAN per node, the nodes of a Cluster, MEMORY USAGE. */
interface Scanner {
  readonly options?: { keyPrefix?: string, scaleReads?: unknown }
  nodes?: (role: 'master') => Scanner[]
  scan: (cursor: string, ...args: Array<string | number>) => Promise<[string, string[]]>
  memory: (subcommand: 'USAGE', key: string, ...args: string[]) => Promise<number | null>
}

/** The ioredis commands the `expired` event's companion keys use. */
interface Marker {
  set: (key: string, value: string, ex: 'EX', seconds: number) => Promise<unknown>
  exists: (key: string) => Promise<number>
}

function noop (): void {}

function flatten (hash: Map<string, string>): string[] {
  const args: string[] = []
  for (const [field, value] of hash) args.push(field, value)
  return args
}

// Reply errors Redis gives for a state that passes: loading, out of memory, a replica, a failover,
// a busy script, a failing disk. Redis 7 keeps the code when it comes from inside a script; older
// versions put it after the script's location, hence the second form.
const TRANSIENT = /^(?:[A-Z]+ )?(?:.*?: -?)?(OOM|READONLY|BUSY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF|NOTREADY)\b/
const CODE = /^[A-Z_]+/

/** The Redis error code (OOM, READONLY, ...) behind a coded error, if there was one. */
export function redisCode (err: unknown): string | undefined {
  return (err as { [kRedisCode]?: string })[kRedisCode]
}
const kRedisCode = Symbol('fastify-redis-hash-session.redisCode')

/**
 * An ioredis failure as a coded error. Its `cause` keeps the name and message of the original but
 * not the command's arguments (ioredis attaches them: the full key, so the session ID, and every
 * value), so an error reporter that walks `cause` logs none of them. Messages sent to clients say
 * what happened in our words, never Redis's (script SHAs, line numbers, addresses).
 */
function translate (err: Error, write: boolean, field: string | undefined): Error {
  let coded: Error
  let code: string | undefined
  if (err.name !== 'ReplyError') {
    coded = new RedisUnavailableError('the connection to Redis failed', write ? OUTCOME_UNKNOWN : RETRY)
  } else {
    const message = err.message
    code = TRANSIENT.exec(message)?.[1]
    if (code !== undefined) {
      coded = new RedisUnavailableError(`Redis answered ${code}`, write ? NOTHING_WRITTEN : RETRY)
    } else if (message.startsWith('SIZE_LIMIT')) {
      const [, what, size, limit] = message.split(' ')
      coded = what === 'fields' ? new SessionTooLargeError(size, 'fields', Number(limit), 'maxFields') : new SessionTooLargeError(size, 'bytes', Number(limit), 'maxSessionBytes')
    } else if (message.startsWith('UNSAFE_INTEGER')) {
      coded = new UnsafeIntegerError(field as string)
    } else if (field !== undefined && /not an integer|overflow/.test(message)) {
      coded = new NotAnIntegerError(field)
    } else {
      code = CODE.exec(message)?.[0] ?? 'ERR'
      coded = new RedisReplyError(code)
    }
  }
  const cause = new Error(err.message)
  cause.name = err.name
  coded.cause = cause
  if (code !== undefined) (coded as { [kRedisCode]?: string })[kRedisCode] = code
  return coded
}
