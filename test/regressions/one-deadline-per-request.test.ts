// Used to go wrong: `timeout` bounded each Redis call on its own, so a handler making several calls
// against a slow Redis waited up to `timeout` per call: with ten calls of 250 ms and a timeout of
// 300 ms, the request took almost three seconds and no call ever timed out. Now the load, the
// handler's calls and the write in onSend spend from one budget: the request answers 503 at about
// `timeout` in total.
import { createServer, connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../../plugin'
import { Agent, sessionRoutes, uniquePrefix } from '../helpers/build'
import { startRedisServer } from '../helpers/redis-server'

/** A loopback TCP proxy in front of Redis that holds every reply for `delay` ms. */
async function slowProxy (t: { teardown: (fn: () => Promise<void> | void) => void }, port: number): Promise<{ url: string, delay: number }> {
  const state = { url: '', delay: 0 }
  const sockets = new Set<Socket>()
  const proxy = createServer((client) => {
    const upstream = connect(port, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.on('data', (chunk) => upstream.write(chunk))
    // A constant delay keeps the replies in order.
    upstream.on('data', (chunk) => {
      if (state.delay === 0) client.write(chunk)
      else setTimeout(() => { if (!client.destroyed) client.write(chunk) }, state.delay)
    })
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      a.on('close', () => b.destroy())
      a.on('error', () => b.destroy())
    }
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  state.url = `redis://127.0.0.1:${(proxy.address() as { port: number }).port}`
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => proxy.close(() => resolve()))
  })
  return state
}

t.test('a handler making many calls against a slow Redis answers within one timeout in total', async (t) => {
  const server = await startRedisServer(t)
  const proxy = await slowProxy(t, server.port)
  const redis = new Redis(proxy.url)
  redis.on('error', () => {})
  const admin = new Redis(server.url)
  t.teardown(() => { redis.disconnect(); admin.disconnect() })
  const prefix = uniquePrefix()
  const timeout = 300
  const app = Fastify()
  await app.register(redisSession, { redis, prefix, timeout })
  sessionRoutes(app)
  app.post('/many', async (request) => {
    // Ten calls, each well under `timeout` on its own.
    for (let i = 0; i < 10; i++) await request.session.increment('n')
    return { n: request.session.get('n') }
  })
  t.teardown(() => app.close())
  const agent = new Agent(app)
  await agent.post('/create', { data: { username: 'ann' } })
  const key = prefix + (agent.sid as string)

  proxy.delay = 250
  const started = Date.now()
  let bound: NodeJS.Timeout | undefined
  const res = await Promise.race([agent.post('/many'), new Promise<undefined>((resolve) => { bound = setTimeout(() => resolve(undefined), 10_000) })])
  clearTimeout(bound)
  const took = Date.now() - started
  t.ok(res !== undefined, 'the request answered at all')
  t.equal(res?.statusCode, 503, 'the budget ran out: 503')
  t.equal(res?.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  t.ok(took < 1500, `answered after ${took} ms (timeout ${timeout} ms, ten calls of 250 ms each)`)
  // Let the call that was on the wire when the deadline fired land.
  await sleep(500)
  const n = Number(await admin.hget(key, 'n') ?? 0)
  t.ok(n <= 1, `the handler stopped at the deadline: Redis holds n = ${n}, not 10`)
  t.equal(await admin.hget(key, 'username'), 'ann', 'and the session is still there')
})
