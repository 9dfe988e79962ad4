// Used to go wrong: request.session was null in an onRequest hook registered before the plugin's,
// and in the error handler and onResponse hooks when loading failed (Redis down). An error handler
// that read request.session.id then threw, and the promised 503 became a 500. Now it is a Session
// in every hook and handler: one that could not be loaded reports no ID and refuses writes with a
// coded error.
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../../plugin'
import { sessionRoutes, uniquePrefix } from '../helpers/build'
import { startRedisServer } from '../helpers/redis-server'

interface Seen { hook: string, type: string, id: unknown, writeCode?: unknown }

/** What a hook sees of request.session, and what a write there does. */
function look (hook: string, session: unknown, write: boolean): Seen {
  const s = session as { id?: unknown, set: (field: string, value: string) => void } | null
  const seen: Seen = { hook, type: s === null ? 'null' : typeof s, id: s?.id }
  if (write) {
    try {
      s?.set('sneaky', '1')
      seen.writeCode = 'accepted'
    } catch (err) {
      seen.writeCode = (err as { code?: string }).code
    }
  }
  return seen
}

t.test('request.session is an object in every hook, loaded or not', async (t) => {
  const server = await startRedisServer(t)
  const redis = new Redis(server.url)
  redis.on('error', () => {}) // connection errors while the server is down are expected here
  const admin = new Redis(server.url)
  t.teardown(() => { redis.disconnect(); admin.disconnect() })
  const prefix = uniquePrefix()
  let seen: Seen[] = []
  const app = Fastify()
  // Before the plugin: runs before its onRequest loads anything.
  app.addHook('onRequest', async (request) => { seen.push(look('onRequest before the plugin', request.session, true)) })
  await app.register(redisSession, { redis, prefix, timeout: 500 })
  sessionRoutes(app)
  app.setErrorHandler((err, request, reply) => {
    // An error handler that logs the session ID, as apps do.
    seen.push(look('error handler', request.session, true))
    request.log.info({ sessionId: request.session.id ?? null }, 'request failed')
    reply.send(err)
  })
  app.addHook('onResponse', async (request) => { seen.push(look('onResponse', request.session, false)) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const login = await fetch(origin + '/create', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: { username: 'ann' } }) })
  t.equal(login.status, 200)
  const { id } = await login.json() as { id: string }
  const cookie = `sid=${id}`

  t.test('Redis up: a hook before the plugin sees an unloaded session that refuses writes', async (t) => {
    seen = []
    const res = await fetch(origin + '/session', { headers: { cookie } })
    t.equal(res.status, 200)
    t.same((await res.json() as { data: unknown }).data, { username: 'ann' }, 'the handler still gets the loaded session')
    t.match(seen[0], { hook: 'onRequest before the plugin', type: 'object', id: undefined, writeCode: 'FST_REDIS_SESSION_NOT_LOADED' })
    t.match(seen[1], { hook: 'onResponse', type: 'object', id })
    t.same(await admin.hgetall(prefix + id).then((h) => h.sneaky), undefined, 'the refused write reached no Redis')
  })

  t.test('Redis down: the error handler and onResponse see a session, and the 503 stays a 503', async (t) => {
    await server.stop()
    seen = []
    const res = await fetch(origin + '/session', { headers: { cookie } })
    t.equal(res.status, 503, 'not 500: reading request.session.id in the error handler does not throw')
    t.equal((await res.json() as { code: string }).code, 'FST_REDIS_SESSION_UNAVAILABLE')
    t.match(seen.find((s) => s.hook === 'error handler'), { type: 'object', id: undefined, writeCode: 'FST_REDIS_SESSION_UNAVAILABLE' },
      'the unloaded session reports no ID and refuses writes with a coded error')
    t.match(seen.find((s) => s.hook === 'onResponse'), { type: 'object', id: undefined })
    t.equal(seen.length, 3, 'every hook ran')
  })
})
