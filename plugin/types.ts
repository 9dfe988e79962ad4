// Public types, and the augmentation of Fastify's own interfaces.
import type { Cluster, Redis } from 'ioredis'
import type { Session } from './session'
import type { RedisSessionStore } from './store'

import type { JsonValue } from './codec'

/** What a session field may hold: any JSON value. get() returns what set() stored (see the Data model in the README). */
export type SessionValue = JsonValue

/**
 * The fields your application keeps in a session. Empty by default, so any field name is accepted.
 * Merge your own fields into it to have names and value types checked:
 *
 * ```ts
 * declare module 'fastify-redis-hash-session' {
 *   interface SessionData { username: string, page_views: number }
 * }
 * ```
 */
export interface SessionData {}

/** A field name: any string, or only the names of SessionData once it is augmented. */
export type SessionField = [keyof SessionData] extends [never] ? string : Extract<keyof SessionData, string>

/** The value set() accepts for a field. */
export type SessionFieldValue<K extends string> = K extends keyof SessionData ? SessionData[K] : SessionValue

/** The fields whose declared type is a number (any field while SessionData is empty). */
export type SessionCounterField = [keyof SessionData] extends [never]
  ? string
  : { [K in keyof SessionData]: SessionData[K] extends number ? K : never }[keyof SessionData] & string

/** A record for set() and create(): some of the application's fields (an undefined value deletes the field in set()). */
export type SessionRecord = [keyof SessionData] extends [never]
  ? Record<string, SessionValue | undefined>
  : { [K in keyof SessionData]?: SessionData[K] | undefined }

/** The fields Redis holds for a session, as getSession() returns them (reserved fields included). */
export type StoredSession = Record<string, string>

/**
 * An ioredis client, from ioredis 5 or 6: a single Redis (standalone or Sentinel) or a Cluster.
 *
 * Described by the members the plugin uses rather than as ioredis's `Redis | Cluster` classes: a
 * class with private members is assignable only to itself, so a client from the application's
 * ioredis 5 would not fit the class of another copy. Any `Redis` or `Cluster` of either major fits.
 * The store hands the client back typed as the ioredis your application resolves (`store.redis`).
 */
export interface RedisClient {
  /** ioredis's connection status: 'wait', 'connecting', 'connect', 'ready', 'close', 'reconnecting', 'end'. */
  readonly status: string
  /** ioredis's script definition (EVALSHA with EVAL fallback); the plugin defines its own commands once. */
  defineCommand (name: string, definition: { lua: string, numberOfKeys?: number }): void
  /** Connects a client created with `lazyConnect` (the plugin does, for one still waiting). */
  connect (): Promise<void>
  once (event: 'ready' | 'close' | 'end', listener: () => void): unknown
  removeListener (event: 'ready' | 'close' | 'end', listener: () => void): unknown
  hgetall (key: string): Promise<Record<string, string>>
  del (key: string): Promise<number>
}

/** The client as the store hands it back: the application's own ioredis Redis or Cluster. */
export type IORedisClient = Redis | Cluster

export interface SessionCookieOptions {
  /** Cookie path. Default `'/'`. */
  path?: string
  /** Cookie domain. Default: none (host-only). */
  domain?: string
  /** Default `true`: scripts in the page cannot read the session ID. */
  httpOnly?: boolean
  /** Default `'lax'`. `'none'` requires `secure: true` or `'auto'`. */
  sameSite?: 'lax' | 'strict' | 'none' | boolean
  /** `'auto'` (default) marks the cookie Secure when `request.protocol` is https. */
  secure?: boolean | 'auto'
  /** Cookie lifetime in seconds. Default: none, a browser-session cookie. */
  maxAge?: number
  /** CHIPS partitioned cookie. Default `false`. */
  partitioned?: boolean
  /** Cookie priority. Default: none. */
  priority?: 'low' | 'medium' | 'high'
}

export interface RedisSessionStoreOptions {
  /** An ioredis Redis or Cluster client. The store never closes it. */
  redis: RedisClient
  /** Key namespace. Default `'session:'`. */
  prefix?: string
  /** Default idle TTL in seconds, sliding on every load (with `touchAfter`, once per window). Default `1800`. */
  ttl?: number
  /**
   * Seconds after a session's last slide within which a load writes nothing to Redis (no
   * `last_accessed_at` update, no EXPIRE, no script: one plain HGETALL), decided from
   * `last_accessed_at` by the app server's clock (keep clocks in sync); at most half a session's own
   * TTL. The read that slides, once per window, makes a second round trip (the load script). The
   * idle timeout becomes between `ttl - touchAfter` and `ttl`. Less than `ttl`. Default `0`: every
   * load slides.
   */
  touchAfter?: number
  /**
   * Seconds after its creation at which a session ends however active it is (OWASP's absolute
   * timeout): its key never expires later, a load after it finds no session, and `regenerate()` keeps
   * the deadline. Applies to sessions created while it is set. Default `0`: none.
   */
  absoluteTtl?: number
  /**
   * Keep only a SHA-256 of each session ID in Redis (in the key, and in the per-user index), so a key
   * listing, MONITOR, SLOWLOG or a dump yields no usable cookie. Every store method still takes IDs.
   * Changing it logs everyone out (their keys are no longer found). Default `false`.
   */
  hashIds?: boolean
  /**
   * Milliseconds a request may wait for Redis in total (its load, its handler's calls and its write
   * together; for the store's own methods, each call) before it fails with FST_REDIS_SESSION_UNAVAILABLE.
   * Default `2000`; `0` waits as long as ioredis does.
   */
  timeout?: number
  /** Largest field name in bytes. Default `200`. */
  maxFieldNameBytes?: number
  /** Largest field value in bytes. Default `65536`. */
  maxFieldValueBytes?: number
  /** Most application fields a session may hold (reserved ones not counted). Default `0`: no limit. */
  maxFields?: number
  /** Most bytes of field names and values a session may hold, reserved fields included. Default `0`: no limit. */
  maxSessionBytes?: number
  /**
   * Emit `expired` when Redis expires a session, from its keyspace notifications: one subscriber
   * connection per master (every master of a Cluster), re-armed after a reconnect. `true` needs the
   * server to publish them already (notify-keyspace-events including `Ex`; without it a warning says
   * so); `'configure'` lets the store add `Ex` with CONFIG SET, also after a Redis restart. The
   * store never changes the server's configuration otherwise. Best-effort: see the README. Call
   * `close()` (the plugin does, on close) to stop the subscribers. Default `false`.
   */
  expiredEvents?: boolean | 'configure'
  /** A logger (pino-like: `warn(obj, msg)`) for warnings about a degraded Redis. The plugin passes `fastify.log`. */
  log?: { warn: (obj: object, msg: string) => void }
}

export interface RedisSessionOptions extends Omit<RedisSessionStoreOptions, 'redis' | 'log'> {
  /** An ioredis Redis or Cluster (you own it), or a URL (the plugin connects, and quits on close). */
  redis: RedisClient | string
  /** Cookie name. Default `'sid'`. */
  cookieName?: string
  /** Cookie attributes. */
  cookie?: SessionCookieOptions
  /**
   * Sign the cookie (HMAC-SHA256, by @fastify/cookie's signer): a secret of at least 32 characters, or
   * several; the first signs, every one verifies, so secrets rotate without logging anyone out. An
   * unsigned or wrongly signed cookie is no session and costs no Redis command. Default: unsigned (the
   * cookie is the bare 256-bit ID).
   */
  secret?: string | string[]
  /**
   * When `destroy()` clears the cookie, also send `Clear-Site-Data: "cookies"`, so the browser drops
   * every cookie of the site (not only ours). Default `false`.
   */
  clearSiteData?: boolean
  /**
   * The renewal timeout (OWASP): seconds after which a session's ID is replaced by a new one, during a
   * request, transparently (the response carries the new cookie; the data, the user, the absolute end
   * and `created_at` move with it). Default `0`: IDs are kept until a login or `regenerate()`.
   */
  rotateAfter?: number
  /**
   * With `rotateAfter`: seconds during which requests that still carry the old ID (sent before the
   * browser had the new cookie) are served the same session, without ever receiving the new ID;
   * afterwards the old ID is dead. From 0 to 60. Default `5`.
   */
  rotateGrace?: number
  /**
   * What a request gets when its session cannot be loaded because Redis is unavailable (down, too
   * slow for `timeout`, or in a passing state such as LOADING). `'fail'` (the default): 503
   * `FST_REDIS_SESSION_UNAVAILABLE`. `'anonymous'`: the request goes on as one without a session
   * (`id` undefined, no fields); its writes are refused with that 503 error, nothing is queued, the
   * cookie is left alone, and a warning is logged at most once a minute.
   */
  onUnavailable?: 'fail' | 'anonymous'
}

export interface CreateSessionOptions {
  /** This session's idle TTL in seconds. Default: the plugin's `ttl`. */
  ttl?: number
  /** File the session under this user (see `session.setUser()`). */
  user?: string
  /** With `user`: a label for the user's session list, such as the user agent (at most 512 bytes). */
  label?: string
}

export interface SetUserOptions {
  /** A label for the user's session list, such as the user agent (at most 512 bytes). Default: none. */
  label?: string
}

/** One of a user's sessions, as `sessionStore.listUserSessions()` describes it: never its ID. */
export interface UserSession {
  /** Identifies the session to `destroyUserSession()` and `except`; not usable as a cookie. */
  handle: string
  createdAt: Date
  lastAccessedAt: Date
  /** When the session expires unless it is used again. */
  expiresAt: Date
  label: string | undefined
}

export interface GetSessionOptions {
  /** Slide the TTL and refresh `last_accessed_at`. Default `true`; `false` changes nothing. */
  refreshTtl?: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's session, in every hook and handler of every request: `session.id` is undefined
     * while there is no live session, and a session that could not be loaded (before the plugin's
     * onRequest, on a route with `config: { session: false }`, or when Redis was unavailable)
     * reports no ID and refuses changes with a coded error.
     */
    session: Session
  }
  interface FastifyInstance {
    /** The store the plugin uses, for work outside a request. */
    readonly sessionStore: RedisSessionStore
  }
  interface FastifyContextConfig {
    /**
     * `false` skips the session on this route: zero Redis round trips. `'lazy'` loads nothing in
     * onRequest: increment(), set() (written in onSend), setTtl() and destroy() go straight to the
     * cookie's session, each in one round trip that also slides it (and never creates or revives a
     * key for an unknown ID); get() and data() need `await request.session.load()` first.
     */
    session?: boolean | 'lazy'
  }
}
