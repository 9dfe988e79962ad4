// What every contender server shares: its settings from the environment, a Redis round-trip counter
// at the socket level (the same for ioredis and node-redis), the GET /__stats route the runner reads,
// and a listen/stop that never outlives the runner.
import { Socket } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'

export interface ServerSettings {
  port: number
  redisUrl: string
  redisPort: number
}

/** The session TTL every contender uses, in seconds (this plugin's default). */
export const TTL = 1800
/** For the contenders that sign their cookie. */
export const SECRET = 'a-benchmark-secret-of-more-than-32-characters'

export function settings (): ServerSettings {
  const port = Number(process.env.BENCH_PORT)
  const redisUrl = process.env.BENCH_REDIS_URL ?? ''
  const redisPort = Number(new URL(redisUrl).port)
  if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(redisPort) || redisPort <= 0) {
    throw new Error('set BENCH_PORT and BENCH_REDIS_URL (redis://127.0.0.1:<port>)')
  }
  return { port, redisUrl, redisPort }
}

interface RedisSocketState { awaitingWrite: boolean }
const kState = Symbol('bench.redisSocket')
type Tracked = Socket & { [kState]?: RedisSocketState | false, server?: unknown }

const counters = { roundTrips: 0, writes: 0 }

/**
 * Count Redis round trips by watching the client's socket: a write after a reply (or the first write)
 * starts a new round trip; writes before the next reply travel with it (a pipeline, or commands sent
 * in the same tick). Exact when one request is in flight at a time, which is how the runner probes it.
 */
export function countRedisRoundTrips (redisPort: number): void {
  const write = Socket.prototype.write
  Socket.prototype.write = function (this: Tracked, ...args: unknown[]) {
    let state = this[kState]
    if (state === undefined && this.remotePort !== undefined) {
      // Accepted sockets (HTTP) have .server; a client socket to the Redis port is ours to count.
      state = this.server == null && this.remotePort === redisPort ? { awaitingWrite: true } : false
      this[kState] = state
      if (state !== false) {
        const s = state
        this.on('data', () => { s.awaitingWrite = true })
      }
    }
    if (state) {
      counters.writes++
      if (state.awaitingWrite) {
        counters.roundTrips++
        state.awaitingWrite = false
      }
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args)
  } as typeof Socket.prototype.write
}

/** GET /__stats: CPU time, Redis round trips and memory of this process so far. */
export function statsRoute (app: FastifyInstance, routeConfig: Record<string, unknown> = {}): void {
  app.get('/__stats', { config: routeConfig }, async () => {
    const cpu = process.cpuUsage()
    const memory = process.memoryUsage()
    return {
      pid: process.pid,
      cpuMicros: cpu.user + cpu.system,
      roundTrips: counters.roundTrips,
      writes: counters.writes,
      heapUsed: memory.heapUsed,
      rss: memory.rss
    }
  })
}

/**
 * Listen on loopback, and stop by ourselves: on SIGTERM (graceful, so --cpu-prof writes its profile),
 * when the runner's IPC channel closes (the runner died), or after a hard limit.
 */
export async function serve (app: FastifyInstance, port: number, onClose: () => Promise<void> | void = () => {}): Promise<void> {
  let stopping = false
  const stop = (code: number): void => {
    if (stopping) return
    stopping = true
    const force = setTimeout(() => process.exit(code), 3000)
    force.unref()
    app.close().then(onClose).then(() => process.exit(code), () => process.exit(code))
  }
  process.once('SIGTERM', () => stop(0))
  process.once('SIGINT', () => stop(0))
  process.once('disconnect', () => stop(1))
  const limit = setTimeout(() => stop(2), Number(process.env.BENCH_MAX_LIFETIME_MS ?? 20 * 60_000))
  limit.unref()
  await app.listen({ port, host: '127.0.0.1' })
}

/** The floors' key prefix: the plugin's default, so every contender stores the same bytes. */
export const PREFIX = 'session:'

/** For the floors: the key the sid cookie names, or undefined (a plain scan of the Cookie header). */
export function sessionKey (request: FastifyRequest): string | undefined {
  const header = request.headers.cookie
  if (header === undefined) return undefined
  const start = header.startsWith('sid=') ? 4 : (header.indexOf('; sid=') + 6)
  if (start === 5) return undefined
  let end = header.indexOf(';', start)
  if (end === -1) end = header.length
  const id = header.slice(start, end)
  return id.length === 43 ? PREFIX + id : undefined
}

/** The username every login carries: fixed width, so each contender stores the same bytes. */
export function readUsername (body: unknown): string | undefined {
  const username = (body as { username?: unknown } | null)?.username
  return typeof username === 'string' && username.length > 0 && username.length <= 64 ? username : undefined
}

/** The get/set session API that @fastify/session and @mgcrea/fastify-session share. */
export interface GetSetSession {
  get: (key: string) => unknown
  set: (key: string, value: unknown) => void
}

/**
 * The bench routes for a library with a get/set session saved in onSend: login, read, and an
 * increment that rewrites the counter (read-modify-write, so concurrent increments can be lost).
 * Neither library has a per-route opt-out, so /public loads (and, rolling, saves) the session too.
 */
export function getSetSessionRoutes (app: FastifyInstance): void {
  const sessionOf = (request: FastifyRequest): GetSetSession => (request as unknown as { session: GetSetSession }).session
  app.post('/login', async (request, reply) => {
    const username = readUsername(request.body)
    if (username === undefined) return await reply.code(400).send({ error: 'username required' })
    const session = sessionOf(request)
    session.set('username', username)
    session.set('counter', 0)
    return { ok: true }
  })
  app.get('/read', async (request, reply) => {
    const username = sessionOf(request).get('username')
    if (username === undefined) return await reply.code(401).send({ error: 'no session' })
    return { username }
  })
  app.post('/increment', async (request, reply) => {
    const session = sessionOf(request)
    if (session.get('username') === undefined) return await reply.code(401).send({ error: 'no session' })
    const counter = Number(session.get('counter')) + 1
    session.set('counter', counter)
    return { counter }
  })
  app.get('/public', async () => ({ ok: true }))
  statsRoute(app)
}
