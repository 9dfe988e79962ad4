// build(t): a Fastify app with the plugin on a real Redis, a unique key prefix, routes that expose
// every session method, and teardown. agent(app) keeps the session cookie between injects.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import { type Cluster, Redis } from 'ioredis'
import type { Test } from 'tap'
import redisSession, { type RedisSessionOptions, type SessionRecord } from '../../plugin'
import { redisUrl } from './redis-server'

interface Tap { teardown: (fn: () => Promise<void> | void) => void }

export interface Built {
  app: FastifyInstance
  /** A client of the test's own, for asserting what Redis holds. */
  redis: Redis
  prefix: string
  key: (id: string) => string
}

export async function newClient (t: Tap, url?: string): Promise<Redis> {
  const redis = new Redis(url ?? await redisUrl())
  t.teardown(() => { redis.disconnect() })
  return redis
}

export function uniquePrefix (): string {
  return `test:${randomBytes(6).toString('hex')}:`
}

export async function build (t: Tap, options: Partial<RedisSessionOptions> = {}, routes: (app: FastifyInstance) => void = sessionRoutes): Promise<Built> {
  const redis = await newClient(t)
  const pluginClient = options.redis ?? await newClient(t)
  const prefix = options.prefix ?? uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { ...options, redis: pluginClient, prefix })
  routes(app)
  await app.ready()
  t.teardown(async () => {
    await app.close()
    // Leave nothing behind on a shared Redis (REDIS_URL).
    const keys = await redis.keys(prefix + '*')
    if (keys.length > 0) await redis.del(...keys)
  })
  return { app, redis, prefix, key: (id) => prefix + id }
}

/** Routes that expose each session method, for the behaviour tests. */
export function sessionRoutes (app: FastifyInstance): void {
  app.get('/session', async (request) => {
    const s = request.session
    return { id: s.id ?? null, isNew: s.isNew, data: s.data(), ttl: s.ttl, createdAt: s.createdAt ?? null, lastAccessedAt: s.lastAccessedAt ?? null }
  })
  app.get('/get/:field', async (request) => ({ value: request.session.get((request.params as { field: string }).field) ?? null }))
  app.post('/set', async (request) => {
    request.session.set(request.body as SessionRecord)
    return { id: request.session.id ?? null }
  })
  app.post('/set/:field', async (request) => {
    request.session.set((request.params as { field: string }).field, (request.body as { value: string }).value)
    return { ok: true }
  })
  app.post('/delete/:field', async (request) => {
    request.session.delete((request.params as { field: string }).field)
    return { ok: true }
  })
  app.post('/increment/:field', async (request) => {
    const by = (request.query as { by?: string }).by
    return { value: await request.session.increment((request.params as { field: string }).field, by === undefined ? undefined : Number(by)) }
  })
  app.post('/ttl', async (request) => {
    await request.session.setTtl((request.body as { ttl: number }).ttl)
    return { ttl: request.session.ttl }
  })
  app.post('/create', async (request) => {
    const body = (request.body ?? {}) as { data?: SessionRecord, ttl?: number }
    return { id: await request.session.create(body.data, { ttl: body.ttl }) }
  })
  app.post('/regenerate', async (request) => ({ id: await request.session.regenerate() }))
  app.post('/destroy', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  app.post('/save', async (request) => {
    request.session.set(request.body as SessionRecord)
    await request.session.save()
    return { ok: true }
  })
  app.get('/remaining', async (request) => ({ seconds: await request.session.remainingTtl() }))
  app.get('/public', { config: { session: false } }, async () => ({ ok: true }))
  app.post('/public/set', { config: { session: false } }, async (request) => {
    request.session.set('x', '1')
    return { ok: true }
  })
}

/**
 * Assert that an ID was retired by a login or regenerate(): its key holds no session data any more,
 * only the short-lived rotation marker, which expires by itself within a minute.
 */
export async function assertRetired (t: Test, redis: Redis | Cluster, key: string): Promise<void> {
  const hash = await redis.hgetall(key)
  t.same(Object.keys(hash), ['rotated_at'], 'the old key holds only the rotation marker, no session data')
  const ttl = await redis.ttl(key)
  t.ok(ttl > 0 && ttl <= 60, `and the marker expires by itself (TTL ${ttl} s)`)
}

/** A tiny cookie jar around inject: keeps the session cookie the way a browser would. */
export class Agent {
  readonly app: FastifyInstance
  readonly cookieName: string
  sid: string | undefined

  constructor (app: FastifyInstance, cookieName = 'sid') {
    this.app = app
    this.cookieName = cookieName
  }

  async inject (options: InjectOptions | string): Promise<LightMyRequestResponse> {
    const opts: InjectOptions = typeof options === 'string' ? { url: options } : { ...options }
    if (this.sid !== undefined) opts.headers = { ...opts.headers, cookie: `${this.cookieName}=${this.sid}` }
    const response = await this.app.inject(opts)
    for (const cookie of response.cookies as Array<{ name: string, value: string, maxAge?: number }>) {
      if (cookie.name !== this.cookieName) continue
      this.sid = cookie.maxAge === 0 ? undefined : cookie.value
    }
    return response
  }

  get (url: string): Promise<LightMyRequestResponse> { return this.inject({ method: 'GET', url }) }
  post (url: string, payload?: object): Promise<LightMyRequestResponse> { return this.inject({ method: 'POST', url, payload }) }
}

/**
 * Count Redis round trips a client makes. A command sent while no reply is outstanding starts a new
 * round trip; commands sent while others are in flight (a pipeline, or Promise.all) travel with them.
 */
export function countRoundTrips (redis: Redis): { readonly roundTrips: number, readonly commands: string[], reset: () => void } {
  const counter = { roundTrips: 0, commands: [] as string[], reset () { counter.roundTrips = 0; counter.commands.length = 0 } }
  let outstanding = 0
  const settled = (): void => { outstanding-- }
  const original = redis.sendCommand.bind(redis)
  redis.sendCommand = ((command: { name: string, promise: Promise<unknown> }, ...rest: unknown[]) => {
    counter.commands.push(command.name)
    if (outstanding === 0) counter.roundTrips++
    outstanding++
    command.promise.then(settled, settled)
    return (original as (...args: unknown[]) => unknown)(command, ...rest)
  }) as typeof redis.sendCommand
  return counter
}

/** After a Redis restart: POST /create (sessionRoutes) until the client has reconnected; the new ID, or undefined after ~10 s. */
export async function createWhenBack (app: FastifyInstance): Promise<string | undefined> {
  for (let i = 0; i < 40; i++) {
    const attempt = await app.inject({ method: 'POST', url: '/create' })
    if (attempt.statusCode === 200) return attempt.json().id
    await sleep(250)
  }
  return undefined
}
