// Options are validated and defaulted once, at register time (or in the store's constructor).
// No silent fallbacks: a wrong or unknown option throws a coded TypeError that says what to change.
import { InvalidOptionError } from './errors'
import type { RedisClient, RedisSessionOptions, RedisSessionStoreOptions, SessionCookieOptions } from './types'

export const MAX_TTL = 2_147_483_647

export interface ResolvedStoreOptions {
  readonly redis: RedisClient
  readonly prefix: string
  readonly ttl: number
  readonly timeout: number
  readonly maxFieldNameBytes: number
  readonly maxFieldValueBytes: number
}

export interface ResolvedCookieOptions {
  readonly path: string
  readonly domain?: string
  readonly httpOnly: boolean
  readonly sameSite: 'lax' | 'strict' | 'none' | boolean
  readonly secure: boolean | 'auto'
  readonly maxAge?: number
  readonly partitioned: boolean
  readonly priority?: 'low' | 'medium' | 'high'
}

export interface ResolvedPluginOptions {
  /** The client given, or the URL to connect to. */
  readonly redis: RedisClient | string
  readonly store: Omit<ResolvedStoreOptions, 'redis'>
  readonly cookieName: string
  readonly cookie: ResolvedCookieOptions
}

const STORE_KEYS = ['redis', 'prefix', 'ttl', 'timeout', 'maxFieldNameBytes', 'maxFieldValueBytes']
const PLUGIN_KEYS = [...STORE_KEYS, 'cookieName', 'cookie']
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

function integer (name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `expected a whole number from ${min} to ${max}, got ${String(value)}`)
  }
  return value
}

function boolean (name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, `expected true or false, got ${String(value)}`)
  return value
}

function storeSettings (options: Omit<RedisSessionStoreOptions, 'redis'>): Omit<ResolvedStoreOptions, 'redis'> {
  const prefix = options.prefix ?? 'session:'
  if (typeof prefix !== 'string' || prefix.length > 256) {
    throw new InvalidOptionError('prefix', 'expected a string of at most 256 characters, such as "session:app-a:"')
  }
  return {
    prefix,
    ttl: integer('ttl', options.ttl, 1800, 1, MAX_TTL),
    timeout: integer('timeout', options.timeout, 2000, 0, MAX_TTL),
    maxFieldNameBytes: integer('maxFieldNameBytes', options.maxFieldNameBytes, 200, 1, 1024 * 1024),
    maxFieldValueBytes: integer('maxFieldValueBytes', options.maxFieldValueBytes, 64 * 1024, 1, 512 * 1024 * 1024)
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
    throw new InvalidOptionError('redis', 'expected an ioredis Redis or Cluster client, such as new Redis("redis://127.0.0.1:6379")')
  }
  return Object.freeze({ redis: options.redis, ...storeSettings(options) })
}

function resolveCookie (cookie: SessionCookieOptions | undefined): ResolvedCookieOptions {
  if (cookie === undefined) cookie = {}
  requireObject('cookie', cookie)
  rejectUnknown(cookie, COOKIE_KEYS, 'cookie.')
  const path = cookie.path ?? '/'
  if (typeof path !== 'string' || !path.startsWith('/') || /[;\s]/.test(path)) {
    throw new InvalidOptionError('cookie.path', 'expected a path that starts with "/" and has no ";" or spaces')
  }
  if (cookie.domain !== undefined && (typeof cookie.domain !== 'string' || !/^[A-Za-z0-9.-]+$/.test(cookie.domain))) {
    throw new InvalidOptionError('cookie.domain', 'expected a domain name such as "example.com"')
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
  if (cookie.priority !== undefined && !['low', 'medium', 'high'].includes(cookie.priority)) {
    throw new InvalidOptionError('cookie.priority', 'expected "low", "medium" or "high"')
  }
  return Object.freeze({
    path,
    domain: cookie.domain,
    httpOnly: boolean('cookie.httpOnly', cookie.httpOnly, true),
    sameSite,
    secure,
    maxAge: cookie.maxAge === undefined ? undefined : integer('cookie.maxAge', cookie.maxAge, 0, 1, MAX_TTL),
    partitioned: boolean('cookie.partitioned', cookie.partitioned, false),
    priority: cookie.priority
  })
}

export function resolvePluginOptions (options: RedisSessionOptions): ResolvedPluginOptions {
  requireObject('options', options)
  rejectUnknown(options, PLUGIN_KEYS, '')
  const redis = options.redis
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//.test(redis)) {
      throw new InvalidOptionError('redis', 'expected a URL such as "redis://127.0.0.1:6379" or an ioredis client')
    }
  } else if (!isRedisClient(redis)) {
    throw new InvalidOptionError('redis', 'expected an ioredis Redis or Cluster client, or a URL such as "redis://127.0.0.1:6379"')
  }
  const cookieName = options.cookieName ?? 'sid'
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) {
    throw new InvalidOptionError('cookieName', 'expected a cookie name made of letters, digits and !#$%&\'*+-.^_`|~')
  }
  return Object.freeze({
    redis,
    store: Object.freeze(storeSettings(options)),
    cookieName,
    cookie: resolveCookie(options.cookie)
  })
}
