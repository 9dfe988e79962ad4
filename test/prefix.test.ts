// Key namespaces: 'session:app-a:' style prefixes keep apps apart, and an ioredis keyPrefix is honoured.
import t from 'tap'
import { Redis } from 'ioredis'
import { Agent, build } from './helpers/build'
import { redisUrl } from './helpers/redis-server'

t.test('two apps with different prefixes on one Redis never see each other\'s sessions', async (t) => {
  const tag = Math.random().toString(36).slice(2, 8)
  const a = await build(t, { prefix: `session:app-a-${tag}:` })
  const b = await build(t, { prefix: `session:app-b-${tag}:` })
  const agent = new Agent(a.app)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  t.equal(await a.redis.hget(`session:app-a-${tag}:${id}`, 'username'), 'ann')
  const other = await b.app.inject({ url: '/session', headers: { cookie: `sid=${id}` } })
  t.equal(other.json().id, null)
  t.same(await b.redis.keys(`session:app-b-${tag}:*`), [])
})

t.test('an ioredis keyPrefix comes in front of the session prefix, scripts included', async (t) => {
  const url = await redisUrl()
  const tag = Math.random().toString(36).slice(2, 8)
  const prefixed = new Redis(url, { keyPrefix: `tenant-${tag}:` })
  t.teardown(() => { prefixed.disconnect() })
  const { app, redis } = await build(t, { redis: prefixed, prefix: 'session:' })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { n: 1 } })).json()
  await agent.post('/increment/n')
  await agent.post('/set', { a: 'b' })
  const key = `tenant-${tag}:session:${id}`
  t.same(await redis.keys(`tenant-${tag}:*`), [key])
  const hash = await redis.hgetall(key)
  t.equal(hash.n, '2')
  t.equal(hash.a, 'b')
  t.equal((await agent.get('/session')).json().id, id)
  await agent.post('/destroy')
  t.equal(await redis.exists(key), 0)
})

t.test('with touchAfter, the plain read inside the window honours the keyPrefix too', async (t) => {
  const url = await redisUrl()
  const tag = Math.random().toString(36).slice(2, 8)
  const prefixed = new Redis(url, { keyPrefix: `tenant-${tag}:` })
  t.teardown(() => { prefixed.disconnect() })
  const { app, redis } = await build(t, { redis: prefixed, prefix: 'session:', touchAfter: 60 })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const key = `tenant-${tag}:session:${id}`
  // Slid 10 s ago, so a slide now would write a different time.
  const touchedAt = new Date(Date.now() - 10_000).toISOString()
  await redis.hset(key, 'last_accessed_at', touchedAt)
  const res = await agent.get('/session')
  t.equal(res.json().id, id, 'the session is found under the prefixed key')
  t.equal(res.json().data.username, 'ann')
  t.equal(await redis.hget(key, 'last_accessed_at'), touchedAt, 'by the plain read: nothing slid')
})
