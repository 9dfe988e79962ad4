// touchAfter: a load within that many seconds of the session's last slide writes nothing to Redis
// (no HSET of last_accessed_at, no EXPIRE) and runs no script: one plain HGETALL, decided from
// last_accessed_at by the app's clock; a load after it runs the load script, which slides as always.
// Time passing is played by age(): last_accessed_at moved back, and the key's TTL lowered to match.
// With cookie.maxAge, the cookie is re-sent when a load slides the key, once onSend has checked the
// session is still live.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import redisSession, { type RedisSessionOptions } from '../plugin'
import { Agent, sessionRoutes, uniquePrefix } from './helpers/build'
import { startRedisServer } from './helpers/redis-server'

async function setup (t: Test, options: Partial<RedisSessionOptions>, warnings: string[] = []): Promise<{ app: FastifyInstance, agent: Agent, admin: Redis, prefix: string }> {
  // A server of its own: commandstats are counted per server.
  const server = await startRedisServer(t)
  const redis = new Redis(server.url)
  const admin = new Redis(server.url)
  t.teardown(() => { redis.disconnect(); admin.disconnect() })
  const prefix = uniquePrefix()
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { warnings.push(line) } } } })
  await app.register(redisSession, { ...options, redis, prefix })
  sessionRoutes(app)
  app.post('/login', async (request) => {
    await request.session.create({ username: 'ann' }, { user: 'ann' })
    return { id: request.session.id }
  })
  app.get('/slow', async (request) => {
    await new Promise((resolve) => setTimeout(resolve, 150))
    return { id: request.session.id ?? null }
  })
  t.teardown(() => app.close())
  return { app, agent: new Agent(app), admin, prefix }
}

/** As if `seconds` had passed since the session's last slide: its last_accessed_at and its TTL. */
async function age (admin: Redis, key: string, seconds: number, ttl = 600): Promise<void> {
  await admin.hset(key, 'last_accessed_at', new Date(Date.now() - seconds * 1000).toISOString())
  await admin.expire(key, ttl - seconds)
}

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats. */
async function commandCalls (admin: Redis): Promise<Record<string, number>> {
  const info = await admin.info('commandstats')
  const calls: Record<string, number> = {}
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]] = Number(match[2])
  return calls
}

t.test('a read within touchAfter writes nothing: 0 HSET and 0 EXPIRE, the TTL runs down', async (t) => {
  const { agent, admin, prefix } = await setup(t, { ttl: 600, touchAfter: 60 })
  const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
  const key = prefix + id
  await age(admin, key, 40)
  const touchedAt = await admin.hget(key, 'last_accessed_at')
  await admin.config('RESETSTAT')
  for (let i = 0; i < 20; i++) {
    const res = await agent.get('/session')
    t.equal(res.statusCode, 200)
    t.equal(res.json().data.username, 'ann', 'the session is served')
  }
  const calls = await commandCalls(admin)
  t.equal(calls.hset ?? 0, 0, 'no HSET in 20 reads')
  t.equal(calls.expire ?? 0, 0, 'no EXPIRE in 20 reads')
  t.equal((calls.evalsha ?? 0) + (calls.eval ?? 0), 0, 'no script: a throttled read is a plain HGETALL')
  t.equal(calls.hgetall, 20, 'one HGETALL per read')
  t.same(Object.keys(calls).filter((name) => name !== 'hgetall' && !name.startsWith('config') && name !== 'info'), [], 'and nothing else')
  t.equal(await admin.hget(key, 'last_accessed_at'), touchedAt, 'last_accessed_at unchanged')
  const ttl = await admin.ttl(key)
  t.ok(ttl <= 560 && ttl > 550, `the expiry was not slid (TTL ${ttl})`)
})

t.test('a read after touchAfter slides: last_accessed_at and the expiry are renewed', async (t) => {
  const { agent, admin, prefix } = await setup(t, { ttl: 600, touchAfter: 60 })
  const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
  const key = prefix + id
  await age(admin, key, 61)
  const old = await admin.hget(key, 'last_accessed_at') as string
  await admin.config('RESETSTAT')
  const res = await agent.get('/session')
  t.equal(res.statusCode, 200)
  const calls = await commandCalls(admin)
  t.equal(calls.hset, 1, 'one HSET of last_accessed_at')
  t.equal(calls.expire, 1, 'one EXPIRE')
  const touched = await admin.hget(key, 'last_accessed_at') as string
  t.ok(touched > old, 'last_accessed_at moved forward')
  t.equal(res.json().lastAccessedAt, touched, 'the request sees the time it wrote')
  const ttl = await admin.ttl(key)
  t.ok(ttl > 595, `the expiry was slid back to the ttl (TTL ${ttl})`)
  // And the next read, inside the new window, writes nothing again.
  await admin.config('RESETSTAT')
  await agent.get('/session')
  t.equal((await commandCalls(admin)).hset ?? 0, 0, 'the read after it writes nothing')
})

t.test('a session whose own ttl is short throttles by at most half of it', async (t) => {
  const { agent, admin, prefix } = await setup(t, { ttl: 600, touchAfter: 60 })
  const id = (await agent.post('/create', { data: { username: 'ann' }, ttl: 30 })).json().id as string
  const key = prefix + id
  await age(admin, key, 14, 30) // within 15 s, half of 30
  await admin.config('RESETSTAT')
  await agent.get('/session')
  t.equal((await commandCalls(admin)).expire ?? 0, 0, 'not slid within half its ttl')
  await age(admin, key, 16, 30)
  await admin.config('RESETSTAT')
  await agent.get('/session')
  t.equal((await commandCalls(admin)).expire, 1, 'slid after half its ttl (touchAfter 60 would let it expire while in use)')
  t.ok(await admin.ttl(key) > 25)
  // ttl 61 with touchAfter 60: the window is 30 s, so a read 59 s after the slide renews it.
  const other = (await agent.post('/create', { data: { username: 'bob' }, ttl: 61 })).json().id as string
  await age(admin, prefix + other, 59, 61)
  await agent.get('/session')
  t.ok(await admin.ttl(prefix + other) > 55, 'a 61 s session read 59 s after its slide gets its life back')
})

t.test('a malformed, foreign, missing or future last_accessed_at counts as due: the read slides', async (t) => {
  // The future: written by a server whose clock is ahead. Sliding rewrites it by this server's clock,
  // so a skewed clock costs slides, never a session.
  const future = new Date(Date.now() + 5_000).toISOString()
  // Inside the window but not in the plugin's own format (no milliseconds): also due.
  const noMillis = new Date(Date.now() - 10_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
  for (const stored of ['not-a-date', 'Thu, 01 Jan 2026 00:00:00 GMT', noMillis, future, undefined]) {
    const { agent, admin, prefix } = await setup(t, { ttl: 600, touchAfter: 60 })
    const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
    if (stored === undefined) await admin.hdel(prefix + id, 'last_accessed_at')
    else await admin.hset(prefix + id, 'last_accessed_at', stored)
    await admin.expire(prefix + id, 590)
    const res = await agent.get('/session')
    t.equal(res.statusCode, 200)
    t.ok(await admin.ttl(prefix + id) > 595, `slid with last_accessed_at ${JSON.stringify(stored)}`)
    const now = await admin.hget(prefix + id, 'last_accessed_at') as string
    t.ok(now < future && Date.now() - Date.parse(now) < 5_000, `and rewritten by this server's clock (${now})`)
  }
})

t.test('without touchAfter every read slides (the default)', async (t) => {
  const { agent, admin } = await setup(t, { ttl: 600 })
  await agent.post('/create', { data: { username: 'ann' } })
  await admin.config('RESETSTAT')
  for (let i = 0; i < 3; i++) await agent.get('/session')
  const calls = await commandCalls(admin)
  t.equal(calls.hset, 3)
  t.equal(calls.expire, 3)
})

t.test('writes within touchAfter still work, and the session never expires under them', async (t) => {
  const { agent, admin, prefix } = await setup(t, { ttl: 600, touchAfter: 60 })
  const id = (await agent.post('/create', { data: { n: 0 } })).json().id as string
  t.equal((await agent.post('/increment/n')).json().value, 1)
  await agent.post('/set', { colour: 'red' })
  t.same(await admin.hmget(prefix + id, 'n', 'colour'), ['1', 'red'])
})

t.test('with cookie.maxAge the cookie rolls exactly when the key slides', async (t) => {
  const { agent, admin, prefix } = await setup(t, { ttl: 600, touchAfter: 60, cookie: { maxAge: 600 } })
  const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
  const throttled = await agent.get('/session')
  t.equal(throttled.headers['set-cookie'], undefined, 'a read that slid nothing sends no cookie')
  await age(admin, prefix + id, 61)
  const touched = await agent.get('/session')
  const cookie = String(touched.headers['set-cookie'])
  t.match(cookie, new RegExp(`^sid=${id}; Max-Age=600;`), 'a read that slid the key re-sends the same ID with a fresh Max-Age')
  t.match(cookie, /HttpOnly/, 'with the usual attributes')
  t.equal(agent.sid, id, 'the browser keeps the same session')
})

t.test('with cookie.maxAge and no touchAfter, every read re-sends the cookie', async (t) => {
  const { agent } = await setup(t, { ttl: 600, cookie: { maxAge: 600 } })
  const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
  const res = await agent.get('/session')
  t.match(String(res.headers['set-cookie']), new RegExp(`^sid=${id}; Max-Age=600;`))
})

t.test('under maxmemory with noeviction a throttled read is served without a warning (an always-touch read warns)', async (t) => {
  for (const touchAfter of [60, 0]) {
    const warnings: string[] = []
    const { agent, admin } = await setup(t, { ttl: 600, touchAfter }, warnings)
    await agent.post('/create', { data: { username: 'ann' } })
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.config('SET', 'maxmemory', '1')
    const res = await agent.get('/session')
    await admin.config('SET', 'maxmemory', '0')
    t.equal(res.statusCode, 200)
    t.equal(res.json().data.username, 'ann')
    const refused = warnings.filter((line) => line.includes('refuses writes'))
    t.equal(refused.length, touchAfter === 0 ? 1 : 0, `touchAfter ${touchAfter}: ${refused.length} warning(s) that Redis refuses writes`)
  }
})

t.test('with cookie.maxAge a read that loaded before a racing login does not hand back the retired ID', async (t) => {
  const { app, agent } = await setup(t, { ttl: 600, cookie: { maxAge: 600 } })
  const oldId = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
  // A slow page carrying the current cookie, and a login (regenerate) in another tab while it runs.
  const slow = app.inject({ method: 'GET', url: '/slow', headers: { cookie: `sid=${oldId}` } })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const login = await agent.post('/regenerate')
  t.equal(login.statusCode, 200)
  t.not(agent.sid, oldId, 'the login rotated the ID')
  const res = await slow
  t.equal(res.statusCode, 200)
  t.equal(res.headers['set-cookie'], undefined, 'the slow response rolls no cookie for the retired ID')
  t.equal((await agent.get('/session')).json().data.username, 'ann', 'the browser is still logged in')
})

t.test('a read that writes nothing still ends, retires, renews and follows as the load script does', async (t) => {
  const window = { ttl: 600, touchAfter: 60 }
  // absoluteTtl: past its end (whatever the key's own expiry says) the session is over, and its key goes.
  {
    const { agent, admin, prefix } = await setup(t, { ...window, absoluteTtl: 3600 })
    const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
    await admin.hset(prefix + id, 'session_expires', String(Math.floor(Date.now() / 1000) - 1))
    const res = await agent.get('/session')
    t.equal(res.json().id, null, 'a session past its absolute end is no session')
    t.equal(await admin.exists(prefix + id), 0, 'and its key is deleted')
  }
  // A login in another tab retired the ID: the old cookie finds a marker, never a session (ttl 90 and
  // touchAfter 40: the marker's 60 s are inside the window, so only what it holds tells it apart).
  {
    const { app, agent, admin, prefix } = await setup(t, { ttl: 90, touchAfter: 40 })
    const old = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
    const renewed = (await agent.post('/regenerate')).json().id as string
    const stale = await app.inject({ method: 'POST', url: '/set', headers: { cookie: `sid=${old}` }, payload: { x: '1' } })
    t.equal(stale.json().id, null, 'a retired ID gets no session')
    t.equal(stale.headers['set-cookie'], undefined, 'and no new cookie over the browser\'s new one')
    t.equal(await admin.hget(prefix + old, 'x'), null, 'nothing written at the retired ID')
    t.equal((await agent.get('/session')).json().id, renewed, 'the new ID is served')
  }
  // rotateAfter: an old ID is renewed by a read inside the window; the old ID forwards within the grace.
  {
    const { app, agent, admin, prefix } = await setup(t, { ...window, rotateAfter: 600, rotateGrace: 5 })
    const old = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
    await admin.hset(prefix + old, 'created_at', new Date(Date.now() - 3600_000).toISOString())
    const res = await agent.get('/session')
    t.not(res.json().id, old, 'the renewal happened on a throttled read')
    t.equal(res.json().data.username, 'ann')
    t.equal(agent.sid, res.json().id, 'and the response carries the new ID')
    const forwarded = await app.inject({ method: 'GET', url: '/session', headers: { cookie: `sid=${old}` } })
    t.equal(forwarded.json().data.username, 'ann', 'the old ID is served the session within the grace window')
    t.equal(forwarded.headers['set-cookie'], undefined, 'without the new ID')
  }
  // A logout: the next read finds nothing, and writes nothing.
  {
    const { agent, admin, prefix } = await setup(t, window)
    const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
    await admin.del(prefix + id)
    await admin.config('RESETSTAT')
    t.equal((await agent.get('/session')).json().id, null, 'a deleted session is no session')
    const calls = await commandCalls(admin)
    t.equal((calls.evalsha ?? 0) + (calls.hset ?? 0) + (calls.expire ?? 0), 0, 'found missing by the plain read: no script, no write')
    t.equal(await admin.exists(prefix + id), 0, 'nothing brought back')
  }
})

t.test('near its absolute end a session is served as it is once its last slide reached the end', async (t) => {
  // absoluteTtl below ttl: from the start, a slide cannot take the expiry past the end, so no read slides.
  const { agent, admin, prefix } = await setup(t, { ttl: 600, touchAfter: 60, absoluteTtl: 400 })
  const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
  await age(admin, prefix + id, 100, 500) // the key's expiry is the end, 300 s on
  await admin.config('RESETSTAT')
  for (let i = 0; i < 10; i++) t.equal((await agent.get('/session')).json().data.username, 'ann')
  const calls = await commandCalls(admin)
  t.equal((calls.evalsha ?? 0) + (calls.eval ?? 0) + (calls.hset ?? 0) + (calls.expire ?? 0), 0, '10 reads, each one plain HGETALL: no script, no write')
  // And at its end, the read ends it.
  await admin.hset(prefix + id, 'session_expires', String(Math.floor(Date.now() / 1000)))
  t.equal((await agent.get('/session')).json().id, null, 'at its end the session is over')
  t.equal(await admin.exists(prefix + id), 0, 'and its key is gone')
})

t.test('a user\'s session is filed again only when a read slides it', async (t) => {
  const { agent, admin, prefix } = await setup(t, { ttl: 600, touchAfter: 60 })
  const id = (await agent.post('/login')).json().id as string
  await age(admin, prefix + id, 30)
  await admin.config('RESETSTAT')
  await agent.get('/session')
  t.equal((await commandCalls(admin)).zadd ?? 0, 0, 'a read inside the window leaves the index alone')
  await age(admin, prefix + id, 61)
  await admin.config('RESETSTAT')
  await agent.get('/session')
  t.equal((await commandCalls(admin)).zadd, 1, 'a read that slides files it again')
})

t.test('touchAfter must be a whole number below ttl', async (t) => {
  for (const [touchAfter, ttl] of [[1800, 1800], [2000, 1800], [-1, 1800], [1.5, 1800], ['60', 1800]] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(redisSession, { redis: 'redis://127.0.0.1:1', ttl, touchAfter: touchAfter as number })
    await t.rejects(async () => { await app.ready() }, { code: 'FST_REDIS_SESSION_INVALID_OPTION' }, `touchAfter ${JSON.stringify(touchAfter)} with ttl ${ttl}`)
  }
})
