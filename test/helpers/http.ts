// serve(t, setup): a Fastify app with the plugin on a real Redis (a unique key prefix), the test's own
// plugins and routes, listening on 127.0.0.1 on a free port; Browser: a client over real HTTP (fetch)
// that keeps its cookies by hand the way a browser does and never follows redirects by itself.
// For the "works with" tests, where the other plugins must see real requests and real cookies.
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import redisSession, { type RedisSessionOptions } from '../../plugin'
import { newClient, uniquePrefix } from './build'

interface Tap { teardown: (fn: () => Promise<void> | void) => void }

export interface Served {
  app: FastifyInstance
  /** http://127.0.0.1:<port> */
  origin: string
  /** A client of the test's own, for asserting what Redis holds. */
  redis: Redis
  prefix: string
  key: (id: string) => string
  /** Every key the app has written under its prefix. */
  keys: () => Promise<string[]>
}

/**
 * The plugin is registered first, then `setup` registers the other plugins and the routes, in the
 * order an app would.
 */
export async function serve (t: Tap, setup: (app: FastifyInstance) => Promise<void> | void, options: Partial<RedisSessionOptions> = {}): Promise<Served> {
  const redis = await newClient(t)
  const prefix = options.prefix ?? uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { ...options, redis: options.redis ?? await newClient(t), prefix })
  await setup(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  t.teardown(async () => {
    await app.close()
    // Leave nothing behind on a shared Redis (REDIS_URL).
    const keys = await redis.keys(prefix + '*')
    if (keys.length > 0) await redis.del(...keys)
  })
  return {
    app,
    origin: `http://127.0.0.1:${port}`,
    redis,
    prefix,
    key: (id) => prefix + id,
    keys: () => redis.keys(prefix + '*')
  }
}

export interface Page {
  status: number
  headers: Headers
  /** The Set-Cookie headers of this response, as sent. */
  setCookies: string[]
  /** The Location header of a redirect, as a path. */
  location: string | undefined
  body: string
  json: <T = any>() => T
}

/** A browser's cookie jar and fetch, over real HTTP. */
export class Browser {
  readonly origin: string
  readonly cookies = new Map<string, string>()

  constructor (origin: string) {
    this.origin = origin
  }

  /** The session cookie's value, as this browser holds it. */
  get sid (): string | undefined { return this.cookies.get('sid') }
  set sid (value: string | undefined) {
    if (value === undefined) this.cookies.delete('sid')
    else this.cookies.set('sid', value)
  }

  async request (method: string, path: string, init: { body?: string, headers?: Record<string, string> } = {}): Promise<Page> {
    const headers: Record<string, string> = { ...init.headers }
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const res = await fetch(this.origin + path, { method, headers, body: init.body, redirect: 'manual' })
    const setCookies = res.headers.getSetCookie()
    for (const header of setCookies) this.#apply(header)
    const body = await res.text()
    const location = res.headers.get('location') ?? undefined
    return { status: res.status, headers: res.headers, setCookies, location, body, json: () => JSON.parse(body) }
  }

  get (path: string): Promise<Page> { return this.request('GET', path) }

  /** POST an urlencoded form, as a browser submits one. */
  form (path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    return this.request('POST', path, {
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }
    })
  }

  /** Follow a redirect the way a browser does after a form POST: GET its Location. */
  follow (page: Page): Promise<Page> {
    if (page.status < 300 || page.status > 399 || page.location === undefined) {
      throw new Error(`not a redirect: ${page.status} ${page.body.slice(0, 200)}`)
    }
    return this.get(page.location)
  }

  #apply (header: string): void {
    const [pair, ...attributes] = header.split(';').map((part) => part.trim())
    const eq = pair.indexOf('=')
    const name = pair.slice(0, eq)
    const value = pair.slice(eq + 1)
    const expired = attributes.some((a) => /^max-age=(0|-\d+)$/i.test(a)) ||
      attributes.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) <= Date.now())
    if (expired || value === '') this.cookies.delete(name)
    else this.cookies.set(name, value)
  }
}

/** The value of the hidden `_csrf` field of the first form on a page. */
export function csrfField (html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html)
  if (match === null) throw new Error(`no _csrf field on the page: ${html.slice(0, 200)}`)
  return match[1]
}

/** The text of every element with class "flash" on a page, as `type: message`. */
export function flashes (html: string): string[] {
  return [...html.matchAll(/<p class="flash ([a-z]+)">([^<]*)<\/p>/g)].map((m) => `${m[1]}: ${m[2]}`)
}
