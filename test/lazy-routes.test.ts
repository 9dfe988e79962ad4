// config: { session: 'lazy' }: nothing is loaded in onRequest. increment(), set() + onSend, setTtl()
// and destroy() go straight to the cookie's session, each in one round trip that also slides it, and
// never create or revive a key for an unknown, expired, destroyed or retired ID; get() and data()
// need `await request.session.load()` first, and say so with a coded error.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import redisSession, { type RedisSessionOptions } from '../plugin'
import { Agent, countRoundTrips, sessionRoutes, uniquePrefix } from './helpers/build'
import { redisUrl } from './helpers/redis-server'

const lazy = { config: { session: 'lazy' as const } }

function lazyRoutes (app: FastifyInstance): void {
  app.post('/lazy/increment', lazy, async (request) => ({ value: await request.session.increment('n'), id: request.session.id ?? null }))
  app.post('/lazy/set', lazy, async (request) => {
    request.session.set(request.body as Record<string, string>)
    return { ok: true }
  })
  app.post('/lazy/save', lazy, async (request) => {
    request.session.set(request.body as Record<string, string>)
    await request.session.save()
    return { ok: true }
  })
  app.get('/lazy/get', lazy, async (request) => ({ value: request.session.get('username') ?? null }))
  app.get('/lazy/data', lazy, async (request) => ({ data: request.session.data() }))
  app.get('/lazy/load', lazy, async (request) => {
    const before = request.session.id ?? null
    await request.session.load()
    return { before, id: request.session.id ?? null, data: request.session.data(), username: request.session.get('username') ?? null }
  })
  app.post('/lazy/increment-then-load', lazy, async (request) => {
    const value = await request.session.increment('n')
    await request.session.load()
    return { value, n: request.session.get('n') }
  })
  app.post('/lazy/ttl', lazy, async (request) => {
    await request.session.setTtl((request.body as { seconds: number }).seconds)
    return { ok: true }
  })
  app.post('/lazy/destroy', lazy, async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  // A cart write and a view counter; two counters at once; "treat GONE as not logged in" and count anyway.
  app.post('/lazy/cart', lazy, async (request) => {
    request.session.set('cart', 'x')
    return { views: await request.session.increment('views') }
  })
  app.post('/lazy/all', lazy, async (request) => {
    const [a, b] = await Promise.all([request.session.increment('a'), request.session.increment('b')])
    return { a, b }
  })
  app.post('/lazy/retry', lazy, async (request) => {
    try {
      return { views: await request.session.increment('views') }
    } catch (err) {
      if ((err as { code?: string }).code !== 'FST_REDIS_SESSION_GONE') throw err
      return { views: await request.session.increment('views'), retried: true }
    }
  })
  app.post('/lazy/login', lazy, async (request) => {
    const id = await request.session.regenerate()
    request.session.set('user', 'ann')
    return { id }
  })
  app.get('/lazy/meta', lazy, async (request) => ({ ttl: request.session.ttl }))
  app.get('/normal/load', async (request) => {
    await request.session.load() // loaded already: resolves at once
    return { id: request.session.id ?? null }
  })
}

async function setup (t: Test, options: Partial<RedisSessionOptions> = {}) {
  const url = await redisUrl()
  const redis = new Redis(url)
  const admin = new Redis(url)
  const prefix = uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { ...options, redis, prefix })
  sessionRoutes(app)
  lazyRoutes(app)
  await app.ready()
  t.teardown(async () => {
    await app.close()
    const keys = await admin.keys(prefix + '*')
    if (keys.length > 0) await admin.del(...keys)
    redis.disconnect()
    admin.disconnect()
  })
  const agent = new Agent(app)
  const login = async (data: Record<string, unknown> = { username: 'ann', n: 0 }): Promise<string> => (await agent.post('/create', { data })).json().id
  return { app, redis, admin, prefix, agent, login, keys: async () => (await admin.keys(prefix + '*')).sort() }
}

/** A well-formed ID that names no session. */
const UNKNOWN = 'A'.repeat(42) + 'E'

t.test('increment on a lazy route: one round trip that counts and slides the session', async (t) => {
  const { redis, admin, prefix, agent, login } = await setup(t, { ttl: 600 })
  const id = await login()
  await admin.expire(prefix + id, 100)
  const touched = await admin.hget(prefix + id, 'last_accessed_at') as string
  await new Promise((resolve) => setTimeout(resolve, 5))
  const trips = countRoundTrips(redis)
  const res = await agent.post('/lazy/increment')
  t.equal(res.statusCode, 200)
  t.equal(res.json().value, 1)
  t.equal(res.json().id, null, 'session.id is not known on a lazy route before load()')
  t.equal(trips.roundTrips, 1, 'exactly one Redis round trip')
  t.same(trips.commands, ['evalsha'], 'one script call')
  t.equal(await admin.hget(prefix + id, 'n'), '1', 'Redis holds the count')
  t.ok(await admin.ttl(prefix + id) > 595, 'the expiry slid back to the ttl')
  t.ok(await admin.hget(prefix + id, 'last_accessed_at') as string > touched, 'last_accessed_at moved on')
  t.equal(res.headers['set-cookie'], undefined, 'the cookie is unchanged')
  t.equal((await agent.post('/lazy/increment')).json().value, 2)
})

t.test('a session\'s own ttl is kept when a lazy write slides it', async (t) => {
  const { admin, prefix, agent, login } = await setup(t, { ttl: 600 })
  const id = await login()
  await agent.post('/ttl', { ttl: 90 })
  await admin.expire(prefix + id, 10)
  await agent.post('/lazy/increment')
  const ttl = await admin.ttl(prefix + id)
  t.ok(ttl > 85 && ttl <= 90, `slid by the session's own 90 s (TTL ${ttl})`)
})

t.test('a lazy route never creates or revives a key', async (t) => {
  t.test('an unknown ID', async (t) => {
    const { agent, keys } = await setup(t)
    agent.sid = UNKNOWN
    const res = await agent.post('/lazy/increment')
    t.equal(res.statusCode, 409)
    t.equal(res.json().code, 'FST_REDIS_SESSION_GONE')
    t.same(await keys(), [], 'no key at all')
    await agent.post('/lazy/set', { colour: 'red' })
    t.same(await keys(), [], 'a set() is not written either')
    const saved = await agent.post('/lazy/save', { colour: 'red' })
    t.equal(saved.json().code, 'FST_REDIS_SESSION_GONE', 'save() says so')
    t.equal((await agent.post('/lazy/ttl', { seconds: 60 })).json().code, 'FST_REDIS_SESSION_GONE')
    t.same(await keys(), [])
  })
  t.test('a destroyed or expired session', async (t) => {
    const { admin, prefix, agent, login, keys } = await setup(t)
    const id = await login()
    await admin.del(prefix + id)
    t.equal((await agent.post('/lazy/increment')).json().code, 'FST_REDIS_SESSION_GONE')
    await agent.post('/lazy/set', { colour: 'red' })
    t.same(await keys(), [], 'nothing came back')
  })
  t.test('an ID a login retired (a rotation marker)', async (t) => {
    const { admin, prefix, agent, login } = await setup(t)
    const oldId = await login()
    const newId = await login()
    const marker = await admin.hgetall(prefix + oldId)
    t.same(Object.keys(marker), ['rotated_at'])
    agent.sid = oldId
    t.equal((await agent.post('/lazy/increment')).json().code, 'FST_REDIS_SESSION_GONE')
    await agent.post('/lazy/set', { colour: 'red' })
    t.same(await admin.hgetall(prefix + oldId), marker, 'the marker is as it was')
    t.equal(await admin.hget(prefix + newId, 'n'), '0', 'the new session is untouched')
  })
})

t.test('without a cookie a lazy route is a normal one: increment() starts a session', async (t) => {
  const { admin, prefix, agent } = await setup(t)
  const res = await agent.post('/lazy/increment')
  t.equal(res.statusCode, 200)
  t.equal(res.json().value, 1)
  t.ok(agent.sid !== undefined, 'a cookie was set')
  t.equal(await admin.hget(prefix + (agent.sid as string), 'n'), '1')
})

t.test('set() on a lazy route is written in onSend in one round trip, and slides', async (t) => {
  const { redis, admin, prefix, agent, login } = await setup(t, { ttl: 600 })
  const id = await login()
  await admin.expire(prefix + id, 100)
  const trips = countRoundTrips(redis)
  t.equal((await agent.post('/lazy/set', { colour: 'red' })).statusCode, 200)
  t.equal(trips.roundTrips, 1)
  t.equal(await admin.hget(prefix + id, 'colour'), 'red')
  t.ok(await admin.ttl(prefix + id) > 595, 'slid')
})

t.test('get() and data() before load() fail with a coded error that names the fix', async (t) => {
  const { agent, login, redis } = await setup(t)
  await login()
  const trips = countRoundTrips(redis)
  for (const url of ['/lazy/get', '/lazy/data']) {
    const res = await agent.get(url)
    t.equal(res.statusCode, 500)
    t.equal(res.json().code, 'FST_REDIS_SESSION_NOT_LOADED')
    t.match(res.json().message, /await request\.session\.load\(\)/)
  }
  t.equal(trips.roundTrips, 0, 'a lazy route that only fails to read sends nothing')
})

t.test('load() loads (and slides) in one round trip; on other routes it resolves at once', async (t) => {
  const { redis, admin, prefix, agent, login } = await setup(t, { ttl: 600 })
  const id = await login()
  await admin.expire(prefix + id, 100)
  const trips = countRoundTrips(redis)
  const res = await agent.get('/lazy/load')
  t.same(res.json(), { before: null, id, data: { username: 'ann', n: 0 }, username: 'ann' })
  t.equal(trips.roundTrips, 1)
  t.ok(await admin.ttl(prefix + id) > 595, 'slid')
  trips.reset()
  t.same((await agent.get('/normal/load')).json(), { id })
  t.equal(trips.roundTrips, 1, 'only the onRequest load')
  t.same((await agent.post('/lazy/increment-then-load')).json(), { value: 1, n: 1 }, 'load() after a write sees it')
  agent.sid = UNKNOWN
  t.same((await agent.get('/lazy/load')).json(), { before: null, id: null, data: {}, username: null }, 'an unknown ID loads as no session')
})

t.test('destroy() and setTtl() on a lazy route', async (t) => {
  const { admin, prefix, agent, login } = await setup(t)
  const id = await login()
  t.equal((await agent.post('/lazy/ttl', { seconds: 77 })).statusCode, 200)
  t.equal(await admin.hget(prefix + id, 'session_ttl'), '77')
  t.ok(await admin.ttl(prefix + id) <= 77)
  const res = await agent.post('/lazy/destroy')
  t.equal(res.statusCode, 200)
  t.equal(await admin.exists(prefix + id), 0, 'the key is gone')
  t.match(String(res.headers['set-cookie']), /^sid=; Max-Age=0/, 'the cookie is cleared')
})

t.test('with cookie.maxAge a lazy write re-sends the cookie, as it slid the session', async (t) => {
  const { agent, login } = await setup(t, { cookie: { maxAge: 1800 } })
  const id = await login()
  const res = await agent.post('/lazy/increment')
  t.match(String(res.headers['set-cookie']), new RegExp(`^sid=${id}; Max-Age=1800;`))
  const gone = await agent.app.inject({ method: 'POST', url: '/lazy/increment', headers: { cookie: `sid=${UNKNOWN}` } })
  t.equal(gone.statusCode, 409)
  t.equal(gone.headers['set-cookie'], undefined, 'not for a session that is gone')
})

t.test('config.session other than true, false or \'lazy\' fails at boot', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const redis = new Redis(await redisUrl())
  t.teardown(() => { redis.disconnect() })
  await app.register(redisSession, { redis })
  t.throws(() => app.get('/x', { config: { session: 'lazzy' as 'lazy' } }, async () => ({})), { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
})

t.test('a lazy route that meets a retired ID (a login moved the session on) starts no session, by any later call', async (t) => {
  for (const url of ['/lazy/cart', '/lazy/all', '/lazy/retry']) {
    t.test(url, async (t) => {
      const { app, prefix, login, keys } = await setup(t)
      const oldId = await login()
      const newId = await login() // the old ID is a rotation marker now
      const before = await keys()
      t.same(before, [prefix + newId, prefix + oldId].sort())
      const res = await app.inject({ method: 'POST', url, headers: { cookie: `sid=${oldId}` } })
      t.equal(res.statusCode, 409)
      t.equal(res.json().code, 'FST_REDIS_SESSION_GONE')
      t.equal(res.headers['set-cookie'], undefined, 'no Set-Cookie: it would replace the browser\'s new login cookie')
      t.same(await keys(), before, 'no key created')
    })
  }
})

t.test('an unknown ID on a lazy route: a set() beside the failed increment is dropped, no session starts', async (t) => {
  const { app, keys } = await setup(t)
  const res = await app.inject({ method: 'POST', url: '/lazy/cart', headers: { cookie: `sid=${UNKNOWN}` } })
  t.equal(res.json().code, 'FST_REDIS_SESSION_GONE')
  t.equal(res.headers['set-cookie'], undefined)
  t.same(await keys(), [])
})

t.test('destroy() on a lazy route with a retired ID keeps the marker (marked destroyed) and the cookie, as a normal route does', async (t) => {
  const { app, admin, prefix, login } = await setup(t)
  for (const url of ['/destroy', '/lazy/destroy']) {
    const oldId = await login()
    const newId = await login()
    const res = await app.inject({ method: 'POST', url, headers: { cookie: `sid=${oldId}` } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['set-cookie'], undefined, `${url}: the cookie is left alone (the browser may hold the new login cookie)`)
    t.same(Object.keys(await admin.hgetall(prefix + oldId)).sort(), ['destroyed_at', 'rotated_at'], `${url}: the marker is kept, marked destroyed`)
    t.equal(await admin.exists(prefix + newId), 1, `${url}: the new session lives`)
  }
})

t.test('regenerate() on a lazy route with an unknown cookie starts a fresh session, as a normal route does', async (t) => {
  const { app, admin, prefix } = await setup(t)
  for (const url of ['/regenerate', '/lazy/login']) {
    const res = await app.inject({ method: 'POST', url, headers: { cookie: `sid=${UNKNOWN}` } })
    t.equal(res.statusCode, 200, url)
    const id = res.json().id as string
    t.match(String(res.headers['set-cookie']), new RegExp(`^sid=${id};`))
    t.equal(await admin.exists(prefix + id), 1)
  }
  t.equal(await admin.exists(prefix + UNKNOWN), 0, 'nothing at the unknown ID')
})

t.test('session.ttl before load() on a lazy route is NOT_LOADED, not a silent default', async (t) => {
  const { agent, login } = await setup(t)
  await login()
  const res = await agent.get('/lazy/meta')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_REDIS_SESSION_NOT_LOADED')
})
