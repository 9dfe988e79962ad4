// Sessions expire by Redis TTL, slide on every load by their own TTL, and can change it at run time.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Agent, build } from './helpers/build'

t.test('every load slides the expiry forward by the session TTL', async (t) => {
  const { app, redis, key } = await build(t, { ttl: 4 })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  // Three loads over ~4.5 s: longer than the TTL, but each one slides it.
  for (let i = 0; i < 3; i++) {
    await sleep(1500)
    t.equal((await agent.get('/session')).json().id, id, `load ${i + 1} still finds the session`)
    const pttl = await redis.pttl(key(id))
    t.ok(pttl > 3000, `PTTL ${pttl} reset to about 4 s`)
  }
})

t.test('a short TTL really expires: the key is gone and the cookie opens nothing', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { ttl: 1 })).json()
  t.equal(await redis.exists(key(id)), 1)
  await sleep(2100)
  t.equal(await redis.exists(key(id)), 0, 'Redis expired the key')
  const res = await agent.get('/session')
  t.equal(res.json().id, null)
  t.equal(await redis.exists(key(id)), 0, 'loading did not bring it back')
})

t.test('setTtl() changes the stored session_ttl and the expiry together, and later loads use it', async (t) => {
  const { app, redis, key } = await build(t, { ttl: 1800 })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  t.ok(await redis.ttl(key(id)) > 1790)
  const res = await agent.post('/ttl', { ttl: 42 })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { ttl: 42 })
  t.equal(await redis.hget(key(id), 'session_ttl'), '42')
  t.ok(await redis.ttl(key(id)) <= 42)
  await redis.expire(key(id), 5)
  await agent.get('/session')
  const ttl = await redis.ttl(key(id))
  t.ok(ttl > 40 && ttl <= 42, `the next load slid by the session's own TTL (${ttl})`)
  t.equal((await agent.get('/session')).json().ttl, 42)
})

t.test('each session carries its own TTL', async (t) => {
  const { app, redis, key } = await build(t, { ttl: 100 })
  const a = new Agent(app)
  const b = new Agent(app)
  const idA = (await a.post('/create', { ttl: 10 })).json().id
  const idB = (await b.post('/create')).json().id
  await a.get('/session')
  await b.get('/session')
  t.ok(await redis.ttl(key(idA)) <= 10)
  t.ok(await redis.ttl(key(idB)) > 90)
})

t.test('setTtl() refuses bad values with a coded error and changes nothing', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { ttl: 50 })).json()
  for (const ttl of [0, -1, 1.5, 'x', 2 ** 31]) {
    const res = await agent.post('/ttl', { ttl })
    t.equal(res.statusCode, 500)
    t.equal(res.json().code, 'FST_REDIS_SESSION_INVALID_TTL', `ttl ${String(ttl)}`)
  }
  t.equal(await redis.hget(key(id), 'session_ttl'), '50')
})

t.test('setTtl() without a live session fails with FST_REDIS_SESSION_NO_SESSION and writes nothing', async (t) => {
  const { app, redis, prefix } = await build(t)
  const res = await app.inject({ method: 'POST', url: '/ttl', payload: { ttl: 10 } })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'FST_REDIS_SESSION_NO_SESSION')
  t.same(await redis.keys(prefix + '*'), [])
})

t.test('create() with an invalid TTL writes nothing and keeps the current session', async (t) => {
  const { app, redis, prefix, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  const res = await agent.post('/create', { ttl: 0 })
  t.equal(res.json().code, 'FST_REDIS_SESSION_INVALID_TTL')
  t.equal(await redis.exists(key(id)), 1)
  t.same(await redis.keys(prefix + '*'), [key(id)])
})
