// Used to go wrong: regenerate() without a live session (a first-time visitor logging in) started the
// fresh session through create(), which drops the request's changes as belonging to the old session,
// so what the request had set before, even in `keep`, was lost. @fastify/passport's successFlash hit
// it: the flash is set before the login's regenerate(['passport', 'session', 'flash']), and vanished.
// Now the fresh session is written holding those changes (the ones in `keep`), in the same step.
import t from 'tap'
import { Agent, assertRetired, build, sessionRoutes } from '../helpers/build'

t.test('regenerate(keep) without a session keeps the listed changes of this request, written with the new session', async (t) => {
  const built = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/login', async (request) => {
      request.session.set('flash', { success: ['Welcome'] })
      request.session.set('cart', 3)
      request.session.delete('gone')
      const id = await request.session.regenerate(['flash', 'gone'])
      // Before onSend: the new key already holds the change.
      return { id, stored: await built.redis.hgetall(built.key(id)), data: request.session.data() }
    })
  })
  const agent = new Agent(built.app)
  const res = await agent.post('/login')
  t.equal(res.statusCode, 200)
  const { id, stored, data } = res.json()
  t.equal(agent.sid, id, 'the cookie carries the new ID')
  t.equal(stored.flash, '{"success":["Welcome"]}', 'written with the session')
  t.equal(stored.cart, undefined, 'a change outside keep is dropped')
  t.same(data, { flash: { success: ['Welcome'] } })
  t.same(await built.redis.hgetall(built.key(id)), stored, 'onSend had nothing left to write')
})

t.test('regenerate() without a session keeps every change of this request', async (t) => {
  const { app, redis, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/login', async (request) => {
      request.session.set({ user: 'ann', n: 2 })
      return { id: await request.session.regenerate() }
    })
  })
  const agent = new Agent(app)
  const { id } = (await agent.post('/login')).json()
  const hash = await redis.hgetall(key(id))
  t.same({ user: hash.user, n: hash.n }, { user: 'ann', n: '2' })
  t.same((await agent.get('/session')).json().data, { user: 'ann', n: 2 })
})

t.test('from a retired ID it is GONE instead (see regenerate-with-retired-id-is-gone): no session, no cookie', async (t) => {
  const { app, redis, key, prefix } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/login', async (request) => {
      request.session.set('user', 'ann')
      return { id: await request.session.regenerate(['user']) }
    })
  })
  const agent = new Agent(app)
  const first = (await agent.post('/create', { data: { a: 1 } })).json().id
  const { id: current } = (await agent.post('/regenerate')).json()
  const stale = new Agent(app)
  stale.sid = first
  const res = await stale.post('/login')
  t.equal(res.json().code, 'FST_REDIS_SESSION_GONE')
  t.equal(stale.sid, first, 'no cookie was sent')
  t.same((await redis.keys(prefix + '*')).sort(), [key(current), key(first)].sort())
  await assertRetired(t, redis, key(first))
})
