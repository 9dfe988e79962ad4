// Field names and values are bounded; over-limit or wrongly typed writes are refused and nothing is written.
import t from 'tap'
import { Agent, build, sessionRoutes } from './helpers/build'

t.test('an over-long value is refused with FST_REDIS_SESSION_FIELD_TOO_LARGE (413)', async (t) => {
  const { app, redis, key } = await build(t, { maxFieldValueBytes: 100 })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { a: 'one' } })).json()
  const res = await agent.post('/set', { a: 'two', big: 'x'.repeat(101) })
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'FST_REDIS_SESSION_FIELD_TOO_LARGE')
  const hash = await redis.hgetall(key(id))
  t.equal(hash.a, 'one')
  t.equal(hash.big, undefined)
  t.equal((await agent.post('/set', { ok: 'x'.repeat(100) })).statusCode, 200, 'exactly the limit is fine')
  t.equal(await redis.hstrlen(key(id), 'ok'), 100)
})

t.test('the limit counts UTF-8 bytes, not characters', async (t) => {
  const { app, redis, key } = await build(t, { maxFieldValueBytes: 10 })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  t.equal((await agent.post('/set', { v: 'ééééé' })).statusCode, 200, '10 bytes')
  t.equal(await redis.hget(key(id), 'v'), 'ééééé')
  t.equal((await agent.post('/set', { v: 'éééééé' })).json().code, 'FST_REDIS_SESSION_FIELD_TOO_LARGE', '12 bytes')
})

t.test('an over-long field name is refused', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  const res = await agent.post('/set', { ['n'.repeat(201)]: '1' })
  t.equal(res.json().code, 'FST_REDIS_SESSION_FIELD_TOO_LARGE')
  t.equal(await redis.hlen(key(id)), 3)
})

t.test('the default value limit is 64 KiB', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  t.equal((await agent.post('/set', { v: 'x'.repeat(65536) })).statusCode, 200)
  t.equal((await agent.post('/set', { w: 'x'.repeat(65537) })).statusCode, 413)
  t.equal(await redis.hstrlen(key(id), 'v'), 65536)
  t.equal(await redis.hexists(key(id), 'w'), 0)
})

t.test('the limit applies to the stored form', async (t) => {
  const { app, redis, key } = await build(t, { maxFieldValueBytes: 10 })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  t.equal((await agent.post('/set', { w: '12345678' })).statusCode, 200, 'stored as "12345678", 10 bytes')
  t.equal(await redis.hget(key(id), 'w'), '"12345678"')
  t.equal((await agent.post('/set', { v: '123456789' })).json().code, 'FST_REDIS_SESSION_FIELD_TOO_LARGE', 'stored as "123456789", 11 bytes')
  t.equal((await agent.post('/set', { v: [1, 2, 3, 4, 5] })).json().code, 'FST_REDIS_SESSION_FIELD_TOO_LARGE', 'stored as [1,2,3,4,5], 11 bytes')
  t.equal(await redis.hexists(key(id), 'v'), 0)
})

t.test('values must be JSON values', async (t) => {
  const { app, redis, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/bad/:kind', async (request) => {
      const bad: Record<string, unknown> = {
        nan: Number.NaN,
        infinity: Number.POSITIVE_INFINITY,
        date: new Date(0),
        map: new Map(),
        fn: () => 1,
        bigint: 1n,
        nested: { when: new Date(0) },
        'in-array': [1, Number.NaN]
      }
      request.session.set('v', bad[(request.params as { kind: string }).kind] as never)
      return { ok: true }
    })
  })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  for (const kind of ['nan', 'infinity', 'date', 'map', 'fn', 'bigint', 'nested', 'in-array']) {
    const res = await agent.post(`/bad/${kind}`)
    t.equal(res.statusCode, 500, kind)
    t.equal(res.json().code, 'FST_REDIS_SESSION_INVALID_VALUE', kind)
  }
  t.equal((await agent.post('/set', { '': 'x' })).json().code, 'FST_REDIS_SESSION_INVALID_FIELD')
  t.equal(await redis.hlen(key(id)), 3)
})

t.test('increment() of a field that is not an integer fails with a coded error and changes nothing', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { name: 'ann' } })).json()
  const res = await agent.post('/increment/name')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_REDIS_SESSION_NOT_AN_INTEGER')
  t.equal(await redis.hget(key(id), 'name'), 'ann')
  t.equal((await agent.post('/increment/n?by=1.5')).json().code, 'FST_REDIS_SESSION_INVALID_VALUE')
})
