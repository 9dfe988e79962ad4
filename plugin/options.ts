// Options are validated and defaulted once, at register time (or in the store's constructor).
// No silent fallbacks: a wrong or unknown option throws a coded TypeError that says what to change.
import { InvalidOptionError } from './errors'
import type { RedisClient, RedisSessionOptions, RedisSessionStoreOptions, SessionCookieOptions } from './types'
import type { WarningLog } from './warnings'

export const MAX_TTL = 2_147_483_647

export interface ResolvedStoreOptions {
  readonly redis: RedisClient
  readonly prefix: string
  readonly ttl: number
  readonly touchAfter: number
  readonly absoluteTtl: number
  readonly hashIds: boolean
  readonly timeout: number
  readonly maxFieldNameBytes: number
  readonly maxFieldValueBytes: number
  /** 0: no limit. */
  readonly maxFields: number
  /** 0: no limit. */
  readonly maxSessionBytes: number
  /** `expired` events from keyspace notifications: off, on, or on and allowed to set the server's notify-keyspace-events. */
  readonly expiredEvents: false | true | 'configure'
  /** Where warnings about a degraded Redis go (the plugin passes fastify.log). */
  readonly log: WarningLog | undefined
}

export interface ResolvedCookieOptions {
  readonly path: string
  readonly domain?: string
  readonly httpOnly: boolean
  readonly sameSite: 'lax' | 'strict' | 'none' | boolean
  /** 'auto' never stands with SameSite=None or Partitioned: those are always Secure. */
  readonly secure: boolean | 'auto'
  readonly maxAge?: number
  readonly partitioned: boolean
  readonly priority?: 'low' | 'medium' | 'high'
}

export interface ResolvedPluginOptions {
  /** The client given, or the URL to connect to. */
  readonly redis: RedisClient | string
  readonly store: Omit<ResolvedStoreOptions, 'redis' | 'log'>
  readonly cookieName: string
  readonly cookie: ResolvedCookieOptions
  /** destroy() also sends `Clear-Site-Data: "cookies"`. */
  readonly clearSiteData: boolean
  /** Signed cookies: the secrets, the first signs; undefined: the cookie is the bare ID. */
  readonly secrets: readonly string[] | undefined
  /** A load that finds Redis unavailable: a 503 ('fail') or a request without a session ('anonymous'). */
  readonly onUnavailable: 'fail' | 'anonymous'
  /** The renewal timeout in seconds; 0: off. */
  readonly rotateAfter: number
  /** With rotateAfter: the old ID's grace window, in ms. */
  readonly rotateGraceMs: number
}

const SETTING_KEYS = ['prefix', 'ttl', 'touchAfter', 'absoluteTtl', 'hashIds', 'timeout', 'maxFieldNameBytes', 'maxFieldValueBytes', 'maxFields', 'maxSessionBytes', 'expiredEvents']
const STORE_KEYS = ['redis', 'log', ...SETTING_KEYS]
const PLUGIN_KEYS = ['redis', ...SETTING_KEYS, 'cookieName', 'cookie', 'secret', 'clearSiteData', 'onUnavailable', 'rotateAfter', 'rotateGrace']
/** A renewal's old ID serves requests at most this long: the rotation marker's own life (ROTATION_MARKER_TTL). */
const MAX_ROTATE_GRACE = 60
/** HMAC-SHA256 keys shorter than this are guessable in practice (@fastify/session asks for 32 as well). */
const MIN_SECRET_LENGTH = 32
const COOKIE_KEYS = ['path', 'domain', 'httpOnly', 'sameSite', 'secure', 'maxAge', 'partitioned', 'priority']
// RFC 6265 token characters: what a cookie name may contain.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export function isRedisClient (value: unknown): value is RedisClient {
  return typeof value === 'object' && value !== null &&
    typeof (value as { defineCommand?: unknown }).defineCommand === 'function' &&
    typeof (value as { hgetall?: unknown }).hgetall === 'function'
}

function rejectUnknown (given: object, known: string[], where: string): void {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) {
      throw new InvalidOptionError(where + key, `unknown option; the known ones are ${known.join(', ')}`)
    }
  }
}

/** A value as an option error shows it: with its type, so `"1800"` is not mistaken for 1800. */
export function describeValue (value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${String(value)}`
  if (typeof value === 'boolean') return `the boolean ${String(value)}`
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

function integer (name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `expected a whole number from ${min} to ${max}, got ${describeValue(value)}`)
  }
  return value
}

function boolean (name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, `expected true or false, got ${describeValue(value)}`)
  return value
}

function storeSettings (options: Omit<RedisSessionStoreOptions, 'redis' | 'log'>): Omit<ResolvedStoreOptions, 'redis' | 'log'> {
  const prefix = options.prefix ?? 'session:'
  // Not empty: session keys must be told apart from the application's own keys (and SCAN-able by prefix).
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 256) {
    throw new InvalidOptionError('prefix', `expected a non-empty string of at most 256 characters, such as "session:app-a:", got ${describeValue(prefix)}`)
  }
  const ttl = integer('ttl', options.ttl, 1800, 1, MAX_TTL)
  // Below ttl: a session must be slid before it expires (the idle timeout is between ttl − touchAfter and ttl).
  const touchAfter = integer('touchAfter', options.touchAfter, 0, 0, MAX_TTL)
  if (touchAfter >= ttl) {
    throw new InvalidOptionError('touchAfter', `expected fewer seconds than ttl (${ttl}), such as ${Math.min(60, Math.floor(ttl / 2))}, got ${describeValue(touchAfter)}`)
  }
  const expiredEvents = options.expiredEvents ?? false
  if (expiredEvents !== false && expiredEvents !== true && expiredEvents !== 'configure') {
    throw new InvalidOptionError('expiredEvents', `expected false, true (Redis already publishes expired-key events) or "configure" (the plugin adds "Ex" to notify-keyspace-events), got ${describeValue(expiredEvents)}`)
  }
  return {
    prefix,
    ttl,
    touchAfter,
    absoluteTtl: integer('absoluteTtl', options.absoluteTtl, 0, 0, MAX_TTL),
    hashIds: boolean('hashIds', options.hashIds, false),
    timeout: integer('timeout', options.timeout, 2000, 0, MAX_TTL),
    maxFieldNameBytes: integer('maxFieldNameBytes', options.maxFieldNameBytes, 200, 1, 1024 * 1024),
    maxFieldValueBytes: integer('maxFieldValueBytes', options.maxFieldValueBytes, 64 * 1024, 1, 512 * 1024 * 1024),
    maxFields: integer('maxFields', options.maxFields, 0, 0, 1_000_000),
    maxSessionBytes: integer('maxSessionBytes', options.maxSessionBytes, 0, 0, 512 * 1024 * 1024),
    expiredEvents
  }
}

function requireObject (name: string, value: unknown): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(name, 'expected an options object')
  }
}

export function resolveStoreOptions (options: RedisSessionStoreOptions): ResolvedStoreOptions {
  requireObject('options', options)
  rejectUnknown(options, STORE_KEYS, '')
  if (!isRedisClient(options.redis)) {
    throw new InvalidOptionError('redis', `expected an ioredis Redis or Cluster client, such as new Redis("redis://127.0.0.1:6379"), got ${describeValue(options.redis)}`)
  }
  const log = options.log
  if (log !== undefined && (typeof log !== 'object' || log === null || typeof log.warn !== 'function')) {
    throw new InvalidOptionError('log', `expected a logger with a warn() method, such as fastify.log, got ${describeValue(log)}`)
  }
  return Object.freeze({ redis: options.redis, log, ...storeSettings(options) })
}

function resolveCookie (cookie: SessionCookieOptions | undefined): ResolvedCookieOptions {
  if (cookie === undefined) cookie = {}
  requireObject('cookie', cookie)
  rejectUnknown(cookie, COOKIE_KEYS, 'cookie.')
  // Checked again, whole, by the cookie serializer itself when the plugin builds the cookie (cookie.ts).
  const path = cookie.path ?? '/'
  if (typeof path !== 'string' || !/^\/[\x21-\x3A\x3C-\x7E]*$/.test(path)) {
    throw new InvalidOptionError('cookie.path', `expected a path that starts with "/" and has only visible ASCII characters, no ";" or spaces, got ${describeValue(path)}`)
  }
  if (cookie.domain !== undefined && (typeof cookie.domain !== 'string' || !/^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(cookie.domain))) {
    throw new InvalidOptionError('cookie.domain', `expected a domain name such as "example.com", got ${describeValue(cookie.domain)}`)
  }
  const sameSite = cookie.sameSite ?? 'lax'
  if (!['lax', 'strict', 'none', true, false].includes(sameSite)) {
    throw new InvalidOptionError('cookie.sameSite', 'expected "lax", "strict", "none", true or false')
  }
  const secure = cookie.secure ?? 'auto'
  if (secure !== 'auto' && typeof secure !== 'boolean') {
    throw new InvalidOptionError('cookie.secure', 'expected true, false or "auto"')
  }
  if (sameSite === 'none' && secure === false) {
    throw new InvalidOptionError('cookie.sameSite', 'browsers drop SameSite=None cookies that are not Secure; set cookie.secure to true or "auto"')
  }
  const partitioned = boolean('cookie.partitioned', cookie.partitioned, false)
  if (partitioned && secure === false) {
    throw new InvalidOptionError('cookie.partitioned', 'browsers drop Partitioned cookies that are not Secure; set cookie.secure to true or "auto"')
  }
  if (cookie.priority !== undefined && !['low', 'medium', 'high'].includes(cookie.priority)) {
    throw new InvalidOptionError('cookie.priority', 'expected "low", "medium" or "high"')
  }
  return Object.freeze({
    path,
    domain: cookie.domain,
    httpOnly: boolean('cookie.httpOnly', cookie.httpOnly, true),
    sameSite,
    // Browsers keep SameSite=None and Partitioned cookies only when Secure, so 'auto' means true there.
    secure: secure === 'auto' && (sameSite === 'none' || partitioned) ? true : secure,
    maxAge: cookie.maxAge === undefined ? undefined : integer('cookie.maxAge', cookie.maxAge, 0, 1, MAX_TTL),
    partitioned,
    priority: cookie.priority
  })
}

export function resolvePluginOptions (options: RedisSessionOptions): ResolvedPluginOptions {
  requireObject('options', options)
  rejectUnknown(options, PLUGIN_KEYS, '')
  const redis = options.redis
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//.test(redis)) {
      throw new InvalidOptionError('redis', 'expected a URL such as "redis://127.0.0.1:6379" or an ioredis client, got a string that is not a redis:// or rediss:// URL')
    }
  } else if (!isRedisClient(redis)) {
    throw new InvalidOptionError('redis', `expected an ioredis Redis or Cluster client, or a URL such as "redis://127.0.0.1:6379", got ${describeValue(redis)}`)
  }
  const cookieName = options.cookieName ?? 'sid'
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) {
    throw new InvalidOptionError('cookieName', `expected a cookie name made of letters, digits and !#$%&'*+-.^_\`|~, got ${describeValue(cookieName)}`)
  }
  const onUnavailable = options.onUnavailable ?? 'fail'
  if (onUnavailable !== 'fail' && onUnavailable !== 'anonymous') {
    throw new InvalidOptionError('onUnavailable', `expected "fail" or "anonymous", got ${describeValue(onUnavailable)}`)
  }
  const cookie = resolveCookie(options.cookie)
  checkCookiePrefix(cookieName, cookie)
  const rotateAfter = integer('rotateAfter', options.rotateAfter, 0, 0, MAX_TTL)
  if (rotateAfter === 0 && options.rotateGrace !== undefined) {
    throw new InvalidOptionError('rotateGrace', 'applies only with rotateAfter: set rotateAfter (seconds after which an ID is renewed), or remove rotateGrace')
  }
  const rotateGrace = integer('rotateGrace', options.rotateGrace, 5, 0, MAX_ROTATE_GRACE)
  return Object.freeze({
    redis,
    store: Object.freeze(storeSettings(options)),
    cookieName,
    cookie,
    secrets: resolveSecrets(options.secret),
    clearSiteData: boolean('clearSiteData', options.clearSiteData, false),
    onUnavailable,
    rotateAfter,
    rotateGraceMs: rotateGrace * 1000
  })
}

/**
 * Cookie name prefixes (RFC 6265bis; browsers match them case-insensitively): a `__Secure-` cookie is
 * dropped unless Secure, a `__Host-` one unless Secure, with `Path=/` and no Domain. Checked here, so a
 * cookie browsers would silently refuse fails at boot instead.
 */
function checkCookiePrefix (name: string, cookie: ResolvedCookieOptions): void {
  const lower = name.toLowerCase()
  const host = lower.startsWith('__host-')
  if (!host && !lower.startsWith('__secure-')) return
  const prefix = host ? '__Host-' : '__Secure-'
  if (cookie.secure !== true) {
    throw new InvalidOptionError('cookie.secure', `a ${prefix} cookie must be Secure: set cookie.secure to true (not "auto": browsers drop such a cookie set over http), and serve over https`)
  }
  if (host && cookie.path !== '/') throw new InvalidOptionError('cookie.path', `a __Host- cookie must have Path=/: remove cookie.path or set it to "/", got ${describeValue(cookie.path)}`)
  if (host && cookie.domain !== undefined) throw new InvalidOptionError('cookie.domain', 'a __Host- cookie must not have a Domain: remove cookie.domain (or use a __Secure- name to share the cookie with subdomains)')
}

function resolveSecrets (secret: unknown): readonly string[] | undefined {
  if (secret === undefined) return undefined
  const secrets = typeof secret === 'string' ? [secret] : secret
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new InvalidOptionError('secret', `expected a string of at least ${MIN_SECRET_LENGTH} characters, or a non-empty array of them (the first signs, all verify), got ${Array.isArray(secrets) ? 'an empty array (is the secret\'s environment variable set?)' : describeValue(secret)}`)
  }
  for (const [i, s] of secrets.entries()) {
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) {
      throw new InvalidOptionError(typeof secret === 'string' ? 'secret' : `secret[${i}]`, `expected a random string of at least ${MIN_SECRET_LENGTH} characters (such as crypto.randomBytes(32).toString('base64url')), got ${typeof s === 'string' ? `a string of ${s.length}` : describeValue(s)}`)
    }
  }
  return Object.freeze([...secrets] as string[])
}
