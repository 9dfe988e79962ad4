// Many app servers, many requests at once: counts never get lost, different fields never overwrite
// each other, and a request that raced a logout or an expiry never brings the session back.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Agent, build, sessionRoutes } from './helpers/build'

/** Routes whose handler pauses after loading, until the test lets it go on. */
function withGate (gates: Map<string, () => void>, arrived: Map<string, () => void>) {
  return (app: FastifyInstance) => {
    sessionRoutes(app)
    app.post('/slow/:name', async (request) => {
      const { name } = request.params as { name: string }
      const body = request.body as { set?: Record<string, string | number>, delete?: string[] }
      await new Promise<void>((resolve) => {
        gates.set(name, resolve)
        arrived.get(name)?.()
      })
      if (body.set) request.session.set(body.set)
      for (const field of body.delete ?? []) request.session.delete(field)
      return { ok: true }
    })
  }
}

function gate () {
  const gates = new Map<string, () => void>()
  const arrived = new Map<string, () => void>()
  const waitFor = (name: string) => new Promise<void>((resolve) => arrived.set(name, resolve))
  const release = (name: string) => gates.get(name)!()
  return { gates, arrived, waitFor, release }
}

t.test('200 concurrent increments give exactly 200', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { n: 0 } })).json()
  const responses = await Promise.all(Array.from({ length: 200 }, () => agent.post('/increment/n')))
  const values = responses.map((r) => r.json().value).sort((a, b) => a - b)
  t.same(values, Array.from({ length: 200 }, (_, i) => i + 1), 'each request saw its own count')
  t.equal(await redis.hget(key(id), 'n'), '200')
})

t.test('200 concurrent increments through two app servers sharing Redis give exactly 200', async (t) => {
  const first = await build(t)
  const second = await build(t, { prefix: first.prefix })
  const agent = new Agent(first.app)
  const { id } = (await agent.post('/create', { data: { n: 0 } })).json()
  const cookie = { cookie: `sid=${id}` }
  await Promise.all(Array.from({ length: 200 }, (_, i) =>
    (i % 2 === 0 ? first.app : second.app).inject({ method: 'POST', url: '/increment/n', headers: cookie })))
  t.equal(await first.redis.hget(first.key(id), 'n'), '200')
})

t.test('two concurrent requests that change different fields both keep their change', async (t) => {
  const g = gate()
  const { app, redis, key } = await build(t, {}, withGate(g.gates, g.arrived))
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { x: 0, y: 0, z: 'old' } })).json()
  const both = Promise.all([g.waitFor('a'), g.waitFor('b')])
  const a = agent.post('/slow/a', { set: { x: 1 } })
  const b = agent.post('/slow/b', { set: { y: 2 }, delete: ['z'] })
  await both // both loaded the same hash before either writes
  g.release('a')
  await a
  g.release('b')
  await b
  const hash = await redis.hgetall(key(id))
  t.equal(hash.x, '1', "a's change kept")
  t.equal(hash.y, '2', "b's change kept")
  t.equal(hash.z, undefined, "b's delete kept")
})

t.test('a request that raced a logout does not resurrect the session', async (t) => {
  const g = gate()
  const { app, redis, key, prefix } = await build(t, {}, withGate(g.gates, g.arrived))
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const arrived = g.waitFor('a')
  const slow = agent.post('/slow/a', { set: { cart: 'full' } })
  await arrived
  const logout = await app.inject({ method: 'POST', url: '/destroy', headers: { cookie: `sid=${id}` } })
  t.equal(logout.statusCode, 200)
  t.equal(await redis.exists(key(id)), 0)
  g.release('a')
  const res = await slow
  t.equal(res.statusCode, 200)
  t.equal(await redis.exists(key(id)), 0, 'the key was not written back')
  t.same(await redis.keys(prefix + '*'), [], 'and no other key was made')
  t.equal(res.headers['set-cookie'], undefined, 'the late response leaves the cookie alone (the browser may hold a newer one by now)')
})

t.test('a request that raced an expiry does not resurrect the session', async (t) => {
  const g = gate()
  const { app, redis, key } = await build(t, {}, withGate(g.gates, g.arrived))
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const arrived = g.waitFor('a')
  const slow = agent.post('/slow/a', { set: { cart: 'full' } })
  await arrived
  await redis.pexpire(key(id), 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  g.release('a')
  await slow
  t.equal(await redis.exists(key(id)), 0)
})

t.test('increment() after a concurrent logout fails with FST_REDIS_SESSION_GONE and creates nothing', async (t) => {
  const { app, redis, key, prefix } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/logout-then-increment', async (request) => {
      await app.sessionStore.deleteSession(request.session.id!) // another server logs the user out
      return { value: await request.session.increment('n') }
    })
  })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  const res = await agent.post('/logout-then-increment')
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'FST_REDIS_SESSION_GONE')
  t.equal(await redis.exists(key(id)), 0)
  t.same(await redis.keys(prefix + '*'), [])
})
