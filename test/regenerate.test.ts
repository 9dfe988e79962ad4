// regenerate(): a new ID with the same data after login or a privilege change; the old ID is dead.
import t from 'tap'
import { Agent, assertRetired, build, sessionRoutes } from './helpers/build'

t.test('regenerate() moves the data to a new ID, keeps created_at and the TTL, deletes the old key, sends a new cookie', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const oldId = (await agent.post('/create', { data: { username: 'ann', n: 5 }, ttl: 300 })).json().id
  const before = await redis.hgetall(key(oldId))
  const res = await agent.post('/regenerate')
  const newId = res.json().id
  t.not(newId, oldId)
  t.equal(agent.sid, newId, 'the cookie carries the new ID')
  await assertRetired(t, redis, key(oldId))
  const after = await redis.hgetall(key(newId))
  t.equal(after.username, 'ann')
  t.equal(after.n, '5')
  t.equal(after.created_at, before.created_at)
  t.equal(after.session_ttl, '300')
  const ttl = await redis.ttl(key(newId))
  t.ok(ttl > 290 && ttl <= 300)
  const old = await app.inject({ url: '/session', headers: { cookie: `sid=${oldId}` } })
  t.equal(old.json().id, null, 'the old ID opens nothing')
})

t.test('regenerate() keeps changes made earlier in the same request', async (t) => {
  const { app, redis, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/login', async (request) => {
      request.session.set('role', 'admin')
      request.session.delete('guest')
      return { id: await request.session.regenerate() }
    })
  })
  const agent = new Agent(app)
  await agent.post('/create', { data: { guest: 'yes', cart: 3 } })
  const { id } = (await agent.post('/login')).json()
  const hash = await redis.hgetall(key(id))
  t.same({ role: hash.role, guest: hash.guest, cart: hash.cart }, { role: 'admin', guest: undefined, cart: '3' })
})

t.test('regenerate(keep) keeps only the listed fields, changes of this request included', async (t) => {
  const { app, redis, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/login', async (request) => {
      request.session.set('role', 'admin')
      return { id: await request.session.regenerate(['cart', 'role', 'absent']) }
    })
  })
  const agent = new Agent(app)
  const { id: old } = (await agent.post('/create', { data: { guest: 'yes', cart: 3, theme: 'dark' } })).json()
  const { id } = (await agent.post('/login')).json()
  t.not(id, old)
  const hash = await redis.hgetall(key(id))
  t.same(Object.keys(hash).sort(), ['cart', 'created_at', 'last_accessed_at', 'role', 'session_ttl'])
  t.same((await agent.get('/session')).json().data, { cart: 3, role: 'admin' })
  t.equal(await redis.hexists(key(old), 'created_at'), 0, 'the old ID is no session')
})

t.test('regenerate() without a session starts a fresh empty one (passport calls it at every login)', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const res = await agent.post('/regenerate')
  t.equal(res.statusCode, 200)
  const { id } = res.json()
  t.match(id, /^[A-Za-z0-9_-]{43}$/)
  t.equal(agent.sid, id, 'the cookie carries the new ID')
  const hash = await redis.hgetall(key(id))
  t.same(Object.keys(hash).sort(), ['created_at', 'last_accessed_at', 'session_ttl'])
  t.same((await agent.get('/session')).json().data, {})
})

t.test('regenerate() with an unknown or expired ID in the cookie starts a fresh one too', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  agent.sid = 'x'.repeat(43)
  const { id } = (await agent.post('/regenerate')).json()
  t.not(id, 'x'.repeat(43))
  t.equal(await redis.exists(key(id)), 1)
  t.equal(await redis.exists(key('x'.repeat(43))), 0, 'nothing under the unknown ID')
})

t.test('regenerate() of a session destroyed meanwhile does not revive it under a new ID', async (t) => {
  const { app, redis, prefix } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/race', async (request) => {
      await app.sessionStore.deleteSession(request.session.id!)
      return { id: await request.session.regenerate() }
    })
  })
  const agent = new Agent(app)
  await agent.post('/create', { data: { username: 'ann' } })
  const res = await agent.post('/race')
  t.equal(res.json().code, 'FST_REDIS_SESSION_GONE')
  t.same(await redis.keys(prefix + '*'), [])
  t.equal(res.headers['set-cookie'], undefined, 'no cookie is set for a session that is gone, and none is cleared')
})

t.test('create() over a live session rotates the ID: the old session is gone, only its marker is left', async (t) => {
  const { app, redis, key, prefix } = await build(t)
  const agent = new Agent(app)
  const first = (await agent.post('/create', { data: { username: 'ann' } })).json().id
  const second = (await agent.post('/create', { data: { username: 'bob' } })).json().id
  t.not(first, second)
  await assertRetired(t, redis, key(first))
  t.equal(await redis.hget(key(second), 'username'), 'bob')
  t.same((await redis.keys(prefix + '*')).sort(), [key(first), key(second)].sort())
  t.equal(agent.sid, second)
})
