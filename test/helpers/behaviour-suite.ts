// The core behaviour suite, one code for every topology: test/topologies/<kind>.test.ts each run it
// against one (tap runs those files in parallel). Through the real plugin with inject, asserting what
// the client sees and what Redis holds.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Cluster, type Redis } from 'ioredis'
import redisSession from '../../plugin'
import { Agent, assertRetired, sessionRoutes, uniquePrefix } from './build'
import { startTopology, type Topology, type TopologyKind } from './topology'

/** Script calls so far (EVALSHA, and EVAL where a node did not have the script yet), summed over the masters. */
async function scriptCalls (masters: Redis[]): Promise<number> {
  let calls = 0
  for (const master of masters) {
    for (const match of (await master.info('commandstats')).matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1])
  }
  return calls
}

function routes (app: FastifyInstance, admin: Topology['admin'], prefix: string): void {
  sessionRoutes(app)
  app.post('/set-after-delete', async (request) => {
    request.session.set('x', 'y')
    await admin.del(prefix + (request.session.id as string))
    return { ok: true }
  })
  app.post('/increment-after-delete', async (request) => {
    await admin.del(prefix + (request.session.id as string))
    return { value: await request.session.increment('n') }
  })
  app.post('/login', async (request) => {
    await request.session.create({ greeting: 'hi' }, { user: (request.body as { user: string }).user })
    return { handle: request.session.handle }
  })
  app.get('/my-sessions', async (request) => app.sessionStore.listUserSessions(request.session.user as string))
  app.post('/log-out-others', async (request) => ({
    ended: await app.sessionStore.destroyUserSessions(request.session.user as string, { except: request.session.handle })
  }))
}

export function behaviourSuite (kind: TopologyKind): void {
  t.test(`the core behaviours on ${kind === 'single' ? 'a single Redis' : kind === 'cluster' ? 'a three-master Cluster' : 'Sentinel (master, replica, sentinel)'}`, async (t) => {
    const topology: Topology = await startTopology(t, kind)
    const { admin } = topology
    const prefix = uniquePrefix()
    const app = Fastify()
    await app.register(redisSession, { redis: topology.redis, prefix, rotateAfter: 86400, rotateGrace: 30 })
    routes(app, admin, prefix)
    await app.ready()
    t.teardown(() => app.close())
    const key = (id: string | undefined): string => prefix + (id as string)

    t.test('create: a cookie, and a hash with its reserved fields and TTL', async (t) => {
      const agent = new Agent(app)
      const res = await agent.post('/create', { data: { username: 'ann', n: 1 }, ttl: 600 })
      t.equal(res.statusCode, 200)
      t.match(res.headers['set-cookie'], /^sid=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/)
      const hash = await admin.hgetall(key(agent.sid))
      t.same(Object.keys(hash).sort(), ['created_at', 'last_accessed_at', 'n', 'session_ttl', 'username'])
      t.equal(hash.session_ttl, '600')
      const ttl = await admin.ttl(key(agent.sid))
      t.ok(ttl > 590 && ttl <= 600, `TTL ${ttl}`)
    })

    t.test('load slides the TTL and serves the data', async (t) => {
      const agent = new Agent(app)
      await agent.post('/create', { data: { username: 'bo' } })
      await admin.expire(key(agent.sid), 100)
      const res = await agent.get('/session')
      t.same(res.json().data, { username: 'bo' })
      t.ok(await admin.ttl(key(agent.sid)) > 1790, 'slid back to the full TTL')
    })

    t.test('touchAfter: a read inside the window writes nothing (a plain HGETALL on the key\'s node), one after it slides', async (t) => {
      const touching = Fastify()
      await touching.register(redisSession, { redis: topology.redis, prefix, touchAfter: 60 })
      routes(touching, admin, prefix)
      t.teardown(() => touching.close())
      const agent = new Agent(touching)
      await agent.post('/create', { data: { username: 'cy' } })
      // 30 s after the last slide
      const touchedAt = new Date(Date.now() - 30_000).toISOString()
      await admin.hset(key(agent.sid), 'last_accessed_at', touchedAt)
      await admin.expire(key(agent.sid), 1770)
      t.same((await agent.get('/session')).json().data, { username: 'cy' }, 'served inside the window')
      t.ok(await admin.ttl(key(agent.sid)) <= 1770, 'not slid')
      t.equal(await admin.hget(key(agent.sid), 'last_accessed_at'), touchedAt, 'nothing written')
      // long after it
      await admin.hset(key(agent.sid), 'last_accessed_at', new Date(Date.now() - 1700_000).toISOString())
      await admin.expire(key(agent.sid), 100)
      t.same((await agent.get('/session')).json().data, { username: 'cy' }, 'served after the window')
      t.ok(await admin.ttl(key(agent.sid)) > 1790, 'and slid back to the full TTL')
    })

    if (kind === 'cluster') {
      t.test('touchAfter on a client with scaleReads: every load is the script (on a master), never a plain read a replica could answer', async (t) => {
        const nodes = (topology.redis as Cluster).nodes('master').map((node) => ({ host: node.options.host, port: node.options.port }))
        const replicaReads = new Cluster(nodes, { scaleReads: 'slave' })
        t.teardown(() => { replicaReads.disconnect() })
        const app = Fastify()
        await app.register(redisSession, { redis: replicaReads, prefix, touchAfter: 60 })
        routes(app, admin, prefix)
        t.teardown(() => app.close())
        const agent = new Agent(app)
        await agent.post('/create', { data: { username: 'di' } })
        const before = await scriptCalls(topology.masters())
        for (let i = 0; i < 5; i++) t.same((await agent.get('/session')).json().data, { username: 'di' })
        t.equal(await scriptCalls(topology.masters()) - before, 5, 'one load script per read')
      })
    }

    t.test('increment is atomic: 25 racing increments count 25', async (t) => {
      const agent = new Agent(app)
      await agent.post('/create')
      const replies = await Promise.all(Array.from({ length: 25 }, () => agent.post('/increment/views')))
      t.ok(replies.every((r) => r.statusCode === 200))
      t.same(replies.map((r) => r.json().value).sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1))
      t.equal(await admin.hget(key(agent.sid), 'views'), '25')
    })

    t.test('set and delete fields; setTtl', async (t) => {
      const agent = new Agent(app)
      await agent.post('/create', { data: { a: 'x' } })
      await agent.post('/set', { b: { deep: [1, 2] }, c: true })
      await agent.post('/delete/a')
      t.same((await agent.get('/session')).json().data, { b: { deep: [1, 2] }, c: true })
      t.same(await admin.hmget(key(agent.sid), 'a', 'b', 'c'), [null, '{"deep":[1,2]}', 'true'])
      await agent.post('/ttl', { ttl: 45 })
      t.equal(await admin.hget(key(agent.sid), 'session_ttl'), '45')
      t.ok(await admin.ttl(key(agent.sid)) <= 45)
    })

    t.test('regenerate: a new ID with the data, the old one a marker', async (t) => {
      const agent = new Agent(app)
      await agent.post('/create', { data: { username: 'cy' } })
      const before = agent.sid
      const createdAt = await admin.hget(key(before), 'created_at')
      await agent.post('/regenerate')
      t.not(agent.sid, before)
      await assertRetired(t, admin, key(before))
      t.equal(await admin.hget(key(agent.sid), 'username'), 'cy')
      t.equal(await admin.hget(key(agent.sid), 'created_at'), createdAt, 'created_at kept')
      const stale = new Agent(app)
      stale.sid = before
      t.equal((await stale.get('/session')).json().id, null, 'the old ID is no session')
    })

    t.test('destroy: key gone, cookie cleared; no resurrection by a later write', async (t) => {
      const agent = new Agent(app)
      await agent.post('/create', { data: { username: 'di' } })
      const id = agent.sid
      const res = await agent.post('/destroy')
      t.match(res.headers['set-cookie'], /^sid=; Max-Age=0;/)
      t.equal(await admin.exists(key(id)), 0)

      // Requests that loaded the session, while the key is deleted under them (a logout or an expiry
      // elsewhere), write nothing: neither onSend's field writes nor an increment bring it back.
      const other = new Agent(app)
      await other.post('/create', { data: { username: 'ed' } })
      const raced = other.sid
      const set = await other.post('/set-after-delete')
      t.equal(set.statusCode, 200)
      t.equal(await admin.exists(key(raced)), 0, 'onSend\'s write did not recreate the key')
      await other.post('/create', { data: { username: 'ed' } })
      const raced2 = other.sid
      const inc = await other.post('/increment-after-delete')
      t.equal(inc.statusCode, 409)
      t.equal(inc.json().code, 'FST_REDIS_SESSION_GONE')
      t.equal(await admin.exists(key(raced2)), 0, 'the increment did not recreate the key')
    })

    t.test('per-user sessions: listed, and "log out everywhere else"', async (t) => {
      const devices = [new Agent(app), new Agent(app), new Agent(app)]
      const user = `user-${kind}`
      for (const d of devices) await d.post('/login', { user })
      t.equal((await devices[0].get('/my-sessions')).json().length, 3)
      t.same((await devices[0].post('/log-out-others')).json(), { ended: 2 })
      for (const d of devices.slice(1)) t.equal((await d.get('/session')).json().id, null, 'logged out')
      t.same(await admin.zrange(prefix + 'user:' + user, '0', '-1'), [devices[0].sid])
    })

    t.test('renewal timeout: the old ID forwards to the new key (another slot), its requests served without the new ID', async (t) => {
      const agent = new Agent(app)
      await agent.post('/login', { user: `renewed-${kind}` })
      const old = agent.sid
      await agent.post('/increment/n')
      await admin.hset(key(old), 'created_at', new Date(Date.now() - 2 * 86400_000).toISOString())
      await agent.get('/session')
      const renewed = agent.sid
      t.not(renewed, old, 'renewed')
      t.equal(await admin.hget(key(old), 'rotated_to'), renewed, 'the old key forwards to the new one')
      const stale = new Agent(app)
      stale.sid = old
      const answers = await Promise.all(Array.from({ length: 10 }, async () => await stale.post('/increment/n')))
      t.same(answers.map((a) => a.headers['set-cookie']), Array(10).fill(undefined), 'no old-ID answer carries a cookie')
      t.equal(await admin.hget(key(renewed), 'n'), '11', 'every increment through the old ID landed on the new key')
      t.same((await agent.get('/my-sessions')).json().map((s: { handle: string }) => s.handle), [app.sessionStore.handle(renewed as string)])
    })

    if (kind === 'cluster') {
      t.test('keys spread over every master', async (t) => {
        for (let i = 0; i < 30; i++) await app.inject({ method: 'POST', url: '/create' })
        const counts = await Promise.all(topology.masters().map(async (m) => (await m.keys(prefix + '*')).length))
        t.equal(counts.length, 3)
        t.ok(counts.every((n) => n > 0), `sessions on each master: ${counts.join(', ')}`)
      })
    }
  })
}
