// ioredis is the application's (a peer dependency, ^5 || ^6), so the plugin runs on a client from
// either major. For each, on a standalone server and on a three-master Cluster: the core behaviours
// over app.inject, asserting what Redis holds, the standalone RedisSessionStore, and a check that
// every Lua script in plugin/scripts.ts ran (and answered) at least once. Then, standalone, Redis
// stopped: 503 at once, and nothing queued that is sent when Redis is back.
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import * as ioredis6 from 'ioredis'
import * as ioredis5 from 'ioredis5'
import redisSession, { RedisSessionStore } from '../plugin'
import { SCRIPT_NAMES } from '../plugin/scripts'
import { Agent, sessionRoutes, uniquePrefix } from './helpers/build'
import { clusterReady, startRedisCluster } from './helpers/redis-cluster'
import { startRedisServer } from './helpers/redis-server'

// Typed as ioredis 6 here; test/types/plain/ioredis5.test-d.ts checks that ioredis 5's own types fit.
type Lib = typeof ioredis6
type Client = ioredis6.Redis | ioredis6.Cluster
const MAJORS: Array<[string, Lib]> = [['ioredis 6', ioredis6], ['ioredis 5', ioredis5 as unknown as Lib]]

t.equal(ioredis5.Redis === (ioredis6.Redis as unknown), false, 'two different copies of ioredis are under test')
t.match(require('ioredis5/package.json').version, /^5\./)
t.match(require('ioredis/package.json').version, /^6\./)

/** Record each scripted command that answered; optionally fail the next WRITE of a new session. */
function instrument (client: Client): { ran: Set<string>, failNextNewWrite: () => void } {
  const ran = new Set<string>()
  let failNew = false
  const scripted = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  for (const name of SCRIPT_NAMES) {
    const original = scripted[name]
    if (typeof original !== 'function') throw new Error(`${name} is not defined on the client`)
    scripted[name] = function (this: unknown, ...args: unknown[]) {
      if (name === 'fastifySessionWrite' && args[1] === 'new' && failNew) {
        failNew = false
        return Promise.reject(new Error('injected: the new key was not confirmed'))
      }
      // WRITE has two modes, a new session and a restore: each is counted on its own.
      const label = name === 'fastifySessionWrite' ? `${name} (${String(args[1])})` : name
      return original.apply(this, args).then((reply) => { ran.add(label); return reply })
    }
  }
  return { ran, failNextNewWrite: () => { failNew = true } }
}

async function until (check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (await check()) return
    await sleep(100)
  }
  throw new Error(`timed out waiting until ${what}`)
}

/** Everything the plugin and the store do, on `client` (the plugin's), checked with `admin` (the test's). */
async function coreBehaviours (t: Test, client: Client, admin: Client): Promise<void> {
  const prefix = uniquePrefix()
  const key = (id: string): string => prefix + id
  const app = Fastify()
  await app.register(redisSession, { redis: client, prefix })
  sessionRoutes(app)
  app.post('/set-after-logout-elsewhere', async (request) => {
    await admin.del(key(request.session.id as string)) // another request destroys the session meanwhile
    request.session.set('cart', 'full')
    return { ok: true }
  })
  await app.ready()
  t.teardown(() => app.close())
  // the same store with the renewal timeout on (registered before the client is instrumented)
  const renewing = Fastify()
  await renewing.register(redisSession, { redis: client, prefix, rotateAfter: 600 })
  sessionRoutes(renewing)
  await renewing.ready()
  t.teardown(() => renewing.close())
  const { ran, failNextNewWrite } = instrument(client)
  const agent = new Agent(app)

  // create (WRITE, new)
  const first = (await agent.post('/create', { data: { username: 'ann', n: 0 }, ttl: 120 })).json().id as string
  const created = await admin.hgetall(key(first))
  t.match(created, { username: 'ann', n: '0', session_ttl: '120', created_at: String, last_accessed_at: String }, 'create writes the hash')
  t.ok(await admin.ttl(key(first)) > 110, 'with its TTL')

  // load and slide (LOAD)
  await admin.expire(key(first), 50)
  await sleep(5)
  const loaded = (await agent.get('/session')).json()
  t.equal(loaded.id, first)
  t.same(loaded.data, { username: 'ann', n: 0 })
  t.ok(await admin.ttl(key(first)) > 110, 'loading slides the TTL back to the session\'s own')
  t.not(await admin.hget(key(first), 'last_accessed_at'), created.last_accessed_at, 'and refreshes last_accessed_at')

  // increment (INCREMENT)
  t.equal((await agent.post('/increment/n', {})).json().value, 1)
  t.equal((await agent.post('/increment/n?by=5', {})).json().value, 6)
  t.equal(await admin.hget(key(first), 'n'), '6')

  // set and delete, written in onSend (PERSIST)
  t.equal((await agent.post('/set', { color: 'red', page: 'home' })).statusCode, 200)
  t.equal(await admin.hget(key(first), 'color'), 'red')
  t.equal((await agent.post('/delete/page', {})).statusCode, 200)
  t.equal(await admin.hexists(key(first), 'page'), 0, 'a delete removes the field')

  // setTtl (SET_TTL) and remainingTtl (REMAINING)
  t.equal((await agent.post('/ttl', { ttl: 300 })).json().ttl, 300)
  t.equal(await admin.hget(key(first), 'session_ttl'), '300')
  t.ok(await admin.ttl(key(first)) > 290)
  const remaining = (await agent.get('/remaining')).json().seconds
  t.ok(remaining > 290 && remaining <= 300, `remainingTtl ${remaining}`)

  // a login over the live session (REPLACE): the old ID keeps only the rotation marker
  const login = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
  t.not(login, first)
  t.same(Object.keys(await admin.hgetall(key(first))), ['rotated_at'], 'the old ID holds only the marker')
  t.equal(await admin.hget(key(login), 'username'), 'ann')

  // regenerate (TAKE, then WRITE): same data under a new ID, the old one retired
  await agent.post('/set', { role: 'admin' })
  const rotated = (await agent.post('/regenerate', {})).json().id as string
  t.not(rotated, login)
  t.same(Object.keys(await admin.hgetall(key(login))), ['rotated_at'], 'regenerate leaves the marker at the old ID')
  const ttlOfMarker = await admin.ttl(key(login))
  t.ok(ttlOfMarker > 0 && ttlOfMarker <= 60, 'which expires by itself')
  t.match(await admin.hgetall(key(rotated)), { username: 'ann', role: 'admin' }, 'and the new ID has the data')

  // a logout from a request still carrying the retired ID (END_MARKER): the marker is marked
  const stale = new Agent(app)
  stale.sid = login
  t.equal((await stale.post('/destroy', {})).statusCode, 200)
  t.ok(await admin.hexists(key(login), 'destroyed_at'), 'the marker records the logout')

  // a failed regenerate: the new key is not confirmed, the session is put back (WRITE, restore)
  const beforeFailure = await admin.hgetall(key(rotated))
  failNextNewWrite()
  const failed = await agent.post('/regenerate', {})
  t.ok(failed.statusCode >= 500, `the failed regenerate answers ${failed.statusCode}`)
  t.equal(failed.headers['set-cookie'], undefined, 'with no new cookie')
  await until(async () => await admin.hexists(key(rotated), 'created_at') === 1, 'the session is put back')
  // As it was when regenerate() took it: that request's own load had slid it (last_accessed_at).
  const { last_accessed_at: slid, ...restored } = await admin.hgetall(key(rotated))
  const { last_accessed_at: before, ...expected } = beforeFailure
  t.same(restored, expected, 'the session is back under its ID, as it was')
  t.ok(slid >= before, 'touched only by the failed request\'s own load')
  t.equal((await agent.get('/session')).json().id, rotated, 'and the browser is still logged in')

  // a write that finds the session gone is not resurrected (PERSIST answers 0)
  const gone = await agent.post('/set-after-logout-elsewhere', {})
  t.equal(gone.statusCode, 200)
  t.equal(await admin.exists(key(rotated)), 0, 'the destroyed session is not written back')

  // destroy (DEL)
  const last = (await agent.post('/create', { data: { username: 'bob' } })).json().id as string
  t.equal((await agent.post('/destroy', {})).statusCode, 200)
  t.equal(await admin.exists(key(last)), 0, 'destroy deletes the key')
  t.equal(agent.sid, undefined, 'and clears the cookie')

  // the store on its own, outside any request (a store of its own on the same client)
  const store = new RedisSessionStore({ redis: client, prefix })
  const id = await store.createSession({ username: 'cy', n: 1 }, 90)
  t.match(await store.getSession(id), { username: 'cy', n: '1', session_ttl: '90' })
  t.match(await store.getSession(id, { refreshTtl: false }), { username: 'cy' })
  t.equal(await store.incrementField(id, 'n', 2), 3)
  t.equal(await store.setTtl(id, 200), true)
  t.equal(await store.getConfiguredTtl(id), 200)
  const left = await store.remainingTtl(id)
  t.ok(left > 190 && left <= 200, `store.remainingTtl ${left}`)
  t.equal(await store.deleteSession(id), true)
  t.equal(await store.getSession(id), null)
  t.equal(await store.incrementField(id, 'n'), null, 'nothing is created for a gone session')
  t.equal(await store.setTtl(id, 10), false)
  t.equal(await admin.exists(key(id)), 0)

  // renewal (RENEW): an ID older than rotateAfter moves to a new one, the old key forwards to it
  const device = new Agent(renewing)
  const aged = (await device.post('/create', { data: { username: 'dee' } })).json().id as string
  await admin.hset(key(aged), 'created_at', new Date(Date.now() - 3600_000).toISOString())
  const renewed = (await device.get('/session')).json().id as string
  t.not(renewed, aged, 'an aged ID is renewed during a request')
  t.equal(device.sid, renewed, 'and the response carries the new ID')
  t.equal(await admin.hget(key(aged), 'rotated_to'), renewed, 'the old key forwards to the new one')
  t.equal(await admin.hget(key(renewed), 'username'), 'dee', 'which holds the data')

  // touchAfter: a read inside the window is a plain HGETALL (on this major's own reply shape, and on
  // a Cluster the key's own node), and writes nothing
  const throttled = Fastify()
  await throttled.register(redisSession, { redis: client, prefix, touchAfter: 60 })
  sessionRoutes(throttled)
  t.teardown(() => throttled.close())
  const reader = new Agent(throttled)
  const quiet = (await reader.post('/create', { data: { username: 'eve' } })).json().id as string
  // Slid 10 s ago, so a slide now would write a different time.
  const touchedAt = new Date(Date.now() - 10_000).toISOString()
  await admin.hset(key(quiet), 'last_accessed_at', touchedAt)
  const served = await reader.get('/session')
  t.equal(served.json().id, quiet, 'touchAfter: the plain read finds the session')
  t.equal(served.json().data.username, 'eve')
  t.equal(await admin.hget(key(quiet), 'last_accessed_at'), touchedAt, 'touchAfter: and slides nothing inside the window')

  const expectedScripts = SCRIPT_NAMES.flatMap((name) => name === 'fastifySessionWrite' ? [`${name} (new)`, `${name} (restore)`] : [name])
  t.same(expectedScripts.filter((name) => !ran.has(name)), [], `every script ran: ${[...ran].sort().join(', ')}`)
  t.ok(SCRIPT_NAMES.length >= 9, `${SCRIPT_NAMES.length} scripts`)
}

for (const [name, lib] of MAJORS) {
  t.test(`${name}: standalone`, async (t) => {
    const server = await startRedisServer(t)
    const client = new lib.Redis(server.url)
    const admin = new lib.Redis(server.url)
    t.teardown(() => { client.disconnect(); admin.disconnect() })
    await coreBehaviours(t, client, admin)
  })

  t.test(`${name}: three-master Cluster`, async (t) => {
    const { startupNodes } = await startRedisCluster(t)
    const client = new lib.Cluster(startupNodes)
    const admin = new lib.Cluster(startupNodes)
    t.teardown(() => { client.disconnect(); admin.disconnect() })
    await clusterReady(client)
    await clusterReady(admin)
    await coreBehaviours(t, client, admin)
  })

  t.test(`${name}: a lazyConnect client is connected by the plugin; Redis stopped answers 503 and queues nothing`, async (t) => {
    const server = await startRedisServer(t)
    const client = new lib.Redis(server.url, { lazyConnect: true })
    client.on('error', () => {}) // connection errors while the server is down are expected here
    const admin = new lib.Redis(server.url)
    admin.on('error', () => {})
    t.teardown(() => { client.disconnect(); admin.disconnect() })
    const prefix = uniquePrefix()
    const app = Fastify()
    await app.register(redisSession, { redis: client, prefix, timeout: 500 })
    sessionRoutes(app)
    await app.ready()
    t.teardown(() => app.close())
    t.equal(client.status, 'ready', 'ready once the app is')
    const agent = new Agent(app)
    const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id as string
    t.equal(await admin.hget(prefix + id, 'username'), 'ann')

    await server.stop()
    const started = Date.now()
    const res = await agent.get('/session')
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
    t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms (timeout 500 ms)`)
    const login = await app.inject({ method: 'POST', url: '/create', payload: { data: { username: 'queued' } } })
    t.equal(login.statusCode, 503, 'a login fails cleanly too')
    t.equal(login.headers['set-cookie'], undefined, 'with no cookie')
    t.equal((await agent.get('/public')).statusCode, 200, 'a route that opted out keeps answering')

    await server.start()
    await until(async () => client.status === 'ready' && admin.status === 'ready', 'both clients reconnect')
    await sleep(300)
    t.same(await admin.keys(prefix + '*'), [], 'nothing the 503 requests asked for was sent later (the server restarted empty)')
    const again = await app.inject({ method: 'POST', url: '/create', payload: { data: { username: 'dee' } } })
    t.equal(again.statusCode, 200, 'sessions work again')
    t.equal(await admin.hget(prefix + again.json().id, 'username'), 'dee')
  })
}
