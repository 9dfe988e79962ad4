// onUnavailable: 'anonymous': while Redis is unavailable (stopped, or too slow for `timeout`) a
// request goes on as one without a session (200, no ID, no fields), its writes are refused with the
// coded 503 (nothing queued: the write is not applied afterwards), the browser's cookie is left
// alone, one warning is logged per minute, and the session is back once Redis is.
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession, { type RedisSessionOptions } from '../plugin'
import { Agent, createWhenBack, sessionRoutes, uniquePrefix } from './helpers/build'
import { startRedisServer } from './helpers/redis-server'

async function setup (t: Test, options: Partial<RedisSessionOptions> = {}) {
  const server = await startRedisServer(t)
  const redis = new Redis(server.url)
  redis.on('error', () => {}) // connection errors while the server is down are expected here
  const admin = new Redis(server.url)
  admin.on('error', () => {})
  t.teardown(() => { redis.disconnect(); admin.disconnect() })
  const warnings: Array<{ msg: string, kind?: string }> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue
        const entry = JSON.parse(line) as { level: number, msg: string, kind?: string }
        if (entry.level === 40) warnings.push(entry)
      }
      callback()
    }
  })
  const app = Fastify({ logger: { level: 'warn', stream } })
  const prefix = uniquePrefix()
  await app.register(redisSession, { redis, prefix, timeout: 400, onUnavailable: 'anonymous', ...options })
  sessionRoutes(app)
  app.get('/lazy', { config: { session: 'lazy' } }, async (request) => {
    await request.session.load()
    return { id: request.session.id ?? null, data: request.session.data() }
  })
  t.teardown(() => app.close())
  return { server, admin, app, prefix, warnings, agent: new Agent(app) }
}

t.test('Redis too slow: requests go on without their session, writes are refused, the session is back afterwards', async (t) => {
  const { admin, prefix, warnings, agent } = await setup(t)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  t.ok(id)

  await admin.call('CLIENT', 'PAUSE', '2500', 'ALL')
  const started = Date.now()
  const read = await agent.get('/session')
  const elapsed = Date.now() - started
  t.equal(read.statusCode, 200, 'a read is served, not 503')
  t.same(read.json().id, null, 'as a request without a session')
  t.same(read.json().data, {})
  t.ok(elapsed < 1500, `within the timeout (${elapsed} ms, timeout 400 ms)`)
  t.equal(read.headers['set-cookie'], undefined, 'the cookie is left alone (the session is still there)')

  const write = await agent.post('/set', { later: 'yes' })
  t.equal(write.statusCode, 503, 'a write is refused')
  t.equal(write.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  t.equal(write.headers['set-cookie'], undefined)

  const lazy = await agent.get('/lazy')
  t.equal(lazy.statusCode, 200, 'an explicit load() on a lazy route degrades the same way')
  t.same(lazy.json(), { id: null, data: {} })

  const degraded = warnings.filter((w) => w.kind === 'UNAVAILABLE')
  t.equal(degraded.length, 1, 'three degraded requests, one warning')
  t.notMatch(JSON.stringify(warnings), id, 'the warning carries no session ID')

  await admin.call('CLIENT', 'UNPAUSE')
  let back: { id: string | null, data: Record<string, unknown> } | undefined
  for (let i = 0; i < 20; i++) {
    const res = await agent.get('/session')
    if (res.statusCode === 200 && res.json().id !== null) { back = res.json(); break }
    await sleep(100)
  }
  t.same(back?.id, id, 'the same session once Redis answers again')
  t.same(back?.data, { username: 'ann' }, 'and the refused write was never applied later (nothing queued)')
  t.same(await admin.hget(prefix + id, 'later'), null)
})

t.test('Redis stopped: anonymous requests, then sessions again after a restart', async (t) => {
  const { server, app, agent } = await setup(t)
  t.ok((await agent.post('/create', { data: { username: 'bob' } })).json().id)

  await server.stop()
  const read = await agent.get('/session')
  t.equal(read.statusCode, 200)
  t.same(read.json().id, null)
  t.equal(read.headers['set-cookie'], undefined)
  const login = await app.inject({ method: 'POST', url: '/create' })
  t.equal(login.statusCode, 503, 'a login still fails: nothing can be stored')
  t.equal(login.headers['set-cookie'], undefined)

  await server.start()
  const created = await createWhenBack(app)
  t.ok(created, 'sessions work again once Redis is back')
})

t.test("the default 'fail' answers 503, and a wrong value fails at boot", async (t) => {
  const { admin, agent } = await setup(t, { onUnavailable: 'fail' })
  t.ok((await agent.post('/create', { data: { username: 'cy' } })).json().id)
  await admin.call('CLIENT', 'PAUSE', '1500', 'ALL')
  const read = await agent.get('/session')
  t.equal(read.statusCode, 503)
  t.equal(read.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  await admin.call('CLIENT', 'UNPAUSE')

  const app = Fastify()
  const redis = new Redis({ lazyConnect: true })
  t.teardown(() => { redis.disconnect() })
  await t.rejects(async () => { await app.register(redisSession, { redis, onUnavailable: 'ignore' as 'fail' }).ready() }, { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
})
