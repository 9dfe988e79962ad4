// Used to go wrong: a logout that arrived with the old cookie while regenerate() was writing the new
// key found only the rotation marker and deleted nothing; when the write then failed, regenerate()
// put the session back under the old ID, and the logged-out browser was logged in again. Now a
// logout that meets a marker marks it destroyed, and the restore leaves such a marker alone.
import t from 'tap'
import { Redis } from 'ioredis'
import { Agent, build, sessionRoutes } from '../helpers/build'
import { redisUrl } from '../helpers/redis-server'

type Hooked = Redis & { fastifySessionWrite: (key: string, mode: string, ...rest: unknown[]) => Promise<unknown> }

t.test('a logout during a failed regenerate() is not undone by its restore', async (t) => {
  const client = new Redis(await redisUrl()) as Hooked
  t.teardown(() => { client.disconnect() })
  const { app, redis, key } = await build(t, { redis: client }, sessionRoutes)
  const agent = new Agent(app)
  const { id: old } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const oldCookie = agent.sid
  // The next write of a new key waits until the logout is done, then fails.
  let writing: () => void = () => {}
  const reachedWrite = new Promise<void>((resolve) => { writing = resolve })
  let failWrite: () => void = () => {}
  const write = client.fastifySessionWrite
  client.fastifySessionWrite = function (this: Hooked, key: string, mode: string, ...rest: unknown[]) {
    if (mode !== 'new') return write.call(this, key, mode, ...rest)
    client.fastifySessionWrite = write
    writing()
    return new Promise((_resolve, reject) => { failWrite = () => reject(new Error('Connection is closed.')) })
  }
  const regen = agent.post('/regenerate')
  await reachedWrite
  // Meanwhile, the same browser logs out (another tab), still with the old cookie.
  const logout = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: `sid=${oldCookie}` } })
  t.equal(logout.statusCode, 200)
  failWrite()
  const res = await regen
  t.ok(res.statusCode >= 500, `regenerate() failed (${res.statusCode})`)
  // Let the restore (which the request does not wait for) reach Redis.
  await redis.ping()
  await new Promise((resolve) => setTimeout(resolve, 50))
  const hash = await redis.hgetall(key(old))
  t.equal(hash.created_at, undefined, 'the old ID holds no session')
  t.ok(hash.destroyed_at, 'the marker says a logout met it')
  const after = await app.inject({ method: 'GET', url: '/session', headers: { cookie: `sid=${oldCookie}` } })
  t.equal(after.json().id, null, 'the old cookie opens nothing')
  t.same(after.json().data, {})
})

t.test('without a logout, a failed regenerate() still puts the session back', async (t) => {
  const client = new Redis(await redisUrl()) as Hooked
  t.teardown(() => { client.disconnect() })
  const { app, redis, key } = await build(t, { redis: client }, sessionRoutes)
  const agent = new Agent(app)
  const { id: old } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const write = client.fastifySessionWrite
  client.fastifySessionWrite = function (this: Hooked, key: string, mode: string, ...rest: unknown[]) {
    if (mode !== 'new') return write.call(this, key, mode, ...rest)
    client.fastifySessionWrite = write
    return Promise.reject(new Error('Connection is closed.'))
  }
  const res = await agent.post('/regenerate')
  t.ok(res.statusCode >= 500)
  await redis.ping()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await redis.hget(key(old), 'username'), 'ann')
  t.same((await agent.get('/session')).json().data, { username: 'ann' })
})
