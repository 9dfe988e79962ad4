// The Fastify wiring: decorators and hooks. A request reads top to bottom: onRequest reads the cookie
// and loads the session (one round trip that also slides the TTL), the handler uses request.session,
// onSend writes what changed and sets or clears the cookie.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler, onSendHookHandler } from 'fastify'
import { Redis } from 'ioredis'
import { SessionCookie } from './cookie'
import { ConnectError, InvalidOptionError } from './errors'
import { describeValue, resolvePluginOptions } from './options'
import { Readiness } from './readiness'
import { Session, kDefer, kDisable, kFlush, kHasPending, kLoad, kOpen, kRenew, type SessionContext } from './session'
import { CookieSigner } from './signing'
import { RedisSessionStore, isValidId } from './store'
import type { RedisClient, RedisSessionOptions } from './types'
import { Warnings } from './warnings'

const kSession = Symbol('fastify-redis-hash-session.session')
type WithSession = FastifyRequest & { [kSession]: Session | null }

export const plugin: FastifyPluginAsync<RedisSessionOptions> = async function redisSession (fastify, options) {
  const opts = resolvePluginOptions(options)
  let redis: RedisClient
  if (typeof opts.redis === 'string') {
    redis = await connect(fastify, opts.redis, opts.store.timeout)
  } else {
    redis = opts.redis
    await whenReady(fastify, redis, opts.store.timeout)
  }
  const store = new RedisSessionStore({ redis, log: fastify.log, ...opts.store })
  const signer = opts.secrets === undefined ? undefined : new CookieSigner(opts.secrets)

  const context: SessionContext = {
    store,
    cookie: new SessionCookie(opts.cookieName, opts.cookie, signer === undefined ? undefined : (id) => signer.sign(id)),
    rolling: opts.cookie.maxAge !== undefined,
    degraded: opts.onUnavailable === 'anonymous' ? warnDegraded(new Warnings(fastify.log)) : undefined,
    rotateAfter: opts.rotateAfter,
    rotateGraceMs: opts.rotateGraceMs
  }

  try {
    fastify.decorate('sessionStore', { getter: () => store })
    // request.session is there in every hook and handler of every request, from the first: a hook that
    // runs before our onRequest sees the same Session, not loaded yet (it refuses changes with a coded error).
    fastify.decorateRequest(kSession, null)
    fastify.decorateRequest('session', {
      getter (this: FastifyRequest): Session {
        const request = this as WithSession
        return request[kSession] ?? (request[kSession] = new Session(context, request))
      }
    })
  } catch (err) {
    // Registered twice, say: the store's own connections (expiredEvents) must not keep the process up.
    await store.close()
    throw err
  }
  // The store's own connections (expiredEvents' subscribers), never the application's client.
  fastify.addHook('onClose', async () => { await store.close() })

  // A route's config.session is checked once, when the route is added: a typo fails at boot.
  fastify.addHook('onRoute', (route) => {
    const mode = (route.config as { session?: unknown } | undefined)?.session
    if (mode !== undefined && mode !== true && mode !== false && mode !== 'lazy') {
      throw new InvalidOptionError(`config.session of ${String(route.method)} ${route.url}`, `expected true, false or 'lazy', got ${describeValue(mode)}`)
    }
  })

  // The cookie's session ID, chosen once: the cookie itself, or (signed cookies) what its signature
  // verifies to: '' when it does not (no session, no Redis command), and an old secret's cookie is
  // marked to be signed again.
  const readId: (request: FastifyRequest, session: Session) => string | undefined = signer === undefined
    ? (request) => context.cookie.read(request)
    : (request, session) => {
        const value = context.cookie.read(request)
        if (value === undefined) return undefined
        const verified = signer.verify(value)
        if (verified.renew) session[kRenew]()
        return verified.id
      }

  // Callback style, returning the load's promise only when there is one: a request without a cookie
  // costs no promise at all.
  const loadSession: onRequestHookHandler = function loadSession (request, reply, done) {
    const session = request.session
    const mode = request.routeOptions.config.session
    if (mode === false) {
      session[kDisable]()
      done()
      return
    }
    const id = readId(request, session)
    // A cookie of the wrong shape never reaches Redis; an unknown ID is never adopted (no fixation).
    if (id === undefined || !isValidId(id)) {
      session[kOpen](reply, id !== undefined)
      done()
      return
    }
    // A lazy route loads nothing here: its writes go straight to the ID, or it calls session.load().
    if (mode === 'lazy') {
      session[kDefer](reply, id)
      done()
      return
    }
    return session[kLoad](reply, id)
  }
  fastify.addHook('onRequest', loadSession)

  // A response that sets or clears the session cookie is never stored by a shared cache (unless the
  // route chose private or no-store itself); with clearSiteData, a logout also clears the site's cookies.
  const clearHeaders = opts.clearSiteData
  const sendCookie = (request: FastifyRequest, reply: FastifyReply, header: string): void => {
    reply.header('set-cookie', header)
    const cache = reply.getHeader('cache-control')
    if (typeof cache !== 'string' || !/\b(?:private|no-store)\b/i.test(cache)) reply.header('cache-control', 'no-store')
    if (clearHeaders && header === context.cookie.clearHeader(request)) reply.header('clear-site-data', '"cookies"')
  }

  // Returns a promise when there is something to write: Fastify then continues from its own
  // try/catch, so a reply that fails to serialize afterwards (a bad header, say) is its 500, never
  // an exception thrown from inside our promise (an unhandled rejection that would end the process).
  const persistSession: onSendHookHandler = function persistSession (request, reply, payload, done) {
    const session = (request as WithSession)[kSession]
    if (session === null) {
      done(null, payload)
      return
    }
    if (!session[kHasPending]) {
      const header = session.setCookieHeader()
      if (header !== undefined) sendCookie(request, reply, header)
      done(null, payload)
      return
    }
    return session[kFlush]().then(() => {
      const header = session.setCookieHeader()
      if (header !== undefined) sendCookie(request, reply, header)
      return payload
    })
  }
  fastify.addHook('onSend', persistSession)
}

function warnDegraded (warnings: Warnings): () => void {
  return () => {
    warnings.warn('UNAVAILABLE', 'fastify-redis-hash-session: Redis is unavailable; requests go on without their sessions (onUnavailable: "anonymous") until it is back, and their writes are refused')
  }
}

/**
 * The client the plugin owns: it fails fast instead of queueing (a command sent while disconnected
 * fails now, and one lost with a connection is never sent again later), is connected and ready
 * before the app starts, and is closed with the app, within `timeout` even while Redis is down.
 */
async function connect (fastify: FastifyInstance, url: string, timeout: number): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0
  })
  let booted = false
  /** The last connection error seen at boot: the real cause (ECONNREFUSED, say). */
  let bootError: Error | undefined
  // Before connect(), and never removed: ioredis prints "[ioredis] Unhandled error event" for
  // errors nobody listens to, even after disconnect().
  redis.on('error', (err: Error) => {
    // At boot the failed connect() reports it; afterwards ioredis reconnects by itself.
    if (booted) fastify.log.warn({ err: { name: err.name, message: err.message } }, 'fastify-redis-hash-session: Redis connection error')
    else bootError = err
  })
  try {
    await redis.connect()
  } catch (err) {
    redis.disconnect()
    // Without an offline queue connect() itself often rejects with a generic "Connection is closed.";
    // the error event before it says why.
    throw new ConnectError(redactPassword(url), connectReason(bootError ?? err as Error, url))
  }
  booted = true
  fastify.addHook('onClose', async () => { await close(redis, timeout) })
  return redis
}

/** Quit politely when connected, within `timeout`; otherwise (or then) drop the connection. */
async function close (redis: Redis, timeout: number): Promise<void> {
  if (redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      redis.quit().catch(() => {}),
      new Promise((resolve) => { timer = setTimeout(resolve, timeout === 0 ? 2000 : timeout) })
    ])
    clearTimeout(timer)
  }
  redis.disconnect()
}

/**
 * A client passed in is the caller's: the plugin never closes it, but waits (up to `timeout`) for
 * one that is still connecting, so the first requests do not fail just after boot, and connects a
 * lazyConnect one (nothing else would: the plugin sends no command to a client that is not ready).
 * One still not ready then is no error: requests get 503 until it is, as in any outage.
 */
async function whenReady (fastify: FastifyInstance, redis: RedisClient, timeout: number): Promise<void> {
  if (redis.status === 'wait') redis.connect().catch(() => {})
  const readiness = new Readiness(redis)
  if (readiness.ready) return
  let timer: NodeJS.Timeout | undefined
  const ready = !readiness.connecting
    ? false
    : await new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeout === 0 ? 2000 : timeout)
      readiness.whenReady(resolve)
    })
  clearTimeout(timer)
  if (!ready) fastify.log.warn('fastify-redis-hash-session: the Redis client is not connected yet; requests that need a session get 503 until it is')
}

/** Why a connection failed, for ConnectError: no trailing period (the message adds its own), no password. */
function connectReason (err: Error, url: string): string {
  let reason = String(err.message).replace(/[.\s]+$/, '')
  try {
    const password = decodeURIComponent(new URL(url).password)
    if (password !== '') reason = reason.split(password).join('***')
  } catch {}
  return reason === '' ? err.name : reason
}

function redactPassword (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return 'the given URL'
  }
}
