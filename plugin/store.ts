// RedisSessionStore: the session data model. One hash per session at `${prefix}${id}` holding the
// application's fields plus three reserved ones, an expiry that slides by the session's own TTL, and
// every multi-step change done atomically by a script in scripts.ts.
import { randomBytes } from 'node:crypto'
import {
  FieldTooLargeError, InvalidFieldError, InvalidTtlError, InvalidValueError, NotAnIntegerError,
  RedisReplyError, RedisUnavailableError, ReservedFieldError
} from './errors'
import { MAX_TTL, resolveStoreOptions, type ResolvedStoreOptions } from './options'
import { defineScripts, type ScriptedRedis } from './scripts'
import type { GetSessionOptions, RedisSessionStoreOptions, SessionValue, StoredSession } from './types'

export const CREATED_AT = 'created_at'
export const LAST_ACCESSED_AT = 'last_accessed_at'
export const SESSION_TTL = 'session_ttl'
/** Fields the store owns: the application can read them but never write or delete them. */
export const RESERVED_FIELDS: ReadonlySet<string> = new Set([CREATED_AT, LAST_ACCESSED_AT, SESSION_TTL])

// 32 random bytes in base64url are 43 characters; the last one carries 4 bits, so only 16 letters fit.
const ID_SHAPE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/

let lastMs = 0
let lastIso = ''
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
  return typeof value === 'number' ? String(value) : typeof value
}

export class RedisSessionStore {
  readonly #redis: ScriptedRedis
  readonly #options: ResolvedStoreOptions

  constructor (options: RedisSessionStoreOptions) {
    this.#options = resolveStoreOptions(options)
    this.#redis = defineScripts(this.#options.redis)
  }

  /** The key namespace. */
  get prefix (): string { return this.#options.prefix }
  /** The default idle TTL in seconds. */
  get ttl (): number { return this.#options.ttl }
  /** The ioredis client. */
  get redis (): ScriptedRedis { return this.#redis }

  /** The Redis key of a session, as `redis-cli` sees it (an ioredis `keyPrefix` comes in front). */
  key (id: string): string {
    return this.#options.prefix + id
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

  /** Check a field and its value for a write and return the string Redis will hold. */
  encode (field: unknown, value: SessionValue): string {
    const name = this.checkField(field)
    let s: string
    if (typeof value === 'string') s = value
    else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') s = String(value)
    else throw new InvalidValueError(name, describe(value))
    const max = this.#options.maxFieldValueBytes
    const bytes = utf8Bytes(s, max)
    if (bytes > max) throw new FieldTooLargeError(`"${name}" value`, bytes, max, 'maxFieldValueBytes')
    return s
  }

  /** Check a whole record before anything is written: one bad field rejects it all. */
  encodeRecord (data: unknown): Array<[string, string]> {
    if (data === undefined) return []
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new InvalidValueError('(record)', 'expected an object of field: value pairs')
    }
    return Object.entries(data as Record<string, SessionValue>).map(([field, value]) => [field, this.encode(field, value)])
  }

  // ---------------------------------------------------------------------------------------------
  // Public operations, usable outside HTTP. None of them creates a key except createSession().

  /** Create a session holding `data` with its own TTL (default: the store's); returns the new ID. */
  async createSession (data?: Record<string, SessionValue>, ttl?: number): Promise<string> {
    const entries = this.encodeRecord(data)
    const sessionTtl = ttl === undefined ? this.#options.ttl : checkTtl(ttl)
    const id = generateId()
    await this.write(id, new Map(entries), sessionTtl)
    return id
  }

  /** Every field of the session (reserved ones included), or null. Slides the TTL unless `refreshTtl: false`. */
  async getSession (id: string, options: GetSessionOptions = {}): Promise<StoredSession | null> {
    if (!isValidId(id)) return null
    if (options.refreshTtl === false) {
      const hash = await this.#run(this.#redis.hgetall(this.key(id)))
      return Object.keys(hash).length === 0 ? null : hash
    }
    const fields = await this.load(id)
    return fields === null ? null : Object.fromEntries(fields)
  }

  /** Atomically add `by` to an integer field and return the new value; null when the session does not exist. */
  async incrementField (id: string, field: string, by = 1): Promise<number | null> {
    this.checkIncrement(field, by)
    if (!isValidId(id)) return null
    return await this.increment(id, field, by)
  }

  /** Change a session's own TTL (stored field and key expiry, atomically); false when the session does not exist. */
  async setTtl (id: string, ttl: number): Promise<boolean> {
    checkTtl(ttl)
    if (!isValidId(id)) return false
    return await this.#run(this.#redis.fastifySessionSetTtl(this.key(id), ttl)) === 1
  }

  /** The session's configured TTL in seconds, or null when the session does not exist. */
  async getConfiguredTtl (id: string): Promise<number | null> {
    if (!isValidId(id)) return null
    const ttl = await this.#run(this.#redis.hget(this.key(id), SESSION_TTL))
    return ttl === null ? null : Number(ttl)
  }

  /** Seconds before the session expires, as Redis TTL answers: -2 when it does not exist. */
  async remainingTtl (id: string): Promise<number> {
    if (!isValidId(id)) return -2
    return await this.#run(this.#redis.ttl(this.key(id)))
  }

  /** Delete a session; true when it existed. */
  async deleteSession (id: string): Promise<boolean> {
    if (!isValidId(id)) return false
    return await this.#run(this.#redis.del(this.key(id))) === 1
  }

  // ---------------------------------------------------------------------------------------------
  // Building blocks the request-scoped Session uses. IDs are checked by the caller.

  /** @internal Load and slide (one round trip); null when the key does not exist. */
  async load (id: string): Promise<Map<string, string> | null> {
    const flat = await this.#run(this.#redis.fastifySessionLoad(this.key(id), nowIso(), this.#options.ttl))
    return flat.length === 0 ? null : toMap(flat)
  }

  /**
   * @internal Write a new session (application fields from `fields`, reserved ones set here)
   * with its TTL, atomically. `createdAt` is kept by regenerate(). Returns the full hash as written.
   */
  async write (id: string, fields: Map<string, string>, ttl: number, createdAt?: string): Promise<Map<string, string>> {
    const now = nowIso()
    const hash = new Map(fields)
    hash.set(CREATED_AT, createdAt ?? now)
    hash.set(LAST_ACCESSED_AT, now)
    hash.set(SESSION_TTL, String(ttl))
    const args: string[] = []
    for (const [field, value] of hash) args.push(field, value)
    // 256 random bits never collide in practice; the script still refuses to overwrite a key.
    if (await this.#run(this.#redis.fastifySessionCreate(this.key(id), ttl, ...args)) !== 1) {
      throw new RedisReplyError(`a session with the new ID ${id.slice(0, 8)}… already exists`)
    }
    return hash
  }

  /** @internal HINCRBY while the session exists; the caller has checked the ID, field and increment. Null when gone. */
  async increment (id: string, field: string, by: number): Promise<number | null> {
    return await this.#run(this.#redis.fastifySessionIncrement(this.key(id), field, by), field)
  }

  /** @internal Field-level changes while the session exists (null value = delete). False when it was gone. */
  async persist (id: string, changes: Map<string, string | null>): Promise<boolean> {
    const sets: string[] = []
    const deletes: string[] = []
    for (const [field, value] of changes) {
      if (value === null) deletes.push(field)
      else sets.push(field, value)
    }
    return await this.#run(this.#redis.fastifySessionPersist(this.key(id), sets.length / 2, ...sets, ...deletes)) === 1
  }

  /** @internal Read and delete a session atomically; null when it was gone. */
  async take (id: string): Promise<Map<string, string> | null> {
    const flat = await this.#run(this.#redis.fastifySessionTake(this.key(id)))
    return flat.length === 0 ? null : toMap(flat)
  }

  /** Bound a Redis call by `timeout` and turn its failures into coded errors. */
  #run<T> (command: Promise<T>, field?: string): Promise<T> {
    const ms = this.#options.timeout
    if (ms === 0) return command.catch((err: Error) => { throw translate(err, field) })
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RedisUnavailableError(`no answer within ${ms} ms`)), ms)
      command.then((value) => {
        clearTimeout(timer)
        resolve(value)
      }, (err: Error) => {
        clearTimeout(timer)
        reject(translate(err, field))
      })
    })
  }
}

/** Redis reply errors are our bugs or bad data; anything else means Redis is out of reach. */
function translate (err: Error, field: string | undefined): Error {
  let coded: Error
  if (err.name !== 'ReplyError') {
    coded = new RedisUnavailableError(err.message)
  } else if (field !== undefined && /not an integer|overflow/.test(err.message)) {
    coded = new NotAnIntegerError(field)
  } else {
    coded = new RedisReplyError(err.message)
  }
  coded.cause = err
  return coded
}
