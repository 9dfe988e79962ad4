// created_at, last_accessed_at and session_ttl belong to the store: readable, never writable.
import t from 'tap'
import { Agent, build } from './helpers/build'

for (const field of ['created_at', 'last_accessed_at', 'session_ttl']) {
  t.test(`set('${field}') is refused with a coded error and nothing is written`, async (t) => {
    const { app, redis, key } = await build(t)
    const agent = new Agent(app)
    const { id } = (await agent.post('/create', { data: { a: '1' } })).json()
    const before = await redis.hgetall(key(id))
    const res = await agent.post(`/set/${field}`, { value: 'evil' })
    t.equal(res.statusCode, 500)
    t.equal(res.json().code, 'FST_REDIS_SESSION_RESERVED_FIELD')
    const after = await redis.hgetall(key(id))
    t.same({ ...after, last_accessed_at: '' }, { ...before, last_accessed_at: '' })
    t.not(after[field], 'evil')
  })

  t.test(`delete('${field}') is refused`, async (t) => {
    const { app, redis, key } = await build(t)
    const agent = new Agent(app)
    const { id } = (await agent.post('/create')).json()
    const res = await agent.post(`/delete/${field}`)
    t.equal(res.json().code, 'FST_REDIS_SESSION_RESERVED_FIELD')
    t.equal(await redis.hexists(key(id), field), 1)
  })
}

t.test('a record that mixes normal and reserved fields is rejected whole', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { a: 1 } })).json()
  const res = await agent.post('/set', { a: 2, b: 3, session_ttl: '999999' })
  t.equal(res.json().code, 'FST_REDIS_SESSION_RESERVED_FIELD')
  const hash = await redis.hgetall(key(id))
  t.equal(hash.a, '1', 'the normal field in the same record was not written either')
  t.equal(hash.b, undefined)
  t.not(hash.session_ttl, '999999')
})

t.test('create() with reserved fields in its data creates nothing', async (t) => {
  const { app, redis, prefix } = await build(t)
  const res = await app.inject({ method: 'POST', url: '/create', payload: { data: { username: 'ann', created_at: 'x' } } })
  t.equal(res.json().code, 'FST_REDIS_SESSION_RESERVED_FIELD')
  t.equal(res.headers['set-cookie'], undefined)
  t.same(await redis.keys(prefix + '*'), [])
})

t.test('increment() of a reserved field is refused', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { ttl: 60 })).json()
  const res = await agent.post('/increment/session_ttl')
  t.equal(res.json().code, 'FST_REDIS_SESSION_RESERVED_FIELD')
  t.equal(await redis.hget(key(id), 'session_ttl'), '60')
})

t.test('reserved fields are readable but left out of data()', async (t) => {
  const { app } = await build(t)
  const agent = new Agent(app)
  await agent.post('/create', { data: { a: '1' }, ttl: 77 })
  t.equal((await agent.get('/get/session_ttl')).json().value, '77')
  t.same((await agent.get('/session')).json().data, { a: '1' })
})
