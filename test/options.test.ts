// Options are checked once at register time: a wrong or unknown value makes ready() reject with a
// coded error that says what to change. A URL makes the plugin own (and close) its client.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession, { type RedisSessionOptions } from '../plugin'
import { freePort, redisUrl, startRedisServer } from './helpers/redis-server'
import { uniquePrefix } from './helpers/build'

async function registerWith (t: Test, options: Record<string, unknown>) {
  const redis = new Redis(await redisUrl())
  t.teardown(() => { redis.disconnect() })
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(redisSession, { redis, ...options } as unknown as RedisSessionOptions)
  return app.ready()
}

const bad: Array<[string, Record<string, unknown>]> = [
  ['unknown option', { ttl: 60, tll: 60 }],
  ['ttl zero', { ttl: 0 }],
  ['ttl fraction', { ttl: 1.5 }],
  ['ttl string', { ttl: '1800' }],
  ['timeout negative', { timeout: -1 }],
  ['prefix not a string', { prefix: 42 }],
  ['cookieName with a space', { cookieName: 'my sid' }],
  ['cookieName with =', { cookieName: 'a=b' }],
  ['unknown cookie option', { cookie: { sameSite: 'lax', httpOnyl: true } }],
  ['cookie.sameSite', { cookie: { sameSite: 'sometimes' } }],
  ['cookie.secure', { cookie: { secure: 'yes' } }],
  ['SameSite=None without Secure', { cookie: { sameSite: 'none', secure: false } }],
  ['cookie.path', { cookie: { path: 'relative' } }],
  ['cookie.maxAge', { cookie: { maxAge: -5 } }],
  ['cookie.httpOnly', { cookie: { httpOnly: 'true' } }],
  ['maxFieldValueBytes', { maxFieldValueBytes: 0 }],
  ['redis not a client', { redis: { host: 'localhost' } }],
  ['redis a non-URL string', { redis: 'localhost:6379' }]
]

for (const [name, options] of bad) {
  t.test(`${name}: ready() rejects with FST_REDIS_SESSION_INVALID_OPTION`, async (t) => {
    const err = await registerWith(t, options).then(() => null, (e: Error & { code: string }) => e)
    t.ok(err, 'rejected')
    t.equal(err?.code, 'FST_REDIS_SESSION_INVALID_OPTION')
    t.type(err, TypeError)
  })
}

t.test('missing redis rejects', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(redisSession, {} as RedisSessionOptions)
  await t.rejects(async () => { await app.ready() }, { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
})

t.test('a URL: the plugin connects, and quits its own client on close', async (t) => {
  const app = Fastify()
  await app.register(redisSession, { redis: await redisUrl(), prefix: uniquePrefix() })
  app.post('/login', async (request) => ({ id: await request.session.create({ a: 1 }) }))
  const res = await app.inject({ method: 'POST', url: '/login' })
  t.equal(res.statusCode, 200)
  const client = app.sessionStore.redis as Redis
  t.equal(client.status, 'ready')
  await app.sessionStore.deleteSession(res.json().id)
  await app.close()
  if (client.status !== 'end') await new Promise((resolve) => client.once('end', resolve))
  t.equal(client.status, 'end', 'closed with the app')
})

t.test('an injected client is never closed by the plugin', async (t) => {
  const redis = new Redis(await redisUrl())
  t.teardown(() => { redis.disconnect() })
  await redis.ping()
  const app = Fastify()
  await app.register(redisSession, { redis, prefix: uniquePrefix() })
  await app.ready()
  await app.close()
  t.equal(redis.status, 'ready')
  t.equal(await redis.ping(), 'PONG')
})

t.test('a URL nobody answers at fails at boot with FST_REDIS_SESSION_CONNECT, password hidden', async (t) => {
  const port = await freePort()
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(redisSession, { redis: `redis://user:hunter2@127.0.0.1:${port}` })
  const err = await app.ready().then(() => null, (e: Error & { code: string }) => e)
  t.equal(err?.code, 'FST_REDIS_SESSION_CONNECT')
  t.match(err?.message, `127.0.0.1:${port}`)
  t.notMatch(err?.message, 'hunter2')
})

t.test('@fastify/cookie is not registered for the application: that stays its choice', async (t) => {
  const redis = new Redis(await redisUrl())
  t.teardown(() => { redis.disconnect() })
  const alone = Fastify()
  await alone.register(redisSession, { redis, prefix: uniquePrefix() })
  await alone.ready()
  t.notOk(alone.hasPlugin('@fastify/cookie'))
  await alone.close()
  const withCookie = Fastify()
  await withCookie.register(import('@fastify/cookie'), { secret: 'x'.repeat(32) })
  await withCookie.register(redisSession, { redis, prefix: uniquePrefix() })
  await withCookie.ready()
  t.ok(withCookie.hasPlugin('@fastify/cookie'))
  await withCookie.close()
})

t.test('the defaults', async (t) => {
  const redis = new Redis(await redisUrl())
  t.teardown(() => { redis.disconnect() })
  const app = Fastify()
  await app.register(redisSession, { redis })
  app.post('/login', async (request) => ({ id: await request.session.create(), ttl: request.session.ttl }))
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/login' })
  const { id, ttl } = res.json()
  t.equal(ttl, 1800)
  t.equal(app.sessionStore.prefix, 'session:')
  t.equal(await redis.exists(`session:${id}`), 1, 'stored at session:<id>')
  t.match(res.headers['set-cookie'], /^sid=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/)
  await redis.del(`session:${id}`)
})

t.test('the client the plugin owns reports connection errors through the app logger', async (t) => {
  const server = await startRedisServer(t)
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(redisSession, { redis: server.url, prefix: uniquePrefix() })
  await app.ready()
  t.teardown(() => app.close())
  await server.stop()
  for (let i = 0; i < 40 && lines.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(lines.join(''), /Redis connection error/)
})
