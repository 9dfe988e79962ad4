// Per-user sessions: session.setUser() / create(data, { user }) file a session under its user;
// sessionStore.listUserSessions(), destroyUserSession() and destroyUserSessions() ("log out
// everywhere") work from that index. Through real HTTP (inject) on a single Redis and on the
// three-master Cluster, asserting what each browser sees and what Redis holds (the index's members
// and expiry, the session keys).
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Cluster, Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import redisSession, { isValidId } from '../plugin'
import { Agent, countRoundTrips, newClient, uniquePrefix } from './helpers/build'
import { clusterReady, startRedisCluster } from './helpers/redis-cluster'

function routes (app: FastifyInstance): void {
  app.post('/login', async (request) => {
    const { user, ttl } = request.body as { user: string, ttl?: number }
    await request.session.create({ greeting: 'hi' }, { user, ttl, label: request.headers['user-agent'] })
    return { handle: request.session.handle }
  })
  // The other login style: rotate the visitor's session, then file it.
  app.post('/login-rotate', async (request) => {
    const { user } = request.body as { user: string }
    request.session.set('visits', 1)
    await request.session.regenerate()
    await request.session.setUser(user, { label: 'rotated' })
    return { handle: request.session.handle }
  })
  app.get('/me', async (request) => ({ user: request.session.user ?? null, handle: request.session.handle ?? null }))
  app.post('/regenerate', async (request) => ({ id: await request.session.regenerate() }))
  app.post('/set-user', async (request) => {
    await request.session.setUser((request.body as { user: string }).user)
    return { ok: true }
  })
  app.get('/sessions', async (request) => {
    const user = request.session.user
    if (user === undefined) return []
    return (await app.sessionStore.listUserSessions(user)).map((s) => ({ ...s, current: s.handle === request.session.handle }))
  })
  app.post('/sessions/:handle/end', async (request) => ({
    ended: await app.sessionStore.destroyUserSession(request.session.user as string, (request.params as { handle: string }).handle)
  }))
  app.post('/sessions/end-others', async (request) => ({
    ended: await app.sessionStore.destroyUserSessions(request.session.user as string, { except: request.session.handle })
  }))
  app.post('/sessions/end-all', async (request) => ({ ended: await app.sessionStore.destroyUserSessions(request.session.user as string) }))
  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  app.post('/ttl', async (request) => {
    await request.session.setTtl((request.body as { ttl: number }).ttl)
    return { ok: true }
  })
}

interface Setup { app: FastifyInstance, redis: Redis, prefix: string, device: (ua: string) => Agent }
interface Tap { teardown: (fn: () => Promise<void> | void) => void }

async function setup (t: Tap, redis: Redis, pluginClient: Redis | Cluster): Promise<Setup> {
  const prefix = uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { redis: pluginClient, prefix })
  routes(app)
  await app.ready()
  t.teardown(() => app.close())
  const device = (ua: string): Agent => {
    const agent = new Agent(app)
    const inject = agent.inject.bind(agent)
    agent.inject = (options) => inject(typeof options === 'string' ? { url: options, headers: { 'user-agent': ua } } : { ...options, headers: { ...options.headers, 'user-agent': ua } })
    return agent
  }
  return { app, redis, prefix, device }
}

for (const topology of ['single', 'cluster'] as const) {
  t.test(`per-user sessions on a ${topology === 'single' ? 'single Redis' : 'three-master Redis Cluster'}`, async (t) => {
    // The test's own client: a Cluster client typed as a Redis one, for the assertions' commands.
    let redis: Redis
    let pluginClient: Redis | Cluster
    if (topology === 'single') {
      redis = await newClient(t)
      pluginClient = await newClient(t)
    } else {
      const { startupNodes } = await startRedisCluster(t)
      redis = new Cluster(startupNodes) as unknown as Redis
      pluginClient = new Cluster(startupNodes)
      t.teardown(() => { redis.disconnect(); pluginClient.disconnect() })
      await clusterReady(redis as unknown as Cluster)
      await clusterReady(pluginClient)
    }

    t.test('several devices: listed with labels and times, handles that are not cookies', async (t) => {
      const { prefix, device, redis } = await setup(t, redis0(), pluginClient)
      const phone = device('Phone/1.0')
      const laptop = device('Laptop/2.0')
      const tablet = device('Tablet/3.0')
      const bobs = device('Bob/1.0')
      for (const d of [phone, laptop, tablet]) t.equal((await d.post('/login', { user: 'alice' })).statusCode, 200)
      await bobs.post('/login', { user: 'bob' })
      await sleep(20)
      await phone.get('/me') // the phone was used last

      const listed = (await laptop.get('/sessions')).json() as Array<{ handle: string, label: string, current: boolean, createdAt: string, lastAccessedAt: string, expiresAt: string }>
      t.equal(listed.length, 3, 'alice has three sessions, not bob\'s')
      t.same(listed.slice(0, 2).map((s) => s.label), ['Laptop/2.0', 'Phone/1.0'], 'most recently used first (the asking one, then the phone)')
      t.same(listed.map((s) => s.label).sort(), ['Laptop/2.0', 'Phone/1.0', 'Tablet/3.0'])
      t.same(listed.filter((s) => s.current).map((s) => s.label), ['Laptop/2.0'], 'the asking session is marked by its handle')
      for (const s of listed) {
        t.match(s.handle, /^[A-Za-z0-9_-]{22}$/)
        t.notOk(isValidId(s.handle), 'a handle has not the shape of an ID')
        t.ok(Date.parse(s.expiresAt) - Date.now() > 1790_000, 'expires a TTL from now')
      }
      t.notOk(listed.some((s) => [phone.sid, laptop.sid, tablet.sid].includes(s.handle)))
      // A handle offered as a cookie is no session.
      const thief = new Agent(phone.app)
      thief.sid = listed[0].handle
      t.same((await thief.get('/me')).json(), { user: null, handle: null })

      // Redis: one sorted set per user, its members the sessions, living as long as the longest.
      const index = prefix + 'user:alice'
      t.equal(await redis.type(index), 'zset')
      t.same((await redis.zrange(index, '0', '-1')).sort(), [phone.sid, laptop.sid, tablet.sid].sort())
      const pttl = await redis.pttl(index)
      t.ok(pttl > 1795_000 && pttl <= 1802_000, `the index expires with its last session, plus at most 2 s (${pttl} ms)`)
      t.equal(await redis.hget(prefix + phone.sid, 'session_user'), 'alice')
      t.equal(await redis.hget(prefix + phone.sid, 'session_label'), 'Phone/1.0')
    })

    t.test('log out everywhere else, then everywhere', async (t) => {
      const { prefix, device, redis } = await setup(t, redis0(), pluginClient)
      const devices = [device('A'), device('B'), device('C')]
      for (const d of devices) await d.post('/login', { user: 'carol' })
      const [a, b, c] = devices
      const bSid = b.sid as string
      const cSid = c.sid as string
      t.same((await a.post('/sessions/end-others')).json(), { ended: 2 })
      t.equal((await a.get('/me')).json().user, 'carol', 'the asking device stays logged in')
      t.same((await b.get('/me')).json(), { user: null, handle: null }, 'B is logged out')
      t.same((await c.get('/me')).json(), { user: null, handle: null }, 'C is logged out')
      t.equal(await redis.exists(prefix + bSid), 0)
      t.equal(await redis.exists(prefix + cSid), 0)
      t.same(await redis.zrange(prefix + 'user:carol', '0', '-1'), [a.sid], 'the index keeps only A')

      await b.post('/login', { user: 'carol' })
      const aSid = a.sid as string
      t.same((await b.post('/sessions/end-all')).json(), { ended: 2 })
      t.equal(await redis.exists(prefix + aSid), 0)
      t.equal(await redis.exists(prefix + 'user:carol'), 0, 'an empty index is deleted')
      t.same((await a.get('/me')).json().user, null)
    })

    t.test('end one session by handle; another user\'s handle ends nothing', async (t) => {
      const { prefix, device, redis } = await setup(t, redis0(), pluginClient)
      const mine = device('mine')
      const other = device('other')
      const bob = device('bob')
      await mine.post('/login', { user: 'dave' })
      await other.post('/login', { user: 'dave' })
      await bob.post('/login', { user: 'bob' })
      const bobsHandle = (await bob.get('/me')).json().handle
      t.same((await mine.post(`/sessions/${bobsHandle}/end`)).json(), { ended: false })
      t.equal(await redis.exists(prefix + bob.sid), 1, 'bob is still logged in')
      const otherHandle = (await other.get('/me')).json().handle
      t.same((await mine.post(`/sessions/${otherHandle}/end`)).json(), { ended: true })
      t.same((await other.get('/me')).json().user, null)
      t.same((await mine.post(`/sessions/${otherHandle}/end`)).json(), { ended: false }, 'only once')
      t.same(await redis.zrange(prefix + 'user:dave', '0', '-1'), [mine.sid])
    })

    t.test('logout, regenerate and setUser keep the index exact', async (t) => {
      const { prefix, device, redis } = await setup(t, redis0(), pluginClient)
      const d = device('d')
      await d.post('/login-rotate', { user: 'erin' })
      t.equal((await d.get('/me')).json().user, 'erin')
      t.equal(await redis.hget(prefix + d.sid, 'visits'), '1', 'the rotated session kept its data')
      const before = d.sid
      await d.post('/regenerate')
      t.not(d.sid, before)
      t.equal((await d.get('/me')).json().user, 'erin', 'regenerate() keeps the user')
      const listed = (await d.get('/sessions')).json()
      t.equal(listed.length, 1, 'the old ID is pruned from the list')
      t.equal(listed[0].label, 'rotated', 'and keeps the label')
      t.same(await redis.zrange(prefix + 'user:erin', '0', '-1'), [d.sid], 'and from the index')

      await d.post('/set-user', { user: 'frank' })
      t.equal(await redis.exists(prefix + 'user:erin'), 0, 'moved: the old user no longer lists it')
      t.same(await redis.zrange(prefix + 'user:frank', '0', '-1'), [d.sid])
      t.equal(await redis.hexists(prefix + d.sid, 'session_label'), 0, 'setUser without a label drops the old one')

      await d.post('/logout')
      t.equal(await redis.exists(prefix + 'user:frank'), 0, 'logout removes the entry (and the empty index)')
    })

    t.test('expiry: entries pruned when met, the index gone with its last session', async (t) => {
      const { prefix, device, redis } = await setup(t, redis0(), pluginClient)
      const long = device('long')
      const short = device('short')
      await short.post('/login', { user: 'gina', ttl: 1 })
      const shortSid = short.sid as string
      t.ok(await redis.pttl(prefix + 'user:gina') <= 3001, 'with only a 1 s session, the index lives at most 3 s')
      await long.post('/login', { user: 'gina', ttl: 60 })
      await sleep(1500)
      t.equal(await redis.exists(prefix + shortSid), 0, 'the short session expired')
      t.equal(await redis.zscore(prefix + 'user:gina', shortSid) !== null, true, 'its entry is still there until met')
      const listed = (await long.get('/sessions')).json()
      t.equal(listed.length, 1)
      t.equal(await redis.zscore(prefix + 'user:gina', shortSid), null, 'listing pruned it')

      // A load that slides the session extends the index with it.
      await redis.pexpire(prefix + 'user:gina', 5000)
      await long.get('/me')
      t.ok(await redis.pttl(prefix + 'user:gina') > 59_000, 'the load filed it again')
      // So does a longer setTtl().
      await long.post('/ttl', { ttl: 600 })
      t.ok(await redis.pttl(prefix + 'user:gina') > 599_000, 'setTtl() extends the index')

      // A user who logs in often: each filing drops the entries whose sessions cannot be live any more.
      for (let i = 0; i < 5; i++) await device(`burst ${i}`).post('/login', { user: 'ivan', ttl: 1 })
      t.equal(await redis.zcard(prefix + 'user:ivan'), 5)
      await sleep(3100)
      await device('later').post('/login', { user: 'ivan', ttl: 60 })
      t.equal(await redis.zcard(prefix + 'user:ivan'), 1, 'the expired five are gone from the index without a listing')

      const lone = device('lone')
      await lone.post('/login', { user: 'hank', ttl: 1 })
      t.ok(await redis.pttl(prefix + 'user:hank') <= 3001, 'the index expires within 2 s of its last session')
      for (let i = 0; i < 50 && await redis.exists(prefix + 'user:hank') === 1; i++) await sleep(100)
      t.equal(await redis.exists(prefix + 'user:hank'), 0, 'and then it is gone, by itself')
    })

    if (topology === 'single') {
      t.test('sessions without a user pay nothing extra', async (t) => {
        const client = new Redis((pluginClient as Redis).options)
        t.teardown(() => { client.disconnect() })
        const { prefix, device, redis } = await setup(t, redis0(), client)
        const anon = device('anon')
        await anon.post('/regenerate') // a session without a user
        const counter = countRoundTrips(client)
        await anon.get('/me')
        t.equal(counter.roundTrips, 1, 'a load is one round trip')
        t.same(counter.commands, ['evalsha'], 'one command: the load script')
        t.same(await redis.keys(prefix + 'user:*'), [], 'no index keys')

        const user = device('user')
        await user.post('/login', { user: 'ivy' })
        counter.reset()
        await user.get('/me')
        t.same(counter.commands, ['evalsha', 'evalsha'], 'a user\'s session is filed again when a load slides it: one script more')
        t.equal(await redis.exists(prefix + 'user:ivy'), 1)
      })
    }

    t.test('logins racing listings: every live session stays in its index', async (t) => {
      const { app, device, redis, prefix } = await setup(t, redis0(), pluginClient)
      const state = { stop: false }
      // Another server listing (and pruning) the same user's sessions all the time.
      const lister = (async () => { while (!state.stop) await app.sessionStore.listUserSessions('race') })()
      const devices = Array.from({ length: 60 }, (_, i) => device(`d${i}`))
      for (let i = 0; i < devices.length; i += 10) await Promise.all(devices.slice(i, i + 10).map((d) => d.post('/login', { user: 'race' })))
      const rotated = devices.slice(0, 20)
      await Promise.all(rotated.map((d) => d.post('/regenerate')))
      state.stop = true
      await lister
      const members = new Set(await redis.zrange(prefix + 'user:race', '0', '-1'))
      const missing = devices.filter((d) => !members.has(d.sid as string))
      t.equal(missing.length, 0, `all ${devices.length} live sessions are in the index`)
      t.equal(await app.sessionStore.destroyUserSessions('race'), devices.length, 'so log out everywhere ends them all')
    })

    t.test('user IDs and labels are checked', async (t) => {
      const { app } = await setup(t, redis0(), pluginClient)
      t.equal((await app.inject({ method: 'POST', url: '/login', payload: { user: '' } })).json().code, 'FST_REDIS_SESSION_INVALID_VALUE')
      await t.rejects(app.sessionStore.listUserSessions(42 as unknown as string), { code: 'FST_REDIS_SESSION_INVALID_VALUE' })
      const long = await app.inject({ method: 'POST', url: '/login', payload: { user: 'x' }, headers: { 'user-agent': 'u'.repeat(600) } })
      t.equal(long.json().code, 'FST_REDIS_SESSION_INVALID_VALUE', 'a label over 512 bytes')
      t.same(await app.sessionStore.listUserSessions('nobody'), [])
      t.equal(await app.sessionStore.destroyUserSessions('nobody'), 0)
      t.equal(await app.sessionStore.destroyUserSession('nobody', 'x'), false)
      // { except: request.session.handle } where there is no loaded session (a lazy route) would end it too.
      await t.rejects(app.sessionStore.destroyUserSessions('nobody', { except: undefined }), { code: 'FST_REDIS_SESSION_INVALID_VALUE' })
    })

    function redis0 (): Redis { return redis }
  })
}
