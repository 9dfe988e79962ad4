// The demo service: the whole session lifecycle (log in, count, change the TTL, log out, expire)
// on one Redis hash per session. buildApp() returns the Fastify instance without listening, so
// tests inject requests and server.ts adds flags, listen() and shutdown.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import fastifyCookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import redisSession, { RESERVED_FIELDS, type RedisClient } from '../plugin'
import { errorPage } from './views/error'
import { loginPage, type TtlChoice } from './views/login'
import { sessionPage } from './views/session'

/** The TTLs a visitor may pick, in seconds: the login form and POST /login, /ttl accept only these. */
export const TTL_CHOICES: readonly TtlChoice[] = Object.freeze([
  { seconds: 15, label: '15 seconds', short: '15 s' },
  { seconds: 60, label: '1 minute', short: '1 min' },
  { seconds: 300, label: '5 minutes', short: '5 min' },
  { seconds: 1800, label: '30 minutes', short: '30 min' }
])

export const USERNAME_MAX = 64
const COOKIE_NAME = 'sid'
const CSRF_FIELD = 'csrf_token'
/** POST /logout lands on `/?logged-out`; the key only selects the page's fixed notice, its value is never shown. */
const LOGGED_OUT_QUERY = 'logged-out'

export interface DemoOptions {
  /** An ioredis client (you close it) or a URL (the plugin connects, and quits on close). */
  redis: RedisClient | string
  /** Session key prefix. Default `'session:'`. */
  prefix?: string
  /** Milliseconds a Redis call may take before the page answers 503. Default: the plugin's (2000). */
  timeout?: number
  /** Fastify's logger option. Default `false`. */
  logger?: FastifyServerOptions['logger']
  /** How the page tells you to run redis-cli against this Redis. Default `'redis-cli'`. */
  redisCli?: string
  /** Sign the session cookie (the plugin's `secret`). Default: unsigned. The server passes SESSION_SECRET. */
  secret?: string | string[]
  /** The plugin's absoluteTtl: a session ends this many seconds after login however active. Default: none. */
  absoluteTtl?: number
}

interface StaticFile { body: Buffer, type: string, etag: string }

const CONTENT_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/**
 * demo/public holds the stylesheet and the page script. tsc does not copy it, so look for it next
 * to this file (running from demo/*.ts) and in the project root (running from dist/demo/*.js,
 * which is also the layout of the container image).
 */
export function publicDir (): string {
  const candidates = [join(__dirname, 'public'), join(__dirname, '..', '..', 'demo', 'public')]
  const found = candidates.find((dir) => existsSync(join(dir, 'session.js')))
  if (found === undefined) throw new Error(`demo/public not found; looked in ${candidates.join(' and ')}`)
  return found
}

/** Read the static files once, at start: a fixed set served from memory, so no path ever reaches the disk. */
function loadStatic (): Map<string, StaticFile> {
  const dir = publicDir()
  const files = new Map<string, StaticFile>()
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)]
    if (type === undefined) continue
    const body = readFileSync(join(dir, name))
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` })
  }
  return files
}

export function buildApp (options: DemoOptions): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false })
  const staticFiles = loadStatic()
  const redisCli = options.redisCli ?? 'redis-cli'

  // A strict policy: scripts, styles and images only from this origin, no inline code at all.
  // The demo is served over plain HTTP (localhost, docker compose), so no HSTS and no upgrade of
  // requests to https; put it behind TLS and turn both back on.
  app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"]
      }
    },
    strictTransportSecurity: false,
    // Not helmet's no-referrer: under it browsers send `Origin: null` even on same-origin form
    // posts, and POST /login checks Origin. same-origin keeps cross-site requests uninformed.
    referrerPolicy: { policy: 'same-origin' }
  })
  app.register(formbody)
  // For request.cookies in the home page; the session plugin itself does not need it.
  app.register(fastifyCookie)
  app.register(redisSession, {
    redis: options.redis,
    ...(options.prefix !== undefined && { prefix: options.prefix }),
    ...(options.timeout !== undefined && { timeout: options.timeout }),
    ...(options.secret !== undefined && { secret: options.secret }),
    ...(options.absoluteTtl !== undefined && { absoluteTtl: options.absoluteTtl })
  })

  app.setErrorHandler(function onError (err: FastifyError, request, reply) {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (status >= 500) request.log.error({ err }, 'request failed')
    else request.log.info({ code: err.code, status }, 'request refused')
    reply.header('cache-control', 'no-store')
    if (status === 503) reply.header('retry-after', '5')
    if (isApi(request)) {
      return reply.code(status).send({
        statusCode: status,
        code: err.code,
        error: status === 503 ? 'Service Unavailable' : status >= 500 ? 'Internal Server Error' : 'Bad Request',
        message: status === 503
          ? 'The session store (Redis) is not answering; retry shortly.'
          : status >= 500 ? 'Something went wrong on the server.' : err.message
      })
    }
    if (status === 503) {
      return sendHtml(reply.code(503), errorPage({
        status: 503,
        title: 'Redis is not answering',
        // No promise that the session survives: the compose Redis keeps nothing on disk.
        message: 'The session store is unavailable, so the demo cannot load or save your session right now. The page works again as soon as Redis answers; try again in a few seconds. Sessions last only as long as Redis keeps running: if it was restarted, yours may be gone (the docker compose Redis keeps nothing on disk) and you start a new one.',
        back: request.method === 'GET' ? sameOriginPath(request.url) : '/'
      }))
    }
    if (status >= 500) {
      return sendHtml(reply.code(status), errorPage({ status, title: 'Something went wrong', message: 'The server could not handle this request. The details are in its log.' }))
    }
    return sendHtml(reply.code(status), errorPage({ status, title: 'Bad request', message: err.message }))
  })

  app.setNotFoundHandler(function notFound (request, reply) {
    reply.header('cache-control', 'no-store')
    if (isApi(request)) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `No route ${request.method} ${request.url}` })
    return sendHtml(reply.code(404), errorPage({ status: 404, title: 'Page not found', message: `There is nothing at ${request.url}.` }))
  })

  // ---------------------------------------------------------------------------------------------
  // No session needed: zero Redis round trips for the session.

  app.get('/healthz', { config: { session: false } }, async function healthz (_request, reply) {
    reply.header('cache-control', 'no-store')
    try {
      await withTimeout(app.sessionStore.redis.ping(), 1000)
      return { redis: 'ok' }
    } catch (err) {
      return reply.code(503).send({ redis: 'unavailable', message: (err as Error).message })
    }
  })

  app.get('/static/:file', { config: { session: false } }, async function staticFile (request, reply) {
    const file = staticFiles.get((request.params as { file: string }).file)
    if (file === undefined) return reply.callNotFound()
    reply.header('content-type', file.type).header('etag', file.etag).header('cache-control', 'no-cache')
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send()
    return reply.send(file.body)
  })

  // Browsers and tools ask for /favicon.ico whatever the page links; send them to the SVG the
  // layout links to, without a session load (which would slide the TTL on every page view).
  app.get('/favicon.ico', { config: { session: false } }, async function favicon (_request, reply) {
    reply.header('cache-control', 'public, max-age=86400')
    return reply.redirect('/static/favicon.svg', 301)
  })

  // ---------------------------------------------------------------------------------------------
  // Pages. GET / loads the session (which slides its TTL, as every load does) but never creates one
  // and never counts a page view.

  app.get('/', async function home (request, reply) {
    reply.header('cache-control', 'no-store')
    const session = request.session
    const store = app.sessionStore
    if (session.id === undefined) {
      // A cookie without a live session: it expired or was ended. Say so, and drop the cookie.
      const stale = request.cookies[COOKIE_NAME] !== undefined
      if (stale) await session.destroy()
      return sendHtml(reply, loginPage({
        ttlChoices: TTL_CHOICES,
        notice: stale ? 'Your session expired, so Redis no longer holds it. Start a new one.' : loggedOut(request) ? 'You are logged out.' : undefined
      }))
    }
    const id = session.id
    const user = session.user
    // The raw hash for the table: HGETALL without touching the TTL or last_accessed_at again.
    const [hash, expiresIn, sessions] = await Promise.all([
      store.getSession(id, { refreshTtl: false }),
      store.remainingTtl(id),
      user === undefined ? [] : store.listUserSessions(user)
    ])
    if (hash === null || expiresIn < 0) {
      await session.destroy()
      return sendHtml(reply, loginPage({ ttlChoices: TTL_CHOICES, notice: 'Your session expired just now. Start a new one.' }))
    }
    return sendHtml(reply, sessionPage({
      username: String(session.get('username') ?? ''),
      pageViews: Number(hash.page_views ?? 0),
      ttl: session.ttl,
      expiresIn,
      createdAt: session.createdAt,
      lastAccessedAt: session.lastAccessedAt,
      key: store.key(id),
      prefix: store.prefix,
      hash,
      reservedFields: RESERVED_FIELDS,
      sessions,
      currentHandle: session.handle as string,
      expiresAt: session.expiresAt,
      csrfToken: String(session.get(CSRF_FIELD) ?? ''),
      ttlChoices: TTL_CHOICES,
      redisCli
    }))
  })

  app.post('/login', async function login (request, reply) {
    if (!sameOrigin(request)) return forbidden(reply, 'This login form was sent from another site, so it was refused.')
    const body = formFields(request)
    const errors: string[] = []
    const username = typeof body.username === 'string' ? body.username.trim() : undefined
    const usernameLength = username === undefined ? 0 : [...username].length
    if (username === undefined || usernameLength === 0) {
      errors.push('Enter a username.')
    } else if (usernameLength > USERNAME_MAX) {
      errors.push(`The username is ${usernameLength} characters long; use at most ${USERNAME_MAX}.`)
    } else if (/\p{Cc}/u.test(username)) {
      errors.push('The username contains control characters; use letters, digits, spaces or punctuation.')
    }
    const ttl = parseTtl(body.ttl)
    if (ttl === undefined) errors.push(`Pick a session TTL: one of ${TTL_CHOICES.map((c) => c.label).join(', ')}.`)
    if (errors.length > 0) {
      return sendHtml(reply.code(400).header('cache-control', 'no-store'), loginPage({
        ttlChoices: TTL_CHOICES,
        username: typeof body.username === 'string' ? body.username.slice(0, 256) : undefined,
        ttl,
        errors
      }))
    }
    // create() issues a fresh ID and deletes any session this browser had: no fixation.
    // Filed under the username, so "Your sessions" lists every browser logged in as it.
    await request.session.create({ username: username as string, page_views: 0, [CSRF_FIELD]: randomBytes(32).toString('base64url') }, {
      ttl, user: username as string, label: deviceLabel(request.headers['user-agent'])
    })
    return reply.redirect('/', 303)
  })

  // The state-changing forms. Without a live session there is nothing to change: back to `/`,
  // which explains that the session expired. With one, the form's CSRF token must match.

  app.post('/increment', async function increment (request, reply) {
    if (request.session.id === undefined) return reply.redirect('/', 303)
    if (!validCsrf(request)) return forbidden(reply)
    await ifStillThere(request.session.increment('page_views'))
    return reply.redirect('/', 303)
  })

  app.post('/ttl', async function changeTtl (request, reply) {
    if (request.session.id === undefined) return reply.redirect('/', 303)
    if (!validCsrf(request)) return forbidden(reply)
    const ttl = parseTtl(formFields(request).ttl)
    if (ttl === undefined) {
      return sendHtml(reply.code(400), errorPage({
        status: 400,
        title: 'Unknown TTL',
        message: `Pick a session TTL: one of ${TTL_CHOICES.map((c) => c.label).join(', ')}. Nothing was changed.`
      }))
    }
    await ifStillThere(request.session.setTtl(ttl))
    return reply.redirect('/', 303)
  })

  // "Your sessions": end one of this user's other sessions by its handle, or all of them but this one.
  app.post('/sessions/end', async function endSession (request, reply) {
    const user = request.session.user
    if (user === undefined) return reply.redirect('/', 303)
    if (!validCsrf(request)) return forbidden(reply)
    const handle = formFields(request).handle
    if (typeof handle === 'string' && handle !== request.session.handle) await app.sessionStore.destroyUserSession(user, handle)
    return reply.redirect('/', 303)
  })

  app.post('/sessions/end-others', async function endOthers (request, reply) {
    const user = request.session.user
    if (user === undefined) return reply.redirect('/', 303)
    if (!validCsrf(request)) return forbidden(reply)
    await app.sessionStore.destroyUserSessions(user, { except: request.session.handle })
    return reply.redirect('/', 303)
  })

  app.post('/logout', async function logout (request, reply) {
    if (request.session.id !== undefined && !validCsrf(request)) return forbidden(reply)
    // Also clears a stale cookie when the session already expired.
    await request.session.destroy()
    return reply.redirect(`/?${LOGGED_OUT_QUERY}`, 303)
  })

  // ---------------------------------------------------------------------------------------------
  // JSON for the page's countdown. Loading the session here slides its TTL like any other load,
  // so the page asks only when its own countdown has run out.

  app.get('/api/session', async function apiSession (request, reply) {
    reply.header('cache-control', 'no-store')
    const session = request.session
    const expiresIn = session.id === undefined ? -2 : await session.remainingTtl()
    if (session.id === undefined || expiresIn < 0) {
      return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'No live session: it expired or you are not logged in. Log in at /.' })
    }
    return {
      username: session.get('username') ?? null,
      page_views: Number(session.get('page_views') ?? 0),
      session_ttl: session.ttl,
      created_at: session.createdAt?.toISOString() ?? null,
      last_accessed_at: session.lastAccessedAt?.toISOString() ?? null,
      expires_in: expiresIn,
      csrf_token: session.get(CSRF_FIELD) ?? null
    }
  })

  return app
}

// -------------------------------------------------------------------------------------------------

/** What "Your sessions" calls a browser: its user agent, cut to a readable length. */
function deviceLabel (userAgent: string | undefined): string {
  const label = (userAgent ?? '').replace(/\p{Cc}/gu, ' ').trim()
  if (label === '') return 'Unknown browser'
  return label.length <= 120 ? label : label.slice(0, 119) + '…'
}

function isApi (request: FastifyRequest): boolean {
  return request.url === '/api' || request.url.startsWith('/api/') || request.url.startsWith('/healthz')
}

/**
 * Where the 503 page's "back" button leads: the request's own path and query when they stay on this
 * site, otherwise `/`. `//host/x` is protocol-relative, browsers read `/\host` the same way and drop
 * tabs and newlines before parsing, so the path must start with one "/" followed by anything but
 * "/" or "\", and a URL parser must agree that it resolves to this origin.
 */
export function sameOriginPath (url: string): string {
  if (!/^\/(?![/\\])/.test(url)) return '/'
  const base = 'http://demo.invalid'
  try {
    return new URL(url, base).origin === base ? url : '/'
  } catch {
    return '/'
  }
}

function loggedOut (request: FastifyRequest): boolean {
  const query = request.query
  return typeof query === 'object' && query !== null && Object.hasOwn(query, LOGGED_OUT_QUERY)
}

function sendHtml (reply: FastifyReply, page: string): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(page)
}

function forbidden (reply: FastifyReply, message = 'This form is out of date or did not come from this page (its CSRF token does not match your session), so nothing was changed. Go back, reload and try again.'): FastifyReply {
  return sendHtml(reply.code(403).header('cache-control', 'no-store'), errorPage({ status: 403, title: 'Request refused', message }))
}

function formFields (request: FastifyRequest): Record<string, unknown> {
  const body = request.body
  return typeof body === 'object' && body !== null ? body as Record<string, unknown> : {}
}

function parseTtl (value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined
  const seconds = Number(value)
  return TTL_CHOICES.some((c) => c.seconds === seconds) && /^\d+$/.test(String(value)) ? seconds : undefined
}

/** A browser sends Origin on every cross-site POST; when it is there it must name this host. */
function sameOrigin (request: FastifyRequest): boolean {
  const origin = request.headers.origin
  if (origin === undefined) return true
  try {
    return new URL(origin).host === request.headers.host
  } catch {
    return false // "null" and other opaque origins
  }
}

/** The form's `_csrf` against the session's token, in constant time (both hashed to the same length first). */
function validCsrf (request: FastifyRequest): boolean {
  const expected = request.session.get(CSRF_FIELD)
  const given = formFields(request)._csrf
  if (typeof expected !== 'string' || expected === '' || typeof given !== 'string') return false
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** The session expired between loading it and changing it: nothing was written and the cookie is cleared; `/` explains. */
async function ifStillThere (change: Promise<unknown>): Promise<void> {
  try {
    await change
  } catch (err) {
    if ((err as FastifyError).code !== 'FST_REDIS_SESSION_GONE') throw err
  }
}

function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    promise.then((value) => { clearTimeout(timer); resolve(value) }, (err: unknown) => { clearTimeout(timer); reject(err) })
  })
}
