// absoluteTtl: a session ends a fixed time after it was created, however active it is (OWASP's
// absolute timeout). Enforced in the same load script (no extra round trip); no expiry set on the key
// ever reaches past the end, so an idle session vanishes on time too; regenerate() keeps the end.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, build, sessionRoutes } from './helpers/build'

t.test('the key never outlives the absolute end, whatever slides it', async (t) => {
  const { app, redis, key } = await build(t, { ttl: 60, absoluteTtl: 4 }, (app) => {
    app.post('/login', async (request) => {
      await request.session.create({ username: 'ann' })
      return { expiresAt: request.session.expiresAt?.getTime() ?? null }
    })
    app.get('/me', async (request) => ({ id: request.session.id ?? null, expiresAt: request.session.expiresAt?.getTime() ?? null }))
    app.post('/regenerate', async (request) => ({ id: await request.session.regenerate() }))
    app.post('/ttl', async (request) => { await request.session.setTtl(600); return { ok: true } })
    app.post('/lazy', { config: { session: 'lazy' } }, async (request) => ({ n: await request.session.increment('n') }))
  })
  const agent = new Agent(app)
  const before = Date.now()
  const { expiresAt } = (await agent.post('/login')).json()
  t.ok(expiresAt >= Math.floor(before / 1000) * 1000 + 4000 - 1000 && expiresAt <= before + 4000 + 1000, 'session.expiresAt is created + absoluteTtl')
  t.equal(await redis.hget(key(agent.sid as string), 'session_expires'), String(expiresAt / 1000), 'stored as Unix seconds')
  t.ok(await redis.ttl(key(agent.sid as string)) <= 4, 'the new key expires at the absolute end, not after ttl')

  await sleep(700)
  t.equal((await agent.get('/me')).json().expiresAt, expiresAt)
  t.ok(await redis.ttl(key(agent.sid as string)) <= 4, 'a load slides no further than the end')
  await agent.post('/ttl')
  t.ok(await redis.ttl(key(agent.sid as string)) <= 4, 'nor does setTtl()')
  await agent.post('/lazy')
  t.ok(await redis.ttl(key(agent.sid as string)) <= 4, 'nor a lazy route\'s write')
  const old = agent.sid as string
  await agent.post('/regenerate')
  t.not(agent.sid, old)
  t.equal(await redis.hget(key(agent.sid as string), 'session_expires'), String(expiresAt / 1000), 'regenerate() keeps the end')
  t.ok(await redis.ttl(key(agent.sid as string)) <= 4, 'and its new key expires by it')

  // An idle TTL made fresh behind the plugin's back: the load still ends the session at its end.
  await redis.expire(key(agent.sid as string), 100)
  await sleep(Math.max(0, expiresAt - Date.now()) + 1100)
  const after = (await agent.get('/me')).json()
  t.same(after, { id: null, expiresAt: null }, 'past the end: no session')
  t.equal(await redis.exists(key(agent.sid as string)), 0, 'and the load deleted the key')
})

t.test('past the end, no write keeps the session alive: lazy routes, setTtl, the store', async (t) => {
  const { app, redis, key } = await build(t, { ttl: 60, absoluteTtl: 2 }, (app) => {
    sessionRoutes(app)
    app.post('/lazy', { config: { session: 'lazy' } }, async (request) => ({ n: await request.session.increment('n') }))
    app.post('/lazy-set', { config: { session: 'lazy' } }, async (request) => { request.session.set('x', 'y'); await request.session.save(); return { ok: true } })
  })
  const agent = new Agent(app)
  await agent.post('/create')
  const id = agent.sid as string
  // An attacker's loop: a lazy write every 100 ms, each of which would push the expiry on by a second.
  const end = Number(await redis.hget(key(id), 'session_expires')) * 1000
  let last = 0
  while (Date.now() < end + 1500) {
    last = (await agent.post('/lazy')).statusCode
    await sleep(100)
  }
  t.equal(last, 409, 'past the end, a lazy increment finds the session gone')
  t.equal(await redis.exists(key(id)), 0, 'and the key is gone')
  t.equal((await agent.post('/lazy-set')).statusCode, 409)
  t.equal(await app.sessionStore.getSession(id, { refreshTtl: false }), null)
})

t.test('a user\'s index expires with the absolute end, not the idle TTL', async (t) => {
  const { app, redis, prefix } = await build(t, { ttl: 600, absoluteTtl: 4 }, (app) => {
    app.post('/login', async (request) => { await request.session.create({}, { user: 'carl' }); return { ok: true } })
    app.get('/me', async (request) => ({ user: request.session.user ?? null }))
  })
  const agent = new Agent(app)
  await agent.post('/login')
  t.ok(await redis.pttl(prefix + 'user:carl') <= 6001, 'at most the end plus 2 s after login')
  await agent.get('/me') // a load files it again: still capped by the end
  t.ok(await redis.pttl(prefix + 'user:carl') <= 6001, 'and after a load')
})

t.test('off by default; created while set, kept when it is not', async (t) => {
  const { app, redis, key } = await build(t, {})
  const agent = new Agent(app)
  await agent.post('/create')
  t.equal(await redis.hexists(key(agent.sid as string), 'session_expires'), 0)
  t.ok(await redis.ttl(key(agent.sid as string)) > 1790)
  t.equal((await app.inject({ method: 'POST', url: '/set', payload: { session_expires: '1' }, headers: { cookie: `sid=${agent.sid as string}` } })).json().code, 'FST_REDIS_SESSION_RESERVED_FIELD', 'reserved')
})

t.test('absoluteTtl is checked at register time', async (t) => {
  for (const bad of [-1, 1.5, '60']) {
    await t.rejects(build(t, { absoluteTtl: bad as number }), { code: 'FST_REDIS_SESSION_INVALID_OPTION' }, String(bad))
  }
})
