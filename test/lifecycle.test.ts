// The basic lifecycle: create, load, change, destroy, as the browser and Redis see it.
import t from 'tap'
import { Agent, build } from './helpers/build'

t.test('a visitor without a cookie costs nothing and gets no cookie', async (t) => {
  const { app, redis, prefix } = await build(t)
  const res = await app.inject('/session')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { id: null, isNew: false, data: {}, ttl: 1800, createdAt: null, lastAccessedAt: null })
  t.equal(res.headers['set-cookie'], undefined)
  t.same(await redis.keys(prefix + '*'), [])
})

t.test('create() writes the hash with its TTL and sets an opaque cookie', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const res = await agent.post('/create', { data: { username: 'ann', page_views: 0 }, ttl: 60 })
  t.equal(res.statusCode, 200)
  const { id } = res.json()
  t.match(id, /^[A-Za-z0-9_-]{43}$/)
  t.equal(agent.sid, id)
  const cookie = res.cookies[0] as { name: string, value: string, httpOnly: boolean, sameSite: string, path: string, secure?: boolean, maxAge?: number }
  t.same({ name: cookie.name, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path }, { name: 'sid', httpOnly: true, sameSite: 'Lax', path: '/' })
  t.notOk(cookie.secure, 'not Secure over plain http')
  t.equal(cookie.maxAge, undefined, 'a browser-session cookie')
  const hash = await redis.hgetall(key(id))
  t.same(Object.keys(hash).sort(), ['created_at', 'last_accessed_at', 'page_views', 'session_ttl', 'username'])
  t.equal(hash.username, 'ann')
  t.equal(hash.page_views, '0')
  t.equal(hash.session_ttl, '60')
  t.match(hash.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const ttl = await redis.ttl(key(id))
  t.ok(ttl > 55 && ttl <= 60, `TTL ${ttl} is the session's own`)
})

t.test('a later request loads the session, refreshes last_accessed_at, and sends no cookie', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const before = await redis.hget(key(id), 'last_accessed_at')
  await new Promise((resolve) => setTimeout(resolve, 15))
  const res = await agent.get('/session')
  const body = res.json()
  t.equal(body.id, id)
  t.equal(body.isNew, false)
  t.same(body.data, { username: 'ann' })
  t.equal(res.headers['set-cookie'], undefined, 'the cookie is sent only when the ID changes')
  const after = await redis.hget(key(id), 'last_accessed_at')
  t.ok(after! > before!, 'last_accessed_at moved forward')
  t.equal(body.lastAccessedAt, after)
})

t.test('set() and delete() are written in onSend, field by field', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { a: 1, b: 2 } })).json()
  await agent.post('/set', { c: 3, d: true })
  await agent.post('/delete/a')
  const hash = await redis.hgetall(key(id))
  t.same({ a: hash.a, b: hash.b, c: hash.c, d: hash.d }, { a: undefined, b: '2', c: '3', d: 'true' })
  t.same((await agent.get('/session')).json().data, { b: 2, c: 3, d: true })
})

t.test('set() without a session creates one lazily when the response is sent', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const res = await agent.post('/set', { theme: 'dark' })
  t.equal(res.json().id, null, 'no ID yet inside the handler')
  t.ok(agent.sid, 'cookie set by onSend')
  const hash = await redis.hgetall(key(agent.sid!))
  t.equal(hash.theme, 'dark')
  t.equal(hash.session_ttl, '1800')
  t.ok(await redis.ttl(key(agent.sid!)) > 1790)
})

t.test('destroy() deletes the key and clears the cookie with Max-Age=0', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const res = await agent.post('/destroy')
  t.equal(res.statusCode, 200)
  t.match(res.headers['set-cookie'], /^sid=; Max-Age=0;/)
  t.equal(await redis.exists(key(id)), 0)
  t.equal(agent.sid, undefined)
  // The old ID no longer opens anything.
  const again = await app.inject({ url: '/session', headers: { cookie: `sid=${id}` } })
  t.equal(again.json().id, null)
  t.equal(await redis.exists(key(id)), 0)
})

t.test('remainingTtl() answers as Redis TTL does', async (t) => {
  const { app } = await build(t)
  const agent = new Agent(app)
  t.equal((await agent.get('/remaining')).json().seconds, -2)
  await agent.post('/create', { ttl: 100 })
  const seconds = (await agent.get('/remaining')).json().seconds
  t.ok(seconds > 95 && seconds <= 100)
})
