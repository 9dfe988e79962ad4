// Used to go wrong: calls on one request.session that overlapped ran interleaved. Two increments for
// a new visitor each created a session of their own (one count and one cookie lost); regenerate()
// overlapping increment() and setTtl() counted into, or set the TTL of, the old ID.
import t from 'tap'
import { Agent, assertRetired, build, sessionRoutes } from '../helpers/build'

t.test('Promise.all of increments for a new visitor: one session, every count kept', async (t) => {
  const { app, redis, prefix, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/both', async (request) => {
      const [a, b, a2] = await Promise.all([request.session.increment('a'), request.session.increment('b', 5), request.session.increment('a')])
      return { a, b, a2, id: request.session.id }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/both' })
  t.same({ ...res.json(), id: undefined }, { a: 1, b: 5, a2: 2, id: undefined })
  const keys = await redis.keys(prefix + '*')
  t.same(keys, [key(res.json().id)], 'exactly one session')
  const hash = await redis.hgetall(keys[0])
  t.same({ a: hash.a, b: hash.b }, { a: '2', b: '5' })
  t.equal([res.headers['set-cookie']].flat().length, 1, 'one cookie')
})

t.test('Promise.all([regenerate(), increment(), setTtl()]) acts on the session under its new ID', async (t) => {
  const { app, redis, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/rotate', async (request) => {
      const [id, n] = await Promise.all([request.session.regenerate(), request.session.increment('n'), request.session.setTtl(60)])
      return { id, n, ttl: request.session.ttl }
    })
  })
  const agent = new Agent(app)
  const oldId = (await agent.post('/create', { data: { n: 1 } })).json().id
  const res = await agent.post('/rotate')
  t.equal(res.statusCode, 200)
  const { id, n, ttl } = res.json()
  t.not(id, oldId)
  t.equal(agent.sid, id)
  t.same({ n, ttl }, { n: 2, ttl: 60 })
  t.equal(await redis.hget(key(id), 'n'), '2', 'the count went to the new ID')
  t.equal(await redis.hget(key(id), 'session_ttl'), '60', 'and so did the TTL')
  const remaining = await redis.ttl(key(id))
  t.ok(remaining > 50 && remaining <= 60, `the new key expires by it (${remaining} s)`)
  await assertRetired(t, redis, key(oldId))
})

t.test('an increment the handler did not await is finished before the response goes out', async (t) => {
  const { app, redis, prefix } = await build(t, {}, (app) => {
    app.post('/fire', async (request) => {
      request.session.increment('n').catch(() => {}) // not awaited: a fire-and-forget counter
      return { ok: true }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/fire' })
  const [k] = await redis.keys(prefix + '*')
  t.equal(await redis.hget(k, 'n'), '1')
  t.match(res.headers['set-cookie'], new RegExp(`^sid=${k.slice(prefix.length)};`), 'and its cookie is sent')
})
