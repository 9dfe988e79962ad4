// The request-scoped session: what hooks and handlers see as `request.session`. There is exactly one
// per request, from its first hook to its last: it keeps the hash as this request loaded it plus the
// changes made since, and hands the plugin what to write in onSend.
//
// Its async methods run one after another, in the order they were called, even when the caller
// overlaps them (Promise.all): each sees the session as the previous one left it.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { decodeValue } from './codec'
import type { SessionCookie } from './cookie'
import { Deadline } from './deadline'
import {
  InvalidValueError, NOT_SENT, NoSessionError, RedisUnavailableError, ReplySentError, SessionGoneError, SessionNotLoadedError, notSent
} from './errors'
import {
  CREATED_AT, Forward, LAST_ACCESSED_AT, RESERVED_FIELDS, ROTATED, SESSION_EXPIRES, SESSION_ISSUED, SESSION_TTL, checkLabel, checkTtl, checkUser,
  Unslid, generateId, nowIso, parseTtl, type Loaded, type RedisSessionStore
} from './store'
import type {
  CreateSessionOptions, SessionCounterField, SessionField, SessionFieldValue, SessionRecord, SessionValue, SetUserOptions
} from './types'
import { SESSION_LABEL, SESSION_USER } from './user-index'

/**
 * What onSend must do with the cookie: 'roll' re-sends the same ID to renew its maxAge, once onSend
 * has checked that the session is still live (a login elsewhere may have retired the ID meanwhile).
 */
export type CookieAction = 'none' | 'set' | 'roll' | 'clear'

/** What the plugin shares with every session: made once, at register time. */
export interface SessionContext {
  readonly store: RedisSessionStore
  readonly cookie: SessionCookie
  /** The cookie has a maxAge: re-send it whenever a load slides the session, so both expire together. */
  readonly rolling: boolean
  /**
   * onUnavailable: 'anonymous': told of each load that found Redis unavailable (it logs a warning at
   * most once a minute); the request then goes on without a session. Undefined: the load fails (503).
   */
  readonly degraded: (() => void) | undefined
  /** The renewal timeout in seconds (0: off), and its grace window in ms. */
  readonly rotateAfter: number
  readonly rotateGraceMs: number
}

export const kFlush = Symbol('fastify-redis-hash-session.flush')
export const kHasPending = Symbol('fastify-redis-hash-session.hasPending')
export const kOpen = Symbol('fastify-redis-hash-session.open')
export const kLoad = Symbol('fastify-redis-hash-session.load')
export const kDisable = Symbol('fastify-redis-hash-session.disable')
export const kDefer = Symbol('fastify-redis-hash-session.defer')
export const kRenew = Symbol('fastify-redis-hash-session.renew')

// Where a session stands.
/** Before the plugin's onRequest: hooks that run earlier see a session that is not loaded yet. */
const PENDING = 0
/** A route with `config: { session: false }`. */
const DISABLED = 1
/** Loading failed: Redis was unavailable. */
const UNAVAILABLE = 2
/** Loaded: a live session, or none. */
const LOADED = 3
/** The cookie named an ID that a login or regenerate() retired moments ago (a rotation marker). */
const RETIRED = 4
/**
 * A lazy route (`config: { session: 'lazy' }`): the cookie's ID, not loaded. Writes go to it directly
 * (each one round trip that slides it, and never creates or revives a key); reads need load().
 */
const LAZY = 5

// Shared by every session without a hash, so a request without a cookie allocates none; read-only,
// writes go through #writable() (copy on write), so no request can ever see another one's fields.
const EMPTY: ReadonlyMap<string, string> = new Map()

function noop (): void {}

/**
 * A request served through a renewal's marker may meet the new key before the renewing request has
 * written it (one round trip after the marker): it looks again after these pauses (ms) before it
 * takes the session for gone.
 */
const FOLLOW_WAITS = [5, 20, 50]

function pause (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export class Session {
  readonly #ctx: SessionContext
  readonly #request: FastifyRequest
  #reply: FastifyReply | undefined
  #state = PENDING
  #id: string | undefined
  #isNew = false
  /** The hash as Redis holds it (reserved fields included), as of the last read or write. */
  #fields: ReadonlyMap<string, string> = EMPTY
  /** Field changes not yet written: a value, or null for a delete. */
  #pending: Map<string, string | null> | undefined
  /** Whether #pending sets a value (so writing it would start a session where there is none). */
  #pendingSets = false
  /** Whether the request came with a session cookie (so destroy() clears even a stale one). */
  #hadCookie = false
  /** The ID the cookie named when Redis held only a rotation marker there. */
  #retiredId: string | undefined
  /**
   * The cookie's ID, when the renewal timeout moved the session on and this request is served from
   * the new key (#id then addresses that key, as a Forward's id): it never learns the new ID.
   */
  #cookieId: string | undefined
  /** The request's one budget of waiting for Redis, made at its first call. */
  #deadline: Deadline | undefined
  /** The last async operation queued, while one is outstanding. */
  #tail: Promise<void> | undefined
  /** A user's session filed again after its load: runs beside the handler; onSend waits for it. */
  #background: Promise<void> | undefined
  #cookieAction: CookieAction = 'none'
  #slideTime = ''
  /** The cookie was signed with an older secret: once the session proves live, send it signed again. */
  #renew = false

  constructor (ctx: SessionContext, request: FastifyRequest) {
    this.#ctx = ctx
    this.#request = request
  }

  /** The session ID, or undefined while there is no live session (on a lazy route: until load()). */
  get id (): string | undefined { return this.#state === LAZY ? undefined : this.#cookieId ?? this.#id }
  /** True once this request has started a session: create(), regenerate(), or a first set() or increment(). */
  get isNew (): boolean {
    return this.#isNew || (this.#pendingSets && this.#id === undefined && this.#state === LOADED)
  }

  get createdAt (): Date | undefined { return toDate(this.#loadedFields('createdAt').get(CREATED_AT)) }
  get lastAccessedAt (): Date | undefined { return toDate(this.#loadedFields('lastAccessedAt').get(LAST_ACCESSED_AT)) }
  /** This session's idle TTL in seconds (the plugin's default when the stored one is missing or not valid). */
  get ttl (): number {
    return parseTtl(this.#loadedFields('ttl').get(SESSION_TTL)) ?? this.#ctx.store.ttl
  }

  /** With absoluteTtl: when the session ends however active it is (undefined without a session or the option). */
  get expiresAt (): Date | undefined {
    const at = this.#loadedFields('expiresAt').get(SESSION_EXPIRES)
    return at === undefined ? undefined : new Date(Number(at) * 1000)
  }

  /** The user this session is filed under (setUser(), or create() with `user`), or undefined. */
  get user (): string | undefined { return this.#loadedFields('user').get(SESSION_USER) }

  /** This session's public handle, as sessionStore.listUserSessions() shows it (not usable as a cookie); undefined without a session. */
  get handle (): string | undefined {
    const id = this.#state === LAZY ? undefined : this.#id
    return id === undefined ? undefined : this.#ctx.store.handle(id)
  }

  /**
   * A field's value as set() stored it (a string, number, boolean, null, array or object), with this
   * request's changes applied; a fresh copy each time. Reserved fields read as the strings Redis holds.
   */
  get<K extends SessionField> (field: K): SessionFieldValue<K> | undefined
  get (field: 'created_at' | 'last_accessed_at' | 'session_ttl' | 'session_expires' | 'session_user' | 'session_label'): string | undefined
  get (field: string): SessionValue | undefined {
    if (this.#state === LAZY) throw notLoadedLazy('get')
    const stored = this.#stored(field)
    if (stored === undefined) return undefined
    return RESERVED_FIELDS.has(field) ? stored : decodeValue(stored)
  }

  /**
   * Set one field, or several from a record (checked whole: one bad field and nothing changes). Any
   * JSON value; `undefined` deletes the field. Written in onSend.
   */
  set<K extends SessionField> (field: K, value: SessionFieldValue<K> | undefined): this
  set (record: SessionRecord): this
  set (fieldOrRecord: string | SessionRecord, value?: SessionValue): this {
    this.#assertUsable('set')
    const store = this.#ctx.store
    if (typeof fieldOrRecord === 'string') {
      if (value === undefined) return this.delete(fieldOrRecord as SessionField)
      this.#changes().set(fieldOrRecord, store.encode(fieldOrRecord, value))
      this.#pendingSets = true
      return this
    }
    const entries = store.encodeRecord(fieldOrRecord)
    for (const [field, encoded] of entries) {
      if (encoded !== null) {
        this.#changes().set(field, encoded)
        this.#pendingSets = true
      } else {
        this.#unset(field)
      }
    }
    return this
  }

  /** Delete a field. Written in onSend. */
  delete (field: SessionField): this {
    this.#assertUsable('delete')
    this.#ctx.store.checkField(field)
    this.#unset(field)
    return this
  }

  /** A copy of the application's fields (reserved ones left out), decoded, with this request's changes applied. */
  data (): Record<string, SessionValue> {
    if (this.#state === LAZY) throw notLoadedLazy('data')
    const out: Array<[string, SessionValue]> = []
    for (const [field, value] of this.#fields) {
      if (!RESERVED_FIELDS.has(field) && !this.#pending?.has(field)) out.push([field, decodeValue(value)])
    }
    if (this.#pending !== undefined) {
      for (const [field, value] of this.#pending) if (value !== null) out.push([field, decodeValue(value)])
    }
    // fromEntries defines own properties: a field named __proto__ is a field, never the prototype.
    return Object.fromEntries(out)
  }

  /** Atomically add `by` to an integer field (HINCRBY) and return the new value. Creates the session when there is none. */
  increment (field: SessionCounterField, by = 1): Promise<number> {
    return this.#serial(() => this.#increment(field, by))
  }

  /** Change this session's idle TTL: the stored session_ttl and the key's expiry, in one atomic step. */
  setTtl (seconds: number): Promise<void> {
    return this.#serial(() => this.#setTtl(seconds))
  }

  /** Start a fresh session with a new ID (retiring any current one), holding `data`; sets the cookie. Returns the ID. */
  create (data?: SessionRecord, options: CreateSessionOptions = {}): Promise<string> {
    return this.#serial(() => this.#create(data, options))
  }

  /**
   * Move the session to a new ID (its data, or only the fields in `keep`; created_at kept); the old
   * ID is dead. Without a live session, start a fresh empty one. Use after login.
   */
  regenerate (keep?: string[]): Promise<string> {
    return this.#serial(() => this.#regenerate(keep))
  }

  /**
   * File this session under a user, so sessionStore.listUserSessions() lists it and
   * destroyUserSessions() ("log out everywhere") ends it. Needs a live session: after a login, call
   * it after regenerate() (or pass `user` to create()).
   */
  setUser (user: string, options: SetUserOptions = {}): Promise<void> {
    return this.#serial(() => this.#setUser(user, options))
  }

  /** Delete the session from Redis and clear the cookie. */
  destroy (): Promise<void> {
    return this.#serial(() => this.#destroy())
  }

  /** Write pending changes now instead of in onSend. Rejects with FST_REDIS_SESSION_GONE when the session ended meanwhile. */
  save (): Promise<void> {
    return this.#serial(async () => {
      this.#assertUsable('save')
      await this.#flush(true)
    })
  }

  /**
   * Load the session now, on a lazy route (one round trip that also slides it, as the load in onRequest does); anywhere else the
   * session is loaded already and this resolves at once. Changes made before it are kept.
   */
  load (): Promise<void> {
    return this.#serial(async () => {
      this.#assertUsable('load')
      if (this.#state === LAZY) await this.#loadLazy()
    })
  }

  /** Seconds before the session expires, per Redis; -2 when there is no live session. */
  remainingTtl (): Promise<number> {
    return this.#serial(async () => {
      const id = this.#id
      return id === undefined ? -2 : await this.#ctx.store.remaining(id, this.#budget())
    })
  }

  /**
   * The Set-Cookie value this response must carry (a new ID, or clearing the cookie), or undefined
   * when the cookie does not change. For replies that bypass onSend (reply.hijack()): call save()
   * first, then send this header yourself; onSend will not send it again.
   */
  setCookieHeader (): string | undefined {
    const action = this.#cookieAction
    this.#cookieAction = 'none'
    // A roll not confirmed yet (a hijacked reply, before onSend) is sent as it is. A request served
    // through a renewal's marker never gets the new ID.
    if (action === 'set' || action === 'roll') return this.#cookieId === undefined ? this.#ctx.cookie.header(this.#request, this.#id as string) : undefined
    if (action === 'clear') return this.#ctx.cookie.clearHeader(this.#request)
    return undefined
  }

  // ---------------------------------------------------------------------------------------------
  // What the plugin calls.

  /** onRequest, on a route that opted out. */
  [kDisable] (): void {
    this.#state = DISABLED
  }

  /** onRequest, without an ID to load (no cookie, or one of the wrong shape). */
  [kOpen] (reply: FastifyReply, hadCookie: boolean): void {
    this.#reply = reply
    this.#hadCookie = hadCookie
    this.#state = LOADED
  }

  /** onRequest: load the session the cookie names (one round trip that also slides its expiry; with touchAfter one plain read inside the window, two when it slides). */
  [kLoad] (reply: FastifyReply, id: string): Promise<void> {
    this.#reply = reply
    this.#hadCookie = true
    return this.#ctx.store.load(id, this.#budget(), this.#slideNow()).then((loaded) => {
      if (loaded instanceof Forward) return this.#follow(id, loaded)
      this.#loaded(id, loaded)
      if (this.#renewalDue()) return this.#renewId()
    }, (err: Error) => { this.#unavailable(err) })
  }

  /** onRequest on a lazy route: take the cookie's ID without loading it. */
  [kDefer] (reply: FastifyReply, id: string): void {
    this.#reply = reply
    this.#hadCookie = true
    this.#id = id
    this.#state = LAZY
    // Signed with an older secret: onSend re-signs it if the session is still live.
    if (this.#renew) this.#cookieAction = 'roll'
  }

  /** onRequest, signed cookies: the cookie verified with a secret other than the first. */
  [kRenew] (): void {
    this.#renew = true
  }

  /** Whether onSend has anything to write, an operation to wait for, or a cookie roll to confirm. */
  get [kHasPending] (): boolean {
    return this.#pending !== undefined || this.#tail !== undefined || this.#cookieAction === 'roll' || this.#background !== undefined
  }

  /** onSend: write what this request changed, after any operation still running. */
  [kFlush] (): Promise<void> {
    return this.#serial(async () => {
      await this.#flush(false)
      if (this.#cookieAction === 'roll') await this.#confirmRoll()
      if (this.#background !== undefined) {
        await this.#background
        this.#background = undefined
      }
    })
  }

  // ---------------------------------------------------------------------------------------------

  async #increment (field: SessionCounterField, by: number): Promise<number> {
    this.#assertUsable('increment')
    const store = this.#ctx.store
    store.checkIncrement(field, by)
    if (this.#pending?.has(field)) {
      // set() then increment() in one request: write the set first so the count builds on it.
      await this.#flush(true)
    }
    const id = this.#id
    if (id === undefined) {
      // No session yet: create it with the counter (and any other pending change) in it, one round trip.
      if (this.#state === RETIRED) throw new SessionGoneError()
      this.#changes().set(field, String(by))
      this.#pendingSets = true
      await this.#flush(true)
      return by
    }
    const lazy = this.#state === LAZY
    const run = (target: string): Promise<number | null | Forward> => store.increment(target, field, by, this.#budget(), lazy ? this.#slideNow() : '')
    let value = await run(id)
    if (value instanceof Forward) value = await this.#forwarded(value, run)
    if (value === null || value instanceof Forward) throw this.#gone()
    this.#writable().set(field, String(value))
    this.#wrote(lazy)
    return value
  }

  async #setTtl (seconds: number): Promise<void> {
    this.#assertUsable('setTtl')
    checkTtl(seconds)
    const id = this.#id
    if (id === undefined) throw new NoSessionError('setTtl')
    const run = (target: string): Promise<boolean | Forward> => this.#ctx.store.changeTtl(target, seconds, this.#budget())
    let changed = await run(id)
    if (changed instanceof Forward) changed = await this.#forwarded(changed, run)
    if (changed !== true) throw this.#gone()
    this.#writable().set(SESSION_TTL, String(seconds))
    // A longer TTL: the user's index must live as long.
    const user = this.#fields.get(SESSION_USER)
    if (user !== undefined) await this.#ctx.store.file(user, this.#id as string, seconds, this.#budget(), this.#fields.get(SESSION_EXPIRES))
    // A new expiry: on a lazy route that is its slide.
    this.#wrote(this.#state === LAZY)
  }

  async #create (data: SessionRecord | undefined, options: CreateSessionOptions): Promise<string> {
    this.#assertUsable('create')
    this.#assertReplyOpen('create')
    const store = this.#ctx.store
    const fields = store.newFields(data)
    const ttl = options.ttl === undefined ? store.ttl : checkTtl(options.ttl)
    const user = options.user === undefined ? undefined : checkUser(options.user)
    const label = checkLabel(options.label)
    const oldId = this.#id
    const id = generateId()
    const deadline = this.#budget()
    const end = store.newSessionEnd()
    if (user !== undefined) {
      fields.set(SESSION_USER, user)
      if (label !== '') fields.set(SESSION_LABEL, label)
      if (end !== undefined) fields.set(SESSION_EXPIRES, end)
      // Filed before it exists: a live session is never missing from its user's index.
      await store.file(user, id, ttl, deadline, end)
    }
    // A fresh session: what this request changed so far belonged to the old one.
    this.#pending = undefined
    this.#pendingSets = false
    // The old and the new key are independent: send both at once (one round trip, Cluster-safe).
    // The old ID keeps a rotation marker for a while, so requests still carrying it cannot replace
    // the new cookie with a lazily created session.
    const oldUser = oldId === undefined ? undefined : this.#fields.get(SESSION_USER)
    const [written, retired] = await Promise.all([
      store.write(id, fields, ttl, deadline),
      oldId === undefined ? false : store.retire(oldId, deadline)
    ])
    this.#adopt(id, written)
    // Filed again now that it exists: a listing between the two steps may have pruned the entry.
    if (user !== undefined) await store.file(user, id, ttl, deadline, end).catch(noop)
    // A login over a live session ends it.
    if (retired) store.event('destroyed', oldId as string, oldUser)
    store.event('created', id, user)
    return id
  }

  async #regenerate (keep: string[] | undefined): Promise<string> {
    this.#assertUsable('regenerate')
    this.#assertReplyOpen('regenerate')
    if (keep !== undefined && (!Array.isArray(keep) || !keep.every((field) => typeof field === 'string'))) {
      throw new InvalidValueError('(keep)', 'regenerate() takes an array of field names to keep')
    }
    // Changes of this request outside `keep` go the way of the fields outside it.
    if (keep !== undefined && this.#pending !== undefined) {
      for (const field of this.#pending.keys()) if (!keep.includes(field)) this.#pending.delete(field)
      this.#pendingSets = [...this.#pending.values()].some((value) => value !== null)
    }
    // A lazy route: load first, so a cookie that names no session gets a fresh one, as anywhere else.
    if (this.#state === LAZY) await this.#loadLazy()
    // A retired ID (a login or regenerate() elsewhere moved the session on): starting a fresh
    // session here would replace the browser's new cookie, so this is GONE, as for increment().
    if (this.#state === RETIRED) throw new SessionGoneError()
    const oldId = this.#id
    const store = this.#ctx.store
    // No live session (a first-time visitor logging in, say): a fresh one, as a login would start,
    // holding this request's changes (those in `keep`), written with it in the same step.
    if (oldId === undefined) {
      const pending = this.#takePending()
      const fields = new Map<string, string>()
      if (pending !== undefined) for (const [field, value] of pending) if (value !== null) fields.set(field, value)
      const id = generateId()
      try {
        this.#adopt(id, await store.write(id, fields, store.ttl, this.#budget()))
      } catch (err) {
        this.#putBack(pending)
        throw err
      }
      store.event('created', id, undefined)
      return id
    }
    const deadline = this.#budget()
    // Take the latest state and retire the old ID in one step: concurrent changes are kept, and a
    // session that was destroyed meanwhile is not brought back under a new ID.
    let latest = await store.take(oldId, deadline)
    if (latest instanceof Forward) latest = await this.#forwarded(latest, (target) => store.take(target, deadline))
    if (latest === null || latest instanceof Forward) throw this.#gone()
    const pending = this.#takePending()
    const fields = new Map<string, string>()
    for (const [field, value] of latest) {
      if (!RESERVED_FIELDS.has(field) && (keep === undefined || keep.includes(field))) fields.set(field, value)
    }
    // Its absolute end stays (rotation cannot extend it), and the user it is filed under moves with it
    // (the old ID's entry is pruned when next met).
    const expires = latest.get(SESSION_EXPIRES)
    if (expires !== undefined) fields.set(SESSION_EXPIRES, expires)
    const user = latest.get(SESSION_USER)
    if (user !== undefined) {
      fields.set(SESSION_USER, user)
      const label = latest.get(SESSION_LABEL)
      if (label !== undefined) fields.set(SESSION_LABEL, label)
    }
    if (pending !== undefined) {
      for (const [field, value] of pending) {
        if (value === null) fields.delete(field)
        else fields.set(field, value)
      }
    }
    const ttl = parseTtl(latest.get(SESSION_TTL)) ?? store.ttl
    const id = generateId()
    // The new ID's age, for the renewal timeout (created_at stays the session's).
    if (this.#ctx.rotateAfter > 0) fields.set(SESSION_ISSUED, String(Math.floor(Date.now() / 1000)))
    let written: Map<string, string>
    try {
      if (user !== undefined) await store.file(user, id, ttl, deadline, expires)
      written = await store.write(id, fields, ttl, deadline, latest.get(CREATED_AT))
    } catch (err) {
      // The new key was not confirmed: put the session back under its old ID, so a failed rotation
      // logs nobody out. It gets a budget of its own, as the request's may be what ran out, and the
      // request does not wait for it (its one deadline): later commands on this connection run after it.
      store.restore(this.#id as string, latest, new Deadline(store.timeout)).catch(noop)
      this.#putBack(pending)
      throw err
    }
    const previous = this.#id as string
    this.#adopt(id, written)
    if (user !== undefined) await store.file(user, id, ttl, deadline, expires).catch(noop)
    store.event('regenerated', id, user, previous)
    return id
  }

  async #destroy (): Promise<void> {
    this.#assertUsable('destroy')
    const id = this.#id
    const retired = this.#state === RETIRED
    const user = id === undefined ? undefined : this.#fields.get(SESSION_USER)
    // Served through a renewal's marker: that marker is marked too, so the old ID stops forwarding.
    const marker = this.#cookieId
    this.#lose()
    this.#pending = undefined
    this.#pendingSets = false
    // One script: a live session is deleted; a rotation marker is kept and marked destroyed, so a
    // failed regenerate() elsewhere cannot put the session back, and requests still carrying the old ID
    // keep seeing the marker.
    const target = id ?? (retired ? this.#retiredId : undefined)
    const store = this.#ctx.store
    const deadline = this.#budget()
    // The user's index entry goes in the same round trip (a separate key: its own slot on a Cluster).
    let [outcome] = await Promise.all([
      target === undefined ? 0 : store.destroy(target, deadline),
      // A failure here only leaves an entry that the next listing prunes: the logout stands.
      user === undefined ? undefined : store.unfile(user, [id as string], deadline).catch(noop),
      marker === undefined ? undefined : store.destroy(marker, deadline).catch(noop)
    ])
    let ended = target
    // A renewal moved the session on while this request ran: the marker is marked, and the logout
    // goes on at the new key (and its index entry).
    if (outcome instanceof Forward) {
      ended = outcome.id
      ;[outcome] = await Promise.all([
        store.destroy(ended, deadline),
        user === undefined ? undefined : store.unfile(user, [ended], deadline).catch(noop)
      ])
    }
    if (outcome === 1) store.event('destroyed', ended as string, user)
    // Clear the browser's cookie, a stale one too; but not one that names a marker (or an ID this
    // request saw retired or ended): the browser may hold the new cookie of a login that raced it.
    this.#cookieAction = this.#hadCookie && outcome !== 2 && (outcome === 1 || !retired) ? 'clear' : 'none'
  }

  async #setUser (user: string, options: SetUserOptions): Promise<void> {
    this.#assertUsable('setUser')
    checkUser(user)
    const label = checkLabel(options.label)
    if (this.#state === LAZY) await this.#loadLazy()
    const id = this.#id
    if (id === undefined) throw new NoSessionError('setUser')
    const store = this.#ctx.store
    if (!await store.assignUser(id, user, label, this.ttl, this.#budget(), this.#fields.get(SESSION_EXPIRES))) throw this.#gone()
    const fields = this.#writable()
    fields.set(SESSION_USER, user)
    if (label === '') fields.delete(SESSION_LABEL)
    else fields.set(SESSION_LABEL, label)
  }

  /**
   * Write what this request changed: field-level, only while the session is live; or start the
   * session when there is none. `strict` (save()) rejects when the session ended meanwhile; onSend
   * drops the changes then, and leaves the cookie alone (it may already name a newer session).
   */
  async #flush (strict: boolean): Promise<void> {
    const changes = this.#pending
    if (changes === undefined) return
    const id = this.#id
    if (id === undefined) {
      if (!this.#pendingSets) {
        this.#pending = undefined
        return
      }
      if (this.#state === RETIRED) {
        this.#pending = undefined
        this.#pendingSets = false
        if (strict) throw new SessionGoneError()
        return
      }
      this.#assertReplyOpen('save')
    }
    // Taken before the write: changes made meanwhile go into a new batch, and a second onSend (an
    // error reply) does not write the same changes twice.
    this.#pending = undefined
    this.#pendingSets = false
    const store = this.#ctx.store
    if (id === undefined) {
      const fields = new Map<string, string>()
      for (const [field, value] of changes) if (value !== null) fields.set(field, value)
      const newId = generateId()
      this.#adopt(newId, await store.write(newId, fields, store.ttl, this.#budget()))
      store.event('created', newId, undefined)
      return
    }
    const lazy = this.#state === LAZY
    const run = (target: string): Promise<boolean | Forward> => store.persist(target, changes, this.#budget(), lazy ? this.#slideNow() : '')
    let written = await run(id)
    if (written instanceof Forward) written = await this.#forwarded(written, run)
    if (written === true) {
      const fields = this.#writable()
      for (const [field, value] of changes) {
        if (value === null) fields.delete(field)
        else fields.set(field, value)
      }
      this.#wrote(lazy)
    } else {
      this.#ended()
      if (strict) throw new SessionGoneError()
    }
  }

  /** Run async operations one after another, in call order. */
  #serial<T> (operation: () => Promise<T>): Promise<T> {
    const previous = this.#tail
    const run = previous === undefined ? operation() : previous.then(operation)
    const tail: Promise<void> = run.then(() => { if (this.#tail === tail) this.#tail = undefined }, () => { if (this.#tail === tail) this.#tail = undefined })
    this.#tail = tail
    return run
  }

  #budget (): Deadline {
    if (this.#deadline === undefined) this.#deadline = new Deadline(this.#ctx.store.timeout)
    return this.#deadline
  }

  /** The hash for an in-place update: this request's own Map (from load or write), never the shared EMPTY. */
  #writable (): Map<string, string> {
    if (this.#fields === EMPTY) this.#fields = new Map()
    return this.#fields as Map<string, string>
  }

  /** The hash as loaded; on a lazy route before load() there is none to read, and that is an error. */
  #loadedFields (member: string): ReadonlyMap<string, string> {
    if (this.#state === LAZY) throw notLoadedLazy(member)
    return this.#fields
  }

  /** The stored form of a field, with this request's changes applied. */
  #stored (field: string): string | undefined {
    const pending = this.#pending?.get(field)
    if (pending !== undefined) return pending ?? undefined
    return this.#fields.get(field)
  }

  /** A delete: written in onSend while there is, or may soon be, a session; else it only drops a pending value. */
  #unset (field: string): void {
    if (this.#id !== undefined || this.#tail !== undefined) {
      this.#changes().set(field, null)
      return
    }
    // No session and none on its way: a visitor who set and then deleted a field stored nothing.
    const pending = this.#pending
    if (pending?.delete(field) === true) this.#pendingSets = [...pending.values()].some((value) => value !== null)
  }

  /**
   * This request's changes, taken for a write: changes made while it is in flight (a set() during an
   * await) go into a new batch, which onSend writes.
   */
  #takePending (): Map<string, string | null> | undefined {
    const pending = this.#pending
    this.#pending = undefined
    this.#pendingSets = false
    return pending
  }

  /** After a failed write: the taken changes are pending again, under any made meanwhile. */
  #putBack (taken: Map<string, string | null> | undefined): void {
    if (taken === undefined) return
    const later = this.#pending
    this.#pending = taken
    if (later !== undefined) for (const [field, value] of later) taken.set(field, value)
    this.#pendingSets = [...taken.values()].some((value) => value !== null)
  }

  #changes (): Map<string, string | null> {
    if (this.#pending === undefined) this.#pending = new Map()
    return this.#pending
  }

  /** A lazy route's load, on demand: load() and regenerate(). */
  async #loadLazy (): Promise<void> {
    const id = this.#id as string
    let loaded: Loaded
    try {
      loaded = await this.#ctx.store.load(id, this.#budget(), this.#slideNow())
    } catch (err) {
      this.#id = undefined
      this.#unavailable(err as Error)
      return
    }
    if (loaded instanceof Forward) return await this.#follow(id, loaded)
    this.#loaded(id, loaded)
    if (this.#renewalDue()) await this.#renewId()
  }

  /**
   * A load failed. Redis unavailable with onUnavailable 'anonymous': the request goes on as one
   * without a session (writes refused with the 503 error, the cookie left alone). Otherwise it fails.
   */
  #unavailable (err: Error): void {
    this.#state = UNAVAILABLE
    const degraded = this.#ctx.degraded
    if (degraded === undefined || (err as { code?: string }).code !== 'FST_REDIS_SESSION_UNAVAILABLE') throw err
    degraded()
  }

  /** What a load found: the session, none, or a rotation marker. */
  #loaded (id: string, loaded: Map<string, string> | null | typeof ROTATED): void {
    if (loaded === ROTATED) {
      this.#state = RETIRED
      this.#id = undefined
      this.#retiredId = id
      return
    }
    this.#state = LOADED
    if (loaded === null) {
      this.#id = undefined
      this.#fields = EMPTY
      return
    }
    this.#id = id
    // Writes made before a lazy load are in it already; pending ones still apply on top.
    this.#fields = loaded
    // Signed with an older secret: sent again, signed with the first, once onSend has checked it is live.
    if (this.#renew && this.#cookieAction === 'none' && this.#cookieId === undefined) this.#cookieAction = 'roll'
    // Slid now (not throttled by touchAfter, not refused): the cookie's Max-Age starts again too, and
    // a session filed under a user is filed again, so the user's index lives as long as it does.
    if (!(loaded instanceof Unslid) && loaded.get(LAST_ACCESSED_AT) === this.#slideTime) {
      if (this.#ctx.rolling) this.#slid(false)
      const user = loaded.get(SESSION_USER)
      if (user !== undefined) this.#background = this.#refile(id, user, loaded)
    }
  }

  /** After a load slid a user's session: extend the index with it (onSend waits; a failure only warns). */
  async #refile (id: string, user: string, loaded: ReadonlyMap<string, string>): Promise<void> {
    try {
      await this.#ctx.store.file(user, id, parseTtl(loaded.get(SESSION_TTL)) ?? this.#ctx.store.ttl, this.#budget(), loaded.get(SESSION_EXPIRES))
    } catch (err) {
      // The session by its handle (a short hash), never its ID.
      this.#request.log.warn({ session: this.#ctx.store.handle(id), err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'fastify-redis-hash-session: could not extend the user\'s session index; the next load of this session files it again')
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The renewal timeout (rotateAfter): a load finds the ID old enough and moves the session to a new
  // one before the handler runs; requests that still carry the old ID within rotateGrace are served
  // from the new key through the old one's marker, and never learn the new ID.

  /** A live session just loaded whose ID is rotateAfter seconds old (by this server's clock). */
  #renewalDue (): boolean {
    const after = this.#ctx.rotateAfter
    if (after === 0 || this.#id === undefined || this.#cookieId !== undefined) return false
    const issued = this.#fields.get(SESSION_ISSUED)
    const since = issued === undefined ? Date.parse(this.#fields.get(CREATED_AT) as string) / 1000 : Number(issued)
    return Date.now() / 1000 - since >= after
  }

  /**
   * Move the session to a new ID: file it under its user first, then take the latest hash and leave a
   * forwarding marker in one step (so writes racing it are kept or forwarded, never lost), then write
   * the new key. A failure never fails the request: it goes on with its old ID, put back if need be.
   */
  async #renewId (): Promise<void> {
    const store = this.#ctx.store
    const oldId = this.#id as string
    const loaded = this.#fields
    const user = loaded.get(SESSION_USER)
    const expires = loaded.get(SESSION_EXPIRES)
    const ttl = this.ttl
    const id = generateId()
    const deadline = this.#budget()
    let latest: Map<string, string> | null | Forward
    try {
      if (user !== undefined) await store.file(user, id, ttl, deadline, expires)
    } catch (err) {
      // Nothing moved yet: the session stays where it is.
      this.#renewFailed(oldId, err as Error)
      return
    }
    try {
      latest = await store.renew(oldId, id, this.#ctx.rotateGraceMs, deadline)
    } catch (err) {
      // Sent but not confirmed: the marker may stand; if so, put the session back (a no-op where it
      // did not). Not when it was never sent: a marker there then is another request's (a
      // regenerate() meanwhile), and putting this request's copy back would revive the old ID.
      if (!notSent(err)) await store.restore(oldId, new Map(loaded), new Deadline(store.timeout)).catch(noop)
      this.#renewFailed(oldId, err as Error)
      return
    }
    // Ended meanwhile (a logout raced this load), or renewed by a request that came just before.
    if (latest === null) return this.#ended()
    if (latest instanceof Forward) return await this.#follow(oldId, latest)
    const fields = new Map<string, string>()
    for (const [field, value] of latest) if (field !== CREATED_AT && field !== LAST_ACCESSED_AT && field !== SESSION_TTL) fields.set(field, value)
    fields.set(SESSION_ISSUED, String(Math.floor(Date.now() / 1000)))
    let written: Map<string, string>
    try {
      written = await store.write(id, fields, parseTtl(latest.get(SESSION_TTL)) ?? store.ttl, deadline, latest.get(CREATED_AT))
    } catch (err) {
      await store.restore(oldId, latest, new Deadline(store.timeout)).catch(noop)
      this.#renewFailed(oldId, err as Error)
      return
    }
    this.#adopt(id, written)
    // Not a new session: the same one under a new ID.
    this.#isNew = false
    if (user !== undefined) await store.file(user, id, ttl, deadline, expires).catch(noop)
    store.event('rotated', id, user, oldId)
  }

  #renewFailed (id: string, err: Error): void {
    this.#request.log.warn({ session: this.#ctx.store.handle(id), err: { code: (err as { code?: string }).code, message: err.message } }, 'fastify-redis-hash-session: could not renew the session ID (rotateAfter); the request goes on with its old ID and a later one tries again')
  }

  /**
   * The cookie's ID was renewed less than rotateGrace ago: serve this request from the new key (it
   * may take a moment to appear), as the same session, without its new ID. Gone there: no session,
   * and the old ID is retired.
   */
  async #follow (cookieId: string, forward: Forward): Promise<void> {
    let loaded: Loaded
    try {
      loaded = await this.#ctx.store.load(forward.id, this.#budget(), this.#slideNow())
      for (const wait of FOLLOW_WAITS) {
        if (loaded !== null) break
        await pause(wait)
        loaded = await this.#ctx.store.load(forward.id, this.#budget(), this.#slideNow())
      }
    } catch (err) {
      this.#id = undefined
      this.#unavailable(err as Error)
      return
    }
    if (!(loaded instanceof Map)) {
      this.#loaded(cookieId, ROTATED)
      return
    }
    this.#cookieId = cookieId
    this.#loaded(forward.id, loaded)
  }

  /**
   * A write met the marker of a renewal that moved the session on while this request ran: go on at the
   * new key, as a request served through the marker. Returns what the write answered there.
   */
  async #forwarded<R> (forward: Forward, run: (id: string) => Promise<R>): Promise<R> {
    this.#cookieId ??= this.#id
    this.#id = forward.id
    if (this.#cookieAction === 'set' || this.#cookieAction === 'roll') this.#cookieAction = 'none'
    let result = await run(forward.id)
    for (const wait of FOLLOW_WAITS) {
      if (result !== null && result !== false) break
      await pause(wait)
      result = await run(forward.id)
    }
    return result
  }

  /** The time a load or lazy write is sent with, to tell afterwards whether it slid the session. */
  #slideNow (): string {
    this.#slideTime = nowIso()
    return this.#slideTime
  }

  /**
   * The session's expiry was slid: with cookie.maxAge, the cookie is sent again to match it. By a
   * write (`confirmed`: the session was live just now) it is sent as it is; by a load, onSend checks first.
   */
  #slid (confirmed: boolean): void {
    if (!this.#ctx.rolling || this.#cookieId !== undefined) return
    if (this.#cookieAction === 'none') this.#cookieAction = confirmed ? 'set' : 'roll'
    else if (confirmed && this.#cookieAction === 'roll') this.#cookieAction = 'set'
  }

  /** A write found the session live (and, on a lazy route, slid it). */
  #wrote (lazy: boolean): void {
    if (lazy) this.#slid(true)
    else if (this.#cookieAction === 'roll') this.#cookieAction = 'set'
  }

  /** onSend, for a cookie to roll: only while the session is still live; never fails the reply. */
  async #confirmRoll (): Promise<void> {
    const id = this.#id
    let live = false
    if (id !== undefined) {
      try {
        live = await this.#ctx.store.remaining(id, this.#budget()) !== -2
      } catch {}
    }
    if (this.#cookieAction === 'roll') this.#cookieAction = live ? 'set' : 'none'
  }

  #adopt (id: string, fields: Map<string, string>): void {
    this.#id = id
    this.#cookieId = undefined
    this.#fields = fields
    this.#isNew = true
    this.#state = LOADED
    this.#cookieAction = 'set'
  }

  /** The session is gone (destroyed, expired or retired): no ID, no fields. The cookie is left as it is. */
  #lose (): void {
    // A lazy route's ID that turned out gone: from now on the request has no session, as if loaded.
    if (this.#state === LAZY) this.#state = LOADED
    this.#id = undefined
    this.#cookieId = undefined
    this.#fields = EMPTY
    this.#isNew = false
    // A cookie for an ID that no longer exists would only replace a newer one.
    if (this.#cookieAction === 'set' || this.#cookieAction === 'roll') this.#cookieAction = 'none'
  }

  #gone (): Error {
    this.#ended()
    return new SessionGoneError()
  }

  /**
   * The session ended while this request ran (a logout, an expiry, or a login elsewhere that retired
   * the ID): from now on the request is as one that came with a retired ID, so a later set() or
   * increment() does not start a fresh session whose cookie would replace a racing login's.
   */
  #ended (): void {
    // The ID the browser holds: through a renewal's marker, the old one.
    const id = this.#cookieId ?? this.#id
    this.#lose()
    this.#state = RETIRED
    this.#retiredId = id
  }

  #assertUsable (method: string): void {
    const state = this.#state
    if (state >= LOADED) return
    if (state === PENDING) {
      throw new SessionNotLoadedError(method, 'the session is not loaded yet, because this hook runs before the plugin\'s onRequest hook; use a preHandler hook, or add this hook after registering the plugin')
    }
    if (state === DISABLED) {
      throw new SessionNotLoadedError(method, 'the route has config.session === false; remove that option from the route to use sessions there')
    }
    throw new RedisUnavailableError('the session could not be loaded', NOT_SENT)
  }

  #assertReplyOpen (method: string): void {
    if (this.#reply?.sent === true) throw new ReplySentError(method)
  }
}

function notLoadedLazy (method: string): Error {
  return new SessionNotLoadedError(method, 'the route has config.session \'lazy\', which loads nothing in onRequest; call `await request.session.load()` first')
}

function toDate (iso: string | undefined): Date | undefined {
  return iso === undefined ? undefined : new Date(iso)
}
