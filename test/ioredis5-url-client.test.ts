// Given a URL, the plugin creates its own client with `import { Redis } from 'ioredis'`: the
// application's ioredis, 5 or 6 (ioredis is a peer dependency). Here `ioredis` resolves to ioredis 5
// for this test process, as it would in an app on ioredis 5: the client options the plugin sets
// (lazyConnect, enableOfflineQueue: false, autoResendUnfulfilledCommands: false,
// maxRetriesPerRequest: 0) work there too. ioredis 6 is covered by options.test.ts and redis-outage.test.ts.
import Module from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type * as IORedis5 from 'ioredis5'

// Before the plugin is loaded: every require('ioredis') in this process gets ioredis 5.
const loader = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string }
const resolveFilename = loader._resolveFilename
loader._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  return resolveFilename.call(this, request === 'ioredis' ? 'ioredis5' : request, ...rest)
}

// Loaded with require(), after the resolution above is in place (imports would be hoisted above it).
const { Redis } = require('ioredis5') as typeof IORedis5
const { default: Fastify } = require('fastify') as typeof import('fastify')
const { default: redisSession } = require('../plugin') as typeof import('../plugin')
const { Agent, sessionRoutes, uniquePrefix } = require('./helpers/build') as typeof import('./helpers/build')
const { freePort, startRedisServer } = require('./helpers/redis-server') as typeof import('./helpers/redis-server')

t.test('the plugin\'s own client is the application\'s ioredis 5', async (t) => {
  t.equal(require('ioredis').Redis, Redis, 'require(\'ioredis\') gives ioredis 5 here')
  const server = await startRedisServer(t)
  const admin = new Redis(server.url)
  admin.on('error', () => {})
  t.teardown(() => { admin.disconnect() })
  const prefix = uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { redis: server.url, prefix, timeout: 500 })
  sessionRoutes(app)
  await app.ready()
  const client = app.sessionStore.redis
  t.ok(client instanceof Redis, 'an ioredis 5 Redis')
  t.equal(client.status, 'ready', 'connected before the app starts')

  const agent = new Agent(app)
  const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
  t.equal(await admin.hget(prefix + id, 'username'), 'ann')
  t.equal((await agent.post('/increment/n', {})).json().value, 1)
  t.equal((await agent.get('/session')).json().id, id)

  // Fail fast, queue nothing: Redis stopped, requests get 503 at once, nothing is sent later.
  await server.stop()
  const started = Date.now()
  const res = await agent.get('/session')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms (timeout 500 ms)`)
  t.equal((await app.inject({ method: 'POST', url: '/create', payload: { data: { username: 'queued' } } })).statusCode, 503)
  await server.start()
  for (let i = 0; i < 50 && (client.status !== 'ready' || admin.status !== 'ready'); i++) await sleep(100)
  await sleep(300)
  t.same(await admin.keys(prefix + '*'), [], 'nothing the 503 requests asked for was sent later')
  t.equal((await app.inject({ method: 'POST', url: '/create' })).statusCode, 200, 'and it works again')

  await app.close()
  if (client.status !== 'end') await new Promise((resolve) => client.once('end', resolve))
  t.equal(client.status, 'end', 'quit with the app')
})

t.test('a URL nobody answers at fails at boot with FST_REDIS_SESSION_CONNECT on ioredis 5 too', async (t) => {
  const port = await freePort()
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(redisSession, { redis: `redis://127.0.0.1:${port}` })
  const err = await app.ready().then(() => null, (e: Error & { code: string }) => e)
  t.equal(err?.code, 'FST_REDIS_SESSION_CONNECT')
})
