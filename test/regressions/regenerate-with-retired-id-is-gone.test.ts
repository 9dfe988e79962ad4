// Used to go wrong: regenerate() on a request that still carried an ID a login had just retired
// (a racing request from the same browser) started a fresh empty session and sent its cookie, which
// replaced the login's cookie: the user was logged out. Now it fails with FST_REDIS_SESSION_GONE,
// like increment() in the same state, and sends no cookie.
import t from 'tap'
import { Agent, build, sessionRoutes } from '../helpers/build'

t.test('regenerate() with a retired ID is GONE and leaves the browser its new cookie', async (t) => {
  const { app, redis, prefix, key } = await build(t, {}, sessionRoutes)
  const agent = new Agent(app)
  await agent.post('/create', { data: { username: 'guest' } })
  const stale = agent.sid
  const { id: current } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const res = await app.inject({ method: 'POST', url: '/regenerate', headers: { cookie: `sid=${stale}` } })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'FST_REDIS_SESSION_GONE')
  t.equal(res.headers['set-cookie'], undefined, 'no cookie replaces the login\'s')
  const keys = (await redis.keys(prefix + '*')).sort()
  t.same(keys, [key(current), key(stale!)].sort(), 'no new session was started')
  t.equal(await redis.hget(key(current), 'username'), 'ann')
})
