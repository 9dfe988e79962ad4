// The `expired` event (expiredEvents): Redis's keyspace notifications of expired session keys become
// one event each, with the handle and never the ID, also on the diagnostics channel. A rotation
// marker expiring, a logout and a regenerate() are no `expired`. Without 'configure' the server's
// configuration is left alone (a warning says what to set); with it the setting is made, and made
// again after a Redis restart. On a Cluster every master's expiries arrive. Each test has its own
// redis-server(s): the setting is per server.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { Cluster, Redis } from 'ioredis'
import t from 'tap'
import * as ioredis5 from 'ioredis5'
import redisSession, { RedisSessionStore, type SessionEvent } from '../plugin'
import { Agent, sessionRoutes } from './helpers/build'
import { clusterReady, startRedisCluster } from './helpers/redis-cluster'
import { MASTER_NAME, startRedisSentinel } from './helpers/redis-sentinel'
import { startRedisServer } from './helpers/redis-server'

const CHANNEL = 'fastify-redis-hash-session:expired'

interface Tap { teardown: (fn: () => Promise<void> | void) => void }

function client (t: Tap, url: string): Redis {
  const redis = new Redis(url)
  redis.on('error', () => {}) // a server restarted or killed on purpose
  t.teardown(() => { redis.disconnect() })
  return redis
}

/** The `expired` events the store emits and the ones published on its channel. */
function record (t: Tap, store: RedisSessionStore): { emitted: SessionEvent[], published: unknown[] } {
  const emitted: SessionEvent[] = []
  const published: unknown[] = []
  store.on('expired', (event) => { emitted.push({ ...event }) })
  const onMessage = (message: unknown): void => { published.push(message) }
  subscribe(CHANNEL, onMessage)
  t.teardown(() => { unsubscribe(CHANNEL, onMessage) })
  return { emitted, published }
}

/** Wait until `probe` answers true, polling every 50 ms, for at most `ms`. */
async function until (probe: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await probe()) return
    await sleep(50)
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

/** How many connections are subscribed to db 0's expired-key events on this server. */
async function subscribers (redis: Redis): Promise<number> {
  const [, count] = await redis.pubsub('NUMSUB', '__keyevent@0__:expired') as [string, number]
  return Number(count)
}

async function app (t: Tap, redis: Redis | Cluster, options: object): Promise<FastifyInstance> {
  const fastify = Fastify()
  await fastify.register(redisSession, { redis, prefix: 'app:', ...options })
  sessionRoutes(fastify)
  fastify.post('/login', async (request) => {
    await request.session.create({ n: 1 }, { user: 'ann' })
    return { ok: true }
  })
  await fastify.ready()
  t.teardown(() => fastify.close())
  return fastify
}

t.test("'configure': one event per expired session; markers, logouts and regenerate() are none", async (t) => {
  const server = await startRedisServer(t)
  const admin = client(t, server.url)
  t.equal((await admin.config('GET', 'notify-keyspace-events') as string[])[1], '', 'the server starts without keyspace notifications')
  const fastify = await app(t, client(t, server.url), { expiredEvents: 'configure' })
  const store = fastify.sessionStore
  const { emitted, published } = record(t, store)
  await until(async () => await subscribers(admin) === 1, 5000, 'the subscriber')
  t.equal((await admin.config('GET', 'notify-keyspace-events') as string[])[1], 'xE', 'the store added what the event needs (and only that)')

  // A session that expires by its idle TTL: one event.
  const lapsed = await store.createSession({ a: 1 }, 1)
  // A session that moves on (regenerate()): its old ID's rotation marker expires, which is no event.
  const moving = new Agent(fastify)
  await moving.post('/login')
  const before = moving.sid as string
  await moving.post('/regenerate')
  t.not(moving.sid, before)
  t.same(await admin.hgetall('app:' + before), { rotated_at: (await admin.hget('app:' + before, 'rotated_at')) as string }, 'the old ID holds a rotation marker')
  await admin.pexpire('app:' + before, 200) // what 60 s would do
  // A logout: a DEL, no expiry.
  const leaving = new Agent(fastify)
  await leaving.post('/set', { a: 1 })
  await leaving.post('/destroy')
  // A key of the application's own under another prefix, and a non-session key under ours.
  await admin.set('other:thing', '1', 'PX', 100)
  await admin.set('app:user:nobody', '1', 'PX', 100)

  await until(() => emitted.length >= 1, 5000, 'the expired event')
  await sleep(1200) // room for a wrong second event
  t.same(emitted, [{ handle: store.handle(lapsed), user: undefined }], 'exactly one event: the idle session, by its handle')
  t.same(published, emitted, 'and the same on the diagnostics channel')
  t.notOk(JSON.stringify(emitted).includes(lapsed), 'the event never carries the ID')
  t.equal(await admin.exists('app:' + before), 0, 'the marker did expire')
  t.equal(await admin.exists('app:' + (moving.sid as string)), 1, 'the regenerated session lives on')

  await fastify.close()
  await until(async () => await subscribers(admin) === 0, 2000, 'the subscriber to close')
  t.pass('fastify.close() closes the subscriber connection')
})

t.test('an absolute timeout reached is an expired event too', async (t) => {
  const server = await startRedisServer(t, ['--notify-keyspace-events', 'Ex'])
  const admin = client(t, server.url)
  const fastify = await app(t, client(t, server.url), { expiredEvents: true, absoluteTtl: 1, ttl: 600 })
  const { emitted } = record(t, fastify.sessionStore)
  await until(async () => await subscribers(admin) === 1, 5000, 'the subscriber')
  const agent = new Agent(fastify)
  await agent.post('/login')
  await until(() => emitted.length >= 1, 5000, 'the expired event')
  t.same(emitted, [{ handle: fastify.sessionStore.handle(agent.sid as string), user: undefined }])
  t.equal((await admin.config('GET', 'notify-keyspace-events') as string[])[1], 'xE', 'true leaves a server that publishes them as it is')
})

t.test('true on a server that does not publish them: a warning that says what to set, no CONFIG SET, no event', async (t) => {
  const server = await startRedisServer(t)
  const admin = client(t, server.url)
  const warnings: Array<[Record<string, unknown>, string]> = []
  const store = new RedisSessionStore({ redis: client(t, server.url), expiredEvents: true, log: { warn: (obj, msg) => { warnings.push([obj as Record<string, unknown>, msg]) } } })
  t.teardown(() => store.close())
  const { emitted } = record(t, store)
  await until(async () => await subscribers(admin) === 1, 5000, 'the subscriber')
  t.equal(warnings.length, 1)
  t.equal(warnings[0][0].kind, 'EXPIRED_EVENTS_CONFIG')
  t.match(warnings[0][1], /does not publish expired-key events .*add "Ex" to notify-keyspace-events .*expiredEvents: 'configure'/)
  t.equal((await admin.config('GET', 'notify-keyspace-events') as string[])[1], '', 'the server configuration is untouched')
  await store.createSession({}, 1)
  await sleep(1800)
  t.same(emitted, [], 'no event')
})

t.test("'configure' where CONFIG SET is refused (an ACL): a warning that says what to set, and still subscribed", async (t) => {
  const server = await startRedisServer(t, ['--user', 'default', 'reset', 'on', 'nopass', '~*', '&*', '+@all', '-config|set'])
  const admin = client(t, server.url)
  const warnings: Array<[Record<string, unknown>, string]> = []
  const store = new RedisSessionStore({ redis: client(t, server.url), expiredEvents: 'configure', log: { warn: (obj, msg) => { warnings.push([obj as Record<string, unknown>, msg]) } } })
  t.teardown(() => store.close())
  await until(async () => await subscribers(admin) === 1, 5000, 'the subscriber')
  t.equal(warnings.length, 1)
  t.equal(warnings[0][0].kind, 'EXPIRED_EVENTS_CONFIG')
  t.match(warnings[0][1], /refused CONFIG SET notify-keyspace-events .*set notify-keyspace-events to include "Ex"/)
})

t.test("after a Redis restart the subscriber reconnects, 'configure' sets the setting again, and events flow", async (t) => {
  const server = await startRedisServer(t)
  const admin = client(t, server.url)
  const fastify = await app(t, client(t, server.url), { expiredEvents: 'configure' })
  const store = fastify.sessionStore
  const { emitted } = record(t, store)
  await until(async () => await subscribers(admin) === 1, 5000, 'the subscriber')

  await server.stop()
  await server.start()
  await until(async () => await subscribers(admin) === 1, 10_000, 'the subscriber to come back')
  t.equal((await admin.config('GET', 'notify-keyspace-events') as string[])[1], 'xE', 'set again (a restart loses a CONFIG SET)')
  await until(() => fastify.sessionStore.redis.status === 'ready', 10_000, "the application's client to reconnect")
  const id = await store.createSession({}, 1)
  await until(() => emitted.length >= 1, 5000, 'the expired event')
  t.same(emitted, [{ handle: store.handle(id), user: undefined }])
})

t.test('on a three-master Cluster (hashIds on): the expiries of every master, each once', async (t) => {
  const { nodes, startupNodes } = await startRedisCluster(t)
  const cluster = new Cluster(startupNodes)
  t.teardown(() => { cluster.disconnect() })
  await clusterReady(cluster)
  const admins = nodes.map((node) => client(t, node.url))
  const store = new RedisSessionStore({ redis: cluster, prefix: 'app:', hashIds: true, expiredEvents: 'configure' })
  t.teardown(() => store.close())
  const { emitted } = record(t, store)
  await until(async () => (await Promise.all(admins.map(subscribers))).every((n) => n === 1), 10_000, 'a subscriber on every master')

  // Sessions until every master holds at least one.
  const ids: string[] = []
  const holders = new Set<number>()
  while (holders.size < 3 || ids.length < 6) {
    const id = await store.createSession({ a: 1 }, 1)
    ids.push(id)
    for (const [i, admin] of admins.entries()) if (await admin.exists(store.key(id)).catch(() => 0) === 1) holders.add(i) // MOVED elsewhere
  }
  await until(() => emitted.length >= ids.length, 6000, 'an event for every session')
  await sleep(500)
  t.same(emitted.map((e) => e.handle).sort(), ids.map((id) => store.handle(id)).sort(), 'one event per session, from all three masters')

  // The cluster's own connection to a master drops ('-node'): that master's subscriber stays.
  await admins[0].call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
  await sleep(1500)
  t.equal(await subscribers(admins[0]), 1, 'a master whose pool connection dropped keeps its subscriber')
  emitted.length = 0
  let onFirst: string | undefined
  while (onFirst === undefined) {
    const id = await store.createSession({ a: 1 }, 1)
    if (await admins[0].exists(store.key(id)).catch(() => 0) === 1) onFirst = id
    else await store.deleteSession(id)
  }
  await until(() => emitted.some((e) => e.handle === store.handle(onFirst as string)), 5000, 'its expiry')
  t.pass('and its expiries still arrive')

  await store.close()
  await until(async () => (await Promise.all(admins.map(subscribers))).every((n) => n === 0), 2000, 'every subscriber to close')
  t.pass('close() closes every subscriber')
  t.equal(cluster.status, 'ready', 'and never the application\'s client')
})

t.test('on ioredis 5 too: standalone and a three-master Cluster', async (t) => {
  const server = await startRedisServer(t)
  const { nodes, startupNodes } = await startRedisCluster(t)
  const standalone = new ioredis5.Redis(server.url)
  const cluster = new ioredis5.Cluster(startupNodes)
  t.teardown(() => { standalone.disconnect(); cluster.disconnect() })
  await clusterReady(cluster)
  const watched = { standalone: [client(t, server.url)], Cluster: nodes.map((node) => client(t, node.url)) }
  for (const [name, redis] of [['standalone', standalone], ['Cluster', cluster]] as const) {
    const store = new RedisSessionStore({ redis: redis as unknown as Redis, prefix: 'five:', expiredEvents: 'configure' })
    t.teardown(() => store.close())
    const { emitted } = record(t, store)
    await until(async () => (await Promise.all(watched[name].map(subscribers))).every((n) => n === 1), 10_000, `the ${name}'s subscribers`)
    const ids = await Promise.all(Array.from({ length: 6 }, async () => await store.createSession({}, 1)))
    await until(() => emitted.length >= ids.length, 6000, `the ${name}'s events`)
    await sleep(300)
    t.same(emitted.map((e) => e.handle).sort(), ids.map((id) => store.handle(id)).sort(), `${name}: one event per session`)
  }
})

t.test('behind Sentinel: after a failover the subscriber follows the new master', async (t) => {
  const set = await startRedisSentinel(t)
  const redis = new Redis({ sentinels: set.sentinels, name: MASTER_NAME, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  await until(() => redis.status === 'ready', 5000, 'the client')
  const store = new RedisSessionStore({ redis, prefix: 'app:', expiredEvents: 'configure' })
  t.teardown(() => store.close())
  const { emitted } = record(t, store)
  const replica = client(t, set.replica.url)
  const master = client(t, set.master.url)
  await until(async () => await subscribers(master) === 1, 5000, 'the subscriber on the master')
  t.equal(await subscribers(replica), 0, 'none on the replica')

  await set.killMaster()
  await set.waitForPromotion()
  await until(async () => await subscribers(replica) === 1, 15_000, 'the subscriber on the promoted replica')
  t.equal((await replica.config('GET', 'notify-keyspace-events') as string[])[1], 'xE', 'configured there too')
  await until(() => redis.status === 'ready', 15_000, 'the client to reach the new master')
  const id = await store.createSession({}, 1)
  await until(() => emitted.length >= 1, 5000, 'the expired event')
  t.same(emitted, [{ handle: store.handle(id), user: undefined }], 'its expiries arrive')
})

t.test('a registration that fails (twice on one instance) leaves no subscriber behind', async (t) => {
  const server = await startRedisServer(t, ['--notify-keyspace-events', 'Ex'])
  const admin = client(t, server.url)
  const redis = client(t, server.url)
  const fastify = Fastify()
  fastify.register(redisSession, { redis, prefix: 'a:', expiredEvents: true })
  fastify.register(redisSession, { redis, prefix: 'b:', expiredEvents: true })
  await t.rejects(async () => { await fastify.ready() }, { code: 'FST_ERR_DEC_ALREADY_PRESENT' })
  await fastify.close()
  await sleep(300)
  await until(async () => await subscribers(admin) === 0, 3000, 'no subscriber left')
  t.pass('none left')
})

t.test('expiredEvents takes false, true or "configure"', async (t) => {
  const fastify = Fastify()
  await t.rejects(async () => { await fastify.register(redisSession, { redis: 'redis://127.0.0.1:1', expiredEvents: 'yes' as unknown as true }) }, { code: 'FST_REDIS_SESSION_INVALID_OPTION', message: /expiredEvents.*expected false, true .* or "configure"/ })
})
