// The request-scoped session: what the handler sees as `request.session`. It keeps the hash as this
// request loaded it plus the changes made since, and hands the plugin what to write in onSend.
import { NoSessionError, SessionGoneError, SessionNotLoadedError } from './errors'
import {
  CREATED_AT, LAST_ACCESSED_AT, RESERVED_FIELDS, SESSION_TTL, checkTtl, generateId, type RedisSessionStore
} from './store'
import type {
  CreateSessionOptions, SessionCounterField, SessionField, SessionFieldValue, SessionRecord, SessionValue
} from './types'

/** What onSend must do with the cookie. */
export type CookieAction = 'none' | 'set' | 'clear'

export const kFlush = Symbol('fastify-redis-hash-session.flush')
export const kCookieAction = Symbol('fastify-redis-hash-session.cookieAction')
export const kHasPending = Symbol('fastify-redis-hash-session.hasPending')

// Shared by every session without a hash, so a request without a cookie allocates none; read-only,
// writes go through #writable() (copy on write), so no request can ever see another one's fields.
const EMPTY: ReadonlyMap<string, string> = new Map()

export class Session {
  readonly #store: RedisSessionStore
  /** False on routes with `config: { session: false }`: nothing was loaded, nothing may change. */
  readonly #enabled: boolean
  #id: string | undefined
  #isNew = false
  /** The hash as Redis holds it (reserved fields included), as of the last read or write. */
  #fields: ReadonlyMap<string, string>
  /** Field changes not yet written: a value, or null for a delete. */
  #pending: Map<string, string | null> | undefined
  /** Whether the request came with a session cookie (so destroy() clears even a stale one). */
  readonly #hadCookie: boolean;
  [kCookieAction]: CookieAction = 'none'

  constructor (store: RedisSessionStore, enabled: boolean, hadCookie = false, id?: string, fields?: Map<string, string>) {
    this.#store = store
    this.#enabled = enabled
    this.#hadCookie = hadCookie
    this.#id = id
    this.#fields = fields ?? EMPTY
  }

  /** The session ID, or undefined while there is no live session. */
  get id (): string | undefined { return this.#id }
  /** True when this request created the session (create(), regenerate() or a first set()). */
  get isNew (): boolean { return this.#isNew }
  get createdAt (): Date | undefined { return toDate(this.#fields.get(CREATED_AT)) }
  get lastAccessedAt (): Date | undefined { return toDate(this.#fields.get(LAST_ACCESSED_AT)) }
  /** This session's configured idle TTL in seconds. */
  get ttl (): number {
    const stored = this.#fields.get(SESSION_TTL)
    return stored !== undefined ? Number(stored) : this.#store.ttl
  }

  /** A field's value as Redis stores it (a string), with this request's changes applied. Reserved fields can be read. */
  get (field: SessionField | 'created_at' | 'last_accessed_at' | 'session_ttl'): string | undefined {
    const pending = this.#pending?.get(field)
    if (pending !== undefined) return pending ?? undefined
    return this.#fields.get(field)
  }

  /** Set one field, or several from a record (checked whole: one bad field and nothing changes). Written in onSend. */
  set<K extends SessionField> (field: K, value: SessionFieldValue<K>): this
  set (record: SessionRecord): this
  set (fieldOrRecord: string | SessionRecord, value?: SessionValue): this {
    this.#assertEnabled('set')
    if (typeof fieldOrRecord === 'string') {
      const encoded = this.#store.encode(fieldOrRecord, value as SessionValue)
      this.#changes().set(fieldOrRecord, encoded)
    } else {
      const entries = this.#store.encodeRecord(fieldOrRecord)
      const changes = this.#changes()
      for (const [field, encoded] of entries) changes.set(field, encoded)
    }
    return this
  }

  /** Delete a field. Written in onSend. */
  delete (field: SessionField): this {
    this.#assertEnabled('delete')
    this.#store.checkField(field)
    if (this.#id !== undefined || this.#pending !== undefined) this.#changes().set(field, null)
    return this
  }

  /** A copy of the application's fields (reserved ones left out), with this request's changes applied. */
  data (): Record<string, string> {
    const out: Array<[string, string]> = []
    for (const [field, value] of this.#fields) {
      if (!RESERVED_FIELDS.has(field) && !this.#pending?.has(field)) out.push([field, value])
    }
    if (this.#pending !== undefined) {
      for (const [field, value] of this.#pending) if (value !== null) out.push([field, value])
    }
    return Object.fromEntries(out)
  }

  /** Atomically add `by` to an integer field (HINCRBY) and return the new value. Creates the session when there is none. */
  async increment (field: SessionCounterField, by = 1): Promise<number> {
    this.#assertEnabled('increment')
    this.#store.checkIncrement(field, by)
    if (this.#pending?.has(field)) {
      // set() then increment() in one request: write the set first so the count builds on it.
      await this.save()
    }
    if (this.#id === undefined) {
      // No session yet: create it with the counter in it, one round trip.
      this.#changes().set(field, String(by))
      await this.save()
      return by
    }
    const value = await this.#store.increment(this.#id, field, by)
    if (value === null) throw this.#gone()
    this.#writable().set(field, String(value))
    return value
  }

  /** Change this session's idle TTL: the stored session_ttl and the key's expiry, in one atomic step. */
  async setTtl (seconds: number): Promise<void> {
    this.#assertEnabled('setTtl')
    checkTtl(seconds)
    if (this.#id === undefined) throw new NoSessionError('setTtl')
    if (!await this.#store.setTtl(this.#id, seconds)) throw this.#gone()
    this.#writable().set(SESSION_TTL, String(seconds))
  }

  /** Start a fresh session with a new ID (destroying any current one), holding `data`; sets the cookie. Returns the ID. */
  async create (data?: SessionRecord, options: CreateSessionOptions = {}): Promise<string> {
    this.#assertEnabled('create')
    const entries = this.#store.encodeRecord(data)
    const ttl = options.ttl === undefined ? this.#store.ttl : checkTtl(options.ttl)
    const oldId = this.#id
    const id = generateId()
    // The old and the new key are independent: send both at once (one round trip, Cluster-safe).
    const [fields] = await Promise.all([
      this.#store.write(id, new Map(entries), ttl),
      oldId === undefined ? undefined : this.#store.deleteSession(oldId)
    ])
    this.#adopt(id, fields)
    return id
  }

  /** Move the session to a new ID (same data, created_at kept); the old key is gone. Use after login. */
  async regenerate (): Promise<string> {
    this.#assertEnabled('regenerate')
    const oldId = this.#id
    if (oldId === undefined) throw new NoSessionError('regenerate')
    // Take the latest state and delete the old key in one step: concurrent changes are kept,
    // and a session that was destroyed meanwhile is not brought back under a new ID.
    const latest = await this.#store.take(oldId)
    if (latest === null) throw this.#gone()
    const fields = new Map<string, string>()
    for (const [field, value] of latest) if (!RESERVED_FIELDS.has(field)) fields.set(field, value)
    if (this.#pending !== undefined) {
      for (const [field, value] of this.#pending) {
        if (value === null) fields.delete(field)
        else fields.set(field, value)
      }
    }
    const ttl = Number(latest.get(SESSION_TTL)) || this.#store.ttl
    const id = generateId()
    const written = await this.#store.write(id, fields, ttl, latest.get(CREATED_AT))
    this.#adopt(id, written)
    return id
  }

  /** Delete the session from Redis and clear the cookie. */
  async destroy (): Promise<void> {
    this.#assertEnabled('destroy')
    const id = this.#id
    this.#reset()
    if (id !== undefined) await this.#store.deleteSession(id)
    if (id !== undefined || this.#hadCookie || this[kCookieAction] === 'set') {
      this[kCookieAction] = 'clear'
    }
  }

  /** Write pending changes now instead of in onSend. */
  async save (): Promise<void> {
    this.#assertEnabled('save')
    await this[kFlush]()
  }

  /** Seconds before the session expires, per Redis; -2 when there is no live session. */
  async remainingTtl (): Promise<number> {
    if (this.#id === undefined) return -2
    return await this.#store.remainingTtl(this.#id)
  }

  /** Whether onSend has anything to write. */
  get [kHasPending] (): boolean { return this.#pending !== undefined }

  /** Write what this request changed: field-level, only while the session exists; or create it lazily. */
  async [kFlush] (): Promise<void> {
    const changes = this.#pending
    if (changes === undefined) return
    // Cleared before the write: a second onSend (an error reply) must not write twice.
    this.#pending = undefined
    if (this.#id === undefined) {
      const fields = new Map<string, string>()
      for (const [field, value] of changes) if (value !== null) fields.set(field, value)
      if (fields.size === 0) return
      const id = generateId()
      this.#adopt(id, await this.#store.write(id, fields, this.#store.ttl))
      return
    }
    if (await this.#store.persist(this.#id, changes)) {
      const fields = this.#writable()
      for (const [field, value] of changes) {
        if (value === null) fields.delete(field)
        else fields.set(field, value)
      }
    } else {
      // Destroyed or expired meanwhile: nothing was written, and the browser should forget the ID.
      this.#reset()
      this[kCookieAction] = 'clear'
    }
  }

  /** The hash for an in-place update: this request's own Map (from load or write), never the shared EMPTY. */
  #writable (): Map<string, string> {
    if (this.#fields === EMPTY) this.#fields = new Map()
    return this.#fields as Map<string, string>
  }

  #changes (): Map<string, string | null> {
    if (this.#pending === undefined) this.#pending = new Map()
    return this.#pending
  }

  #adopt (id: string, fields: Map<string, string>): void {
    this.#id = id
    this.#fields = fields
    this.#pending = undefined
    this.#isNew = true
    this[kCookieAction] = 'set'
  }

  #reset (): void {
    this.#id = undefined
    this.#fields = EMPTY
    this.#pending = undefined
    this.#isNew = false
  }

  #gone (): Error {
    this.#reset()
    this[kCookieAction] = 'clear'
    return new SessionGoneError()
  }

  #assertEnabled (method: string): void {
    if (!this.#enabled) throw new SessionNotLoadedError(method)
  }
}

function toDate (iso: string | undefined): Date | undefined {
  return iso === undefined ? undefined : new Date(iso)
}
