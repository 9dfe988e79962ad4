// rotateAfter (OWASP's renewal timeout): once a session's ID is that old, a request moves the session
// to a new ID, transparently. Requests that still carry the old ID within rotateGrace are served the
// same session (their writes land on it) but never receive the new ID; after the window the old ID
// is dead. A login and regenerate() keep their no-grace behaviour. Sessions are aged by rewriting
// their created_at in Redis, so no test waits rotateAfter out.
import { createHash } from 'node:crypto'
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { Agent, build, countRoundTrips, newClient, sessionRoutes } from './helpers/build'

const HOUR_AGO = (): string => new Date(Date.now() - 3600_000).toISOString()

/** Log in, age the ID past rotateAfter (its created_at an hour back, in Redis), and make the request that renews it. */
async function loginAndRenew (app: FastifyInstance, redis: Redis, keyOf: (id: string) => string): Promise<{ agent: Agent, old: string, renewed: string }> {
  const agent = new Agent(app)
  await agent.post('/login')
  const old = agent.sid as string
  await redis.hset(keyOf(old), 'created_at', HOUR_AGO())
  await agent.get('/who')
  return { agent, old, renewed: agent.sid as string }
}

function routes (app: FastifyInstance): void {
  sessionRoutes(app)
  app.post('/login', async (request) => {
    await request.session.create({ username: 'ann' }, { user: 'ann', label: 'laptop' })
    return { id: request.session.id }
  })
  app.get('/who', async (request) => ({ id: request.session.id ?? null, handle: request.session.handle ?? null, user: request.session.user ?? null, username: request.session.get('username') ?? null }))
}

function recordRotated (app: FastifyInstance): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = []
  app.sessionStore.on('rotated', (event) => { events.push({ ...event }) })
  return events
}

const setCookie = (response: LightMyRequestResponse): unknown => response.headers['set-cookie']

t.test('an ID older than rotateAfter moves to a new one during a request, with everything in it', async (t) => {
  const client = await newClient(t)
  const { app, redis, key } = await build(t, { redis: client, rotateAfter: 600, rotateGrace: 5, absoluteTtl: 7200 }, routes)
  const rotated = recordRotated(app)
  const agent = new Agent(app)
  await agent.post('/login')
  await agent.post('/increment/n')
  const old = agent.sid as string
  const trips = countRoundTrips(client)
  await agent.get('/who')
  t.equal(agent.sid, old, 'a young ID stays')
  t.equal(trips.roundTrips, 2, 'and costs nothing more: its load, and (a user\'s session) the index filed again beside the handler')
  t.same(rotated, [])

  const createdAt = HOUR_AGO()
  const before = await redis.hgetall(key(old))
  await redis.hset(key(old), 'created_at', createdAt)
  const response = await agent.get('/who')
  t.equal(response.statusCode, 200)
  const renewed = agent.sid as string
  t.not(renewed, old, 'an ID older than rotateAfter is replaced: the response sets the new cookie')
  t.same(response.json(), { id: renewed, handle: app.sessionStore.handle(renewed), user: 'ann', username: 'ann' }, 'the handler sees the session under its new ID')
  const now = await redis.hgetall(key(renewed))
  t.equal(now.username, 'ann')
  t.equal(now.n, '1', 'the data moved')
  t.equal(now.created_at, createdAt, 'created_at stays the session\'s')
  t.equal(now.session_expires, before.session_expires, 'the absolute end stays')
  t.equal(now.session_user, 'ann')
  t.equal(now.session_label, 'laptop')
  t.ok(Math.abs(Number(now.session_issued) - Date.now() / 1000) < 5, 'session_issued: when the new ID was issued')
  const marker = await redis.hgetall(key(old))
  t.same(Object.keys(marker).sort(), ['forward_until', 'rotated_at', 'rotated_to'], 'the old key is a marker: no session data')
  t.equal(marker.rotated_to, renewed, 'forwarding to the new key')
  t.ok(Number(marker.forward_until) - Date.now() > 3000 && Number(marker.forward_until) - Date.now() <= 5500, 'for the grace window')
  t.ok(await redis.ttl(key(old)) <= 60, 'and it expires by itself')
  t.same(rotated, [{ handle: app.sessionStore.handle(renewed), user: 'ann', previous: app.sessionStore.handle(old) }], 'one rotated event')
  const sessions = await app.sessionStore.listUserSessions('ann')
  t.same(sessions.map((s) => s.handle), [app.sessionStore.handle(renewed)], 'the user\'s index lists the session under its new ID only')

  trips.reset()
  await agent.get('/who')
  t.equal(agent.sid, renewed, 'the new ID is young: no further renewal')
  t.equal(trips.roundTrips, 2)
  t.equal(rotated.length, 1)
})

t.test('within the grace window the old ID is served the same session, and never gets the new ID', async (t) => {
  const { app, redis, key } = await build(t, { rotateAfter: 600, rotateGrace: 10 }, routes)
  const { old, renewed } = await loginAndRenew(app, redis, key)
  t.not(renewed, old)

  const stale = new Agent(app)
  stale.sid = old
  const who = await stale.get('/who')
  t.same(who.json(), { id: old, handle: app.sessionStore.handle(renewed), user: 'ann', username: 'ann' }, 'the same session: its data, its handle, the ID the request carried')
  t.equal(setCookie(who), undefined, 'no cookie: the new ID is never sent to an old-ID request')
  // Old and new cookies at once, as a page's parallel requests sent before and after the new cookie.
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => app.inject({
    method: 'POST', url: '/increment/hits', headers: { cookie: `sid=${i % 2 === 0 ? old : renewed}` }
  })))
  t.same(answers.map((a) => a.statusCode), Array(20).fill(200))
  t.same(answers.filter((_, i) => i % 2 === 0).map(setCookie), Array(10).fill(undefined), 'old-ID answers carry no cookie')
  t.equal(await redis.hget(key(renewed), 'hits'), '20', 'every increment landed on the new key')
  await stale.post('/set', { colour: 'blue' })
  t.equal(await redis.hget(key(renewed), 'colour'), 'blue', 'a set() through the old ID too')
  t.equal(await redis.hexists(key(old), 'created_at'), 0, 'the old key is still only the marker')
  t.equal(stale.sid, old, 'the old-ID client was never given a cookie')
})

t.test('after the grace window the old ID is dead', async (t) => {
  const { app, redis, key, prefix } = await build(t, { rotateAfter: 600, rotateGrace: 1 }, routes)
  const { agent, old, renewed } = await loginAndRenew(app, redis, key)
  await sleep(1200)
  const stale = new Agent(app)
  stale.sid = old
  t.same((await stale.get('/who')).json(), { id: null, handle: null, user: null, username: null }, 'no session')
  const write = await stale.post('/set', { x: 1 })
  t.equal(write.statusCode, 200)
  t.equal(setCookie(write), undefined, 'nor a fresh one that would replace the browser\'s new cookie')
  t.equal(await redis.hexists(key(renewed), 'x'), 0, 'the write did not reach the session')
  t.same((await redis.keys(prefix + '*')).filter((k) => !k.includes(':user:')).sort(), [key(old), key(renewed)].sort(), 'no new key')
  t.equal((await agent.get('/who')).json().username, 'ann', 'the new ID lives on')
})

t.test('a write in flight while its ID is renewed lands on the new key', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered: () => void = () => {}
  const waiting = new Promise<void>((resolve) => { entered = resolve })
  const { app, redis, key } = await build(t, { rotateAfter: 600 }, (app) => {
    routes(app)
    app.post('/slow', async (request) => {
      entered()
      await gate
      const n = await request.session.increment('n')
      request.session.set('late', true)
      return { n, id: request.session.id }
    })
  })
  const agent = new Agent(app)
  await agent.post('/login')
  const old = agent.sid as string
  const slow = app.inject({ method: 'POST', url: '/slow', headers: { cookie: `sid=${old}` } })
  await waiting // loaded with the old ID, before it was due
  await redis.hset(key(old), 'created_at', HOUR_AGO())
  await agent.get('/who')
  const renewed = agent.sid as string
  t.not(renewed, old)
  release()
  const answer = await slow
  t.equal(answer.statusCode, 200)
  t.same(answer.json(), { n: 1, id: old }, 'the increment counted')
  t.equal(setCookie(answer), undefined, 'and the in-flight request got no cookie')
  t.equal(await redis.hget(key(renewed), 'n'), '1', 'its increment is on the new key')
  t.equal(await redis.hget(key(renewed), 'late'), 'true', 'and so is its onSend write')
})

t.test('requests due at once: one renewal, one event, one new cookie', async (t) => {
  const { app, redis, key, prefix } = await build(t, { rotateAfter: 600 }, routes)
  const rotated = recordRotated(app)
  const agent = new Agent(app)
  await agent.post('/login')
  const old = agent.sid as string
  await redis.hset(key(old), 'created_at', HOUR_AGO())
  const answers = await Promise.all(Array.from({ length: 12 }, () => app.inject({ method: 'GET', url: '/who', headers: { cookie: `sid=${old}` } })))
  t.same(answers.map((a) => a.json().username), Array(12).fill('ann'), 'every request saw the session')
  t.equal(answers.filter((a) => setCookie(a) !== undefined).length, 1, 'exactly one carries the new cookie')
  t.equal(rotated.length, 1, 'exactly one rotated event')
  const sessions = (await redis.keys(prefix + '*')).filter((k) => !k.includes(':user:'))
  t.equal(sessions.length, 2, 'one new key beside the marker')
})

t.test('a logout through the old ID within the grace window ends the session', async (t) => {
  const { app, redis, key } = await build(t, { rotateAfter: 600 }, routes)
  const destroyed: unknown[] = []
  app.sessionStore.on('destroyed', (event) => destroyed.push(event))
  const { agent, old, renewed } = await loginAndRenew(app, redis, key)
  const stale = new Agent(app)
  stale.sid = old
  const logout = await stale.post('/destroy')
  t.match(String(setCookie(logout)), /Max-Age=0|Expires=Thu, 01 Jan 1970/, 'the cookie is cleared')
  t.equal(await redis.exists(key(renewed)), 0, 'the session is gone')
  t.ok(await redis.hexists(key(old), 'destroyed_at'), 'the marker is marked, so it forwards no more')
  t.same(destroyed, [{ handle: app.sessionStore.handle(renewed), user: 'ann' }], 'one destroyed event, for the session')
  t.same(await app.sessionStore.listUserSessions('ann'), [])
  t.equal((await agent.get('/who')).json().username, null, 'the new ID is logged out too')
})

t.test('a login and regenerate() keep their no-grace rotation', async (t) => {
  const { app, redis, key } = await build(t, { rotateAfter: 600, rotateGrace: 30 }, routes)
  const agent = new Agent(app)
  await agent.post('/login')
  const first = agent.sid as string
  await agent.post('/regenerate')
  t.same(Object.keys(await redis.hgetall(key(first))), ['rotated_at'], 'regenerate() leaves a plain marker: no forward')
  const stale = new Agent(app)
  stale.sid = first
  t.equal((await stale.get('/who')).json().username, null, 'its old ID is dead at once')
  t.ok(await redis.hget(key(agent.sid as string), 'session_issued'), 'the regenerated ID records when it was issued')
  const beforeLogin = agent.sid as string
  await agent.post('/login')
  stale.sid = beforeLogin
  t.equal((await stale.get('/who')).json().username, null, 'so is the ID a login replaced')
})

t.test('rotateAfter and rotateGrace are checked at register time', async (t) => {
  for (const [options, option] of [
    [{ rotateGrace: 5 }, 'rotateGrace'],
    [{ rotateAfter: 600, rotateGrace: 61 }, 'rotateGrace'],
    [{ rotateAfter: -1 }, 'rotateAfter'],
    [{ rotateAfter: 1.5 }, 'rotateAfter']
  ] as const) {
    await t.rejects(build(t, options, routes), { code: 'FST_REDIS_SESSION_INVALID_OPTION', message: new RegExp(option) }, `${JSON.stringify(options)} is refused`)
  }
})

t.test('with hashIds the marker forwards by hash, and a rolling cookie still never carries the new ID to an old-ID request', async (t) => {
  const { app, redis, prefix } = await build(t, { rotateAfter: 600, hashIds: true, cookie: { maxAge: 600 } }, routes)
  const hashed = (id: string): string => prefix + createHash('sha256').update(id).digest('hex')
  const { agent, old, renewed } = await loginAndRenew(app, redis, hashed)
  t.not(renewed, old)
  const marker = await redis.hgetall(hashed(old))
  t.equal(prefix + marker.rotated_to, hashed(renewed), 'rotated_to is the new key\'s hash')
  t.notOk(JSON.stringify(marker).includes(renewed), 'the new ID itself is nowhere in the marker')
  const stale = new Agent(app)
  stale.sid = old
  const answer = await stale.get('/who')
  t.equal(answer.json().username, 'ann', 'served through the marker')
  t.equal(setCookie(answer), undefined, 'no cookie, though cookie.maxAge rolls the cookie of every slid session')
  t.match(String(setCookie(await agent.get('/who'))), /^sid=/, 'the new ID\'s own requests roll it as usual')
})
