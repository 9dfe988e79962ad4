// The Fastify wiring: decorators and hooks. A request reads top to bottom: onRequest loads the
// session (one round trip that also slides the TTL), the handler uses request.session, onSend
// writes what changed and sets or clears the cookie.
import fastifyCookie from '@fastify/cookie'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler, onSendHookHandler } from 'fastify'
import { Redis } from 'ioredis'
import { ConnectError } from './errors'
import { resolvePluginOptions, type ResolvedCookieOptions } from './options'
import { Session, kCookieAction, kFlush, kHasPending } from './session'
import { RedisSessionStore, isValidId } from './store'
import type { RedisSessionOptions } from './types'

export const plugin: FastifyPluginAsync<RedisSessionOptions> = async function redisSession (fastify, options) {
  const opts = resolvePluginOptions(options)
  const redis = typeof opts.redis === 'string' ? await connect(opts.redis) : opts.redis
  if (typeof opts.redis === 'string') {
    // We made this client, so we close it and report its connection errors (ioredis reconnects by
    // itself); a client the caller passed in is theirs to close and to listen to.
    redis.on('error', (err: Error) => { fastify.log.warn({ err }, 'fastify-redis-hash-session: Redis connection error') })
    fastify.addHook('onClose', async () => { await redis.quit() })
  }
  const store = new RedisSessionStore({ redis, ...opts.store })
  const cookieName = opts.cookieName
  const cookieOptions = cookieAttributes(opts.cookie)

  if (!fastify.hasPlugin('@fastify/cookie')) await fastify.register(fastifyCookie)

  fastify.decorate('sessionStore', { getter: () => store })
  // Set per request in onRequest; null only until then (or when loading failed).
  fastify.decorateRequest('session', null as unknown as Session)

  // Callback style: one promise (the Redis call's) per request instead of an async function's too.
  const loadSession: onRequestHookHandler = function loadSession (request, _reply, done) {
    if (request.routeOptions.config.session === false) {
      request.session = new Session(store, false)
      done()
      return
    }
    const id = readCookie(request, cookieName)
    if (id === undefined) {
      request.session = new Session(store, true)
      done()
      return
    }
    // A cookie of the wrong shape never reaches Redis; an unknown ID is never adopted (no fixation).
    if (!isValidId(id)) {
      request.session = new Session(store, true, true)
      done()
      return
    }
    store.load(id).then((fields) => {
      request.session = fields === null
        ? new Session(store, true, true)
        : new Session(store, true, true, id, fields)
      done()
    }, done)
  }
  fastify.addHook('onRequest', loadSession)

  const persistSession: onSendHookHandler = function persistSession (request, reply, payload, done) {
    const session = request.session
    if (session === null) {
      done(null, payload)
      return
    }
    if (!session[kHasPending]) {
      applyCookie(reply, session)
      done(null, payload)
      return
    }
    session[kFlush]().then(() => {
      applyCookie(reply, session)
      done(null, payload)
    }, (err: Error) => { done(err) })
  }
  fastify.addHook('onSend', persistSession)

  /** The cookie changes only when the ID does: create, regenerate, destroy. */
  function applyCookie (reply: FastifyReply, session: Session): void {
    const action = session[kCookieAction]
    if (action === 'none') return
    session[kCookieAction] = 'none'
    if (action === 'set') reply.setCookie(cookieName, session.id as string, cookieOptions)
    else reply.clearCookie(cookieName, cookieOptions)
  }
}

function readCookie (request: FastifyRequest, name: string): string | undefined {
  // @fastify/cookie parses in onRequest by default; if it was registered with another hook, parse here.
  const cookies = request.cookies ?? (request.headers.cookie === undefined ? undefined : request.server.parseCookie(request.headers.cookie))
  return cookies?.[name]
}

function cookieAttributes (cookie: ResolvedCookieOptions): Record<string, unknown> {
  const attributes: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(cookie)) if (value !== undefined) attributes[name] = value
  return Object.freeze(attributes)
}

/** Connect a client of our own and wait until it is ready, so a wrong URL fails at boot. */
async function connect (url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true })
  try {
    await redis.connect()
    return redis
  } catch (err) {
    redis.disconnect()
    throw new ConnectError(redactPassword(url), (err as Error).message)
  }
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
