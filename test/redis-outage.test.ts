// Redis slow or gone: a coded 503 within `timeout`, no crash, no unhandled rejection, routes that
// opted out keep answering, and recovery by itself when Redis is back.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../plugin'
import { Agent, createWhenBack, sessionRoutes, uniquePrefix } from './helpers/build'
import { startRedisServer } from './helpers/redis-server'

const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => { unhandled.push(reason) })

async function setup (t: Test, onSet?: () => Promise<void>) {
  const server = await startRedisServer(t)
  const redis = new Redis(server.url)
  redis.on('error', () => {}) // connection errors while the server is down are expected here
  t.teardown(() => { redis.disconnect() })
  const app = Fastify()
  const prefix = uniquePrefix()
  await app.register(redisSession, { redis, prefix, timeout: 500 })
  sessionRoutes(app)
  app.post('/set-then-wait', async (request) => {
    request.session.set('a', '1')
    await onSet?.()
    return { ok: true }
  })
  t.teardown(() => app.close())
  return { server, redis, app, prefix, agent: new Agent(app) }
}

t.test('Redis stopped and restarted mid-test', async (t) => {
  const { server, app, prefix, agent } = await setup(t)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  t.ok(id)

  await server.stop()
  const started = Date.now()
  const res = await agent.get('/session')
  const elapsed = Date.now() - started
  t.equal(res.statusCode, 503)
  t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'], "Fastify's JSON error shape")
  t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  t.ok(elapsed < 2500, `answered in ${elapsed} ms (timeout 500 ms)`)

  const login = await app.inject({ method: 'POST', url: '/create' })
  t.equal(login.statusCode, 503, 'creating a session fails cleanly too')
  t.equal(login.headers['set-cookie'], undefined, 'and sends no cookie for a session that was not stored')
  t.equal((await agent.get('/public')).statusCode, 200, 'a route that opted out keeps answering')
  t.equal((await app.inject('/session')).statusCode, 200, 'a visitor without a cookie needs no Redis')

  await server.start()
  // The client reconnects by itself; the session was lost with the server (it keeps nothing on disk).
  const created = await createWhenBack(app)
  t.ok(created, 'sessions work again once Redis is back')
  const check = new Redis(server.url)
  t.teardown(() => { check.disconnect() })
  t.equal(await check.exists(prefix + created), 1, 'and the new session is in Redis')
  const stale = await agent.get('/session')
  t.equal(stale.statusCode, 200)
  t.equal(stale.json().id, null, 'the session lost with the restarted server is not adopted')
  t.same(unhandled, [], 'no unhandled rejection')
})

t.test('Redis slow: requests fail with 503 within the timeout instead of hanging', async (t) => {
  const { server, prefix, agent } = await setup(t)
  await agent.post('/create')
  const admin = new Redis(server.url)
  t.teardown(() => { admin.disconnect() })
  await admin.call('CLIENT', 'PAUSE', '3000', 'ALL')
  const started = Date.now()
  const res = await agent.get('/session')
  const elapsed = Date.now() - started
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  t.ok(elapsed >= 450 && elapsed < 2500, `gave up after ${elapsed} ms (timeout 500 ms, Redis paused for 3 s)`)
  await admin.call('CLIENT', 'UNPAUSE')
  const after = await agent.get('/session')
  t.equal(after.statusCode, 200, 'fine again after the pause')
  t.equal(after.json().id, agent.sid, 'with the same session, which the pause did not lose')
  t.equal(await admin.exists(prefix + agent.sid), 1)
  t.same(unhandled, [])
})

t.test('a write in onSend that fails gives a 503, not a half-sent response', async (t) => {
  let stop = async () => {}
  const { server, agent } = await setup(t, () => stop())
  stop = () => server.stop() // Redis dies between load and write
  await agent.post('/create')
  const res = await agent.post('/set-then-wait')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  t.same(unhandled, [])
})

t.test('a client that fails fast (no offline queue) gives the coded 503 at once', async (t) => {
  const server = await startRedisServer(t)
  const redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  const app = Fastify()
  await app.register(redisSession, { redis, prefix: uniquePrefix(), timeout: 5000 })
  sessionRoutes(app)
  t.teardown(() => app.close())
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve))
  const agent = new Agent(app)
  await agent.post('/create')
  await server.stop()
  const started = Date.now()
  const res = await agent.get('/session')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  t.ok(Date.now() - started < 2000, 'without waiting for the timeout')
  t.same(unhandled, [])
})
