// Used to go wrong: save() on a session that another request had destroyed (or that expired) resolved
// as if it had written, while increment() and setTtl() rejected with FST_REDIS_SESSION_GONE.
import t from 'tap'
import { Agent, build, sessionRoutes } from '../helpers/build'

t.test('save() after the session was destroyed meanwhile rejects with FST_REDIS_SESSION_GONE', async (t) => {
  const { app, redis, prefix } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/race-save', async (request) => {
      await app.sessionStore.deleteSession(request.session.id as string) // another request logs out
      request.session.set('cart', 'full')
      await request.session.save()
      return { ok: true }
    })
  })
  const agent = new Agent(app)
  await agent.post('/create', { data: { username: 'ann' } })
  const res = await agent.post('/race-save')
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'FST_REDIS_SESSION_GONE')
  t.same(await redis.keys(prefix + '*'), [], 'nothing was written back')
})
