// maxFields and maxSessionBytes: a write that would take a session past either is refused whole,
// before anything is written (checked inside the same script as the write, so racing requests cannot
// add up past it), with FST_REDIS_SESSION_TOO_LARGE (413) saying which limit, the size and the limit.
import t from 'tap'
import { Agent, build } from './helpers/build'

t.test('maxFields: the fourth field is refused, replacing or swapping fields is not', async (t) => {
  const { app, redis, key } = await build(t, { maxFields: 3 }, (app) => {
    app.post('/create', async (request) => ({ id: await request.session.create(request.body as Record<string, string>) }))
    app.post('/set', async (request) => { request.session.set(request.body as Record<string, string>); return { ok: true } })
    app.post('/swap', async (request) => { request.session.delete('a'); request.session.set('d', 'x'); return { ok: true } })
    app.post('/increment/:field', async (request) => ({ n: await request.session.increment((request.params as { field: string }).field) }))
    app.post('/lazy-set', { config: { session: 'lazy' } }, async (request) => { request.session.set(request.body as Record<string, string>); return { ok: true } })
  })
  const agent = new Agent(app)
  t.equal((await agent.post('/create', { a: '1', b: '2', c: '3' })).statusCode, 200, 'three fields fit')
  const { last_accessed_at: _, ...before } = await redis.hgetall(key(agent.sid as string))
  const over = await agent.post('/set', { e: 'x' })
  t.equal(over.statusCode, 413)
  t.equal(over.json().code, 'FST_REDIS_SESSION_TOO_LARGE')
  t.match(over.json().message, /would hold 4 fields, more than the 3 the maxFields option allows; nothing was written/)
  const { last_accessed_at: __, ...after } = await redis.hgetall(key(agent.sid as string))
  t.same(after, before, 'nothing was written (the load slid last_accessed_at, as any load does)')
  t.equal((await agent.post('/set', { a: 'changed' })).statusCode, 200, 'replacing a field is fine')
  t.equal((await agent.post('/swap')).statusCode, 200, 'deleting one and adding one is fine')
  t.same(await redis.hmget(key(agent.sid as string), 'a', 'd'), [null, 'x'])
  const counter = await agent.post('/increment/n')
  t.equal(counter.statusCode, 413, 'a new counter field counts too')
  t.equal(await redis.hexists(key(agent.sid as string), 'n'), 0)
  t.equal((await agent.post('/lazy-set', { z: '1' })).statusCode, 413, 'on a lazy route as well (checked in Redis)')
  t.equal((await new Agent(app).post('/create', { a: '1', b: '2', c: '3', d: '4' })).statusCode, 413, 'a new session over the limit')
})

t.test('maxSessionBytes: names and values, reserved fields included', async (t) => {
  const { app, redis, key, prefix } = await build(t, { maxSessionBytes: 400 }, (app) => {
    app.post('/create', async (request) => ({ id: await request.session.create(request.body as Record<string, string>) }))
    app.post('/set', async (request) => { request.session.set(request.body as Record<string, string>); return { ok: true } })
  })
  const agent = new Agent(app)
  t.equal((await agent.post('/create', { note: 'x'.repeat(100) })).statusCode, 200)
  // About 90 bytes of reserved fields, plus "note" and its value: 100 fits, 350 does not.
  const res = await agent.post('/set', { note: 'x'.repeat(350) })
  t.equal(res.statusCode, 413)
  t.match(res.json().message, /would hold \d+ bytes, more than the 400 the maxSessionBytes option allows/)
  t.equal((await redis.hget(key(agent.sid as string), 'note'))?.length, 100, 'the old value stands')
  const keys = (await redis.keys(prefix + '*')).length
  t.equal((await new Agent(app).post('/create', { big: 'y'.repeat(500) })).statusCode, 413)
  t.equal((await redis.keys(prefix + '*')).length, keys, 'no key for the refused new session')
})

t.test('both are checked at register time, and off by default', async (t) => {
  await t.rejects(build(t, { maxFields: -1 }), { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
  await t.rejects(build(t, { maxSessionBytes: 1.5 }), { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
  const { app } = await build(t, {})
  const agent = new Agent(app)
  await agent.post('/create')
  const many = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`f${i}`, 'v']))
  t.equal((await agent.post('/set', many)).statusCode, 200, 'no limit by default')
})
