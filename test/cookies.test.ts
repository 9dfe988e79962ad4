// The cookie holds only an opaque ID; anything else in it means "no session", without an error and
// without asking Redis; a well-formed ID that Redis does not hold is never adopted.
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../plugin'
import { Agent, build, countRoundTrips, newClient, uniquePrefix } from './helpers/build'
import { redisUrl } from './helpers/redis-server'

const WELL_FORMED_UNKNOWN = 'A'.repeat(42) + 'E'

t.test('malformed cookies give no session, no error, and no Redis round trip', async (t) => {
  const client = await newClient(t)
  const { app } = await build(t, { redis: client })
  await app.inject('/session') // warm up
  const counter = countRoundTrips(client)
  const values = [
    'x'.repeat(8000), // huge
    '%00%01%02%FF', // binary
    'short',
    '*', 'session:*', 'a:b', 'a%0D%0ASet-Cookie:%20x=y', // the characters that would make a key pattern or a header
    'A'.repeat(42) + 'B', // right length, impossible last character for 32 bytes
    'A'.repeat(41) + 'E\r\n', // CR LF inside the value
    'A'.repeat(44),
    '..%2F..%2F' + 'A'.repeat(33)
  ]
  for (const value of values) {
    const res = await app.inject({ url: '/session', headers: { cookie: `sid=${value}` } })
    t.equal(res.statusCode, 200, value.slice(0, 20))
    t.equal(res.json().id, null)
  }
  t.equal(counter.roundTrips, 0, 'none of them reached Redis')
})

t.test('a well-formed ID that Redis does not hold is not adopted (no fixation)', async (t) => {
  const { app, redis, key, prefix } = await build(t)
  const agent = new Agent(app)
  agent.sid = WELL_FORMED_UNKNOWN
  t.equal((await agent.get('/session')).json().id, null)
  t.equal(await redis.exists(key(WELL_FORMED_UNKNOWN)), 0, 'loading did not create it')
  // Storing something makes a session under a NEW ID, never the attacker-chosen one.
  await agent.post('/set', { username: 'victim' })
  t.not(agent.sid, WELL_FORMED_UNKNOWN)
  t.equal(await redis.exists(key(WELL_FORMED_UNKNOWN)), 0)
  t.same(await redis.keys(prefix + '*'), [key(agent.sid!)])
})

t.test('secure: "auto" sets Secure when the request came over https (behind a trusted proxy)', async (t) => {
  const redis = new Redis(await redisUrl())
  t.teardown(() => { redis.disconnect() })
  const app = Fastify({ trustProxy: true })
  await app.register(redisSession, { redis, prefix: uniquePrefix() })
  app.post('/login', async (request) => ({ id: await request.session.create() }))
  t.teardown(() => app.close())
  const https = await app.inject({ method: 'POST', url: '/login', headers: { 'x-forwarded-proto': 'https' } })
  t.match(https.headers['set-cookie'], /; Secure/)
  const http = await app.inject({ method: 'POST', url: '/login' })
  t.notMatch(http.headers['set-cookie'], /Secure/)
})

t.test('cookieName and cookie attributes are honoured', async (t) => {
  const { app } = await build(t, { cookieName: '__Host-s', cookie: { maxAge: 3600, sameSite: 'strict', secure: true, path: '/' } })
  const agent = new Agent(app, '__Host-s')
  const res = await agent.post('/create')
  t.match(res.headers['set-cookie'], /^__Host-s=[A-Za-z0-9_-]{43}; Max-Age=3600; Path=\/; HttpOnly; Secure; SameSite=Strict$/)
  t.ok((await agent.get('/session')).json().id, 'the renamed cookie loads the session')
})

t.test('the cookie is sent only when the ID changes', async (t) => {
  const { app } = await build(t)
  const agent = new Agent(app)
  t.ok((await agent.post('/create')).headers['set-cookie'], 'create')
  t.equal((await agent.post('/set', { a: 1 })).headers['set-cookie'], undefined, 'set')
  t.equal((await agent.post('/increment/n')).headers['set-cookie'], undefined, 'increment')
  t.equal((await agent.post('/ttl', { ttl: 60 })).headers['set-cookie'], undefined, 'setTtl')
  t.ok((await agent.post('/regenerate')).headers['set-cookie'], 'regenerate')
  t.match((await agent.post('/destroy')).headers['set-cookie'], /Max-Age=0/, 'destroy')
})

t.test('destroy() with a stale cookie still clears it', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: `sid=${WELL_FORMED_UNKNOWN}` } })
  t.match(res.headers['set-cookie'], /^sid=; Max-Age=0/)
  const none = await app.inject({ method: 'POST', url: '/destroy' })
  t.equal(none.headers['set-cookie'], undefined, 'nothing to clear without a cookie')
})

t.test('works when @fastify/cookie was registered by the app with another parsing hook', async (t) => {
  const redis = new Redis(await redisUrl())
  t.teardown(() => { redis.disconnect() })
  const app = Fastify()
  await app.register(import('@fastify/cookie'), { hook: 'preHandler' })
  await app.register(redisSession, { redis, prefix: uniquePrefix() })
  app.post('/login', async (request) => ({ id: await request.session.create() }))
  app.get('/me', async (request) => ({ id: request.session.id ?? null }))
  t.teardown(() => app.close())
  const agent = new Agent(app)
  const { id } = (await agent.post('/login')).json()
  t.equal((await agent.get('/me')).json().id, id)
})
