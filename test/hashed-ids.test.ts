// hashIds: Redis holds only the SHA-256 of each session ID (in the key and in the per-user index), so a
// key listing, MONITOR, SLOWLOG or a dump yields no usable cookie, while the plugin, the store API, the
// user index, events and the CLI (--hash-ids) keep working. A private redis-server logs every command
// to SLOWLOG, and a MONITOR client records every command of the run.
import { createHash } from 'node:crypto'
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../plugin'
import { Agent, sessionRoutes, uniquePrefix } from './helpers/build'
import { cli } from './helpers/cli'
import { startRedisServer } from './helpers/redis-server'

const sha256 = (id: string): string => createHash('sha256').update(id).digest('hex')

t.test('no raw session ID anywhere in Redis, and everything still works', async (t) => {
  const server = await startRedisServer(t, ['--slowlog-log-slower-than', '0', '--slowlog-max-len', '100000'])
  const redis = new Redis(server.url)
  const admin = new Redis(server.url)
  const monitorClient = new Redis(server.url)
  t.teardown(() => { redis.disconnect(); admin.disconnect(); monitorClient.disconnect() })
  const seen: string[] = []
  const monitor = await monitorClient.monitor()
  monitor.on('monitor', (_time: string, args: string[]) => { seen.push(args.join(' ')) })
  t.teardown(() => { monitor.disconnect() })

  const prefix = uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { redis, prefix, hashIds: true })
  sessionRoutes(app)
  app.post('/login', async (request) => {
    await request.session.create({ greeting: 'hi' }, { user: 'ann', label: 'laptop' })
    return { handle: request.session.handle }
  })
  await app.ready()
  t.teardown(() => app.close())
  const destroyed: string[] = []
  app.sessionStore.on('destroyed', (e) => { destroyed.push(e.handle) })

  const ids: string[] = []
  const a = new Agent(app)
  const b = new Agent(app)
  await a.post('/login')
  ids.push(a.sid as string)
  const handleA = (await a.post('/login')).json().handle // a login over a live session
  ids.push(a.sid as string)
  await a.post('/increment/n')
  await a.post('/set', { color: 'red' })
  await a.post('/regenerate')
  ids.push(a.sid as string)
  await b.post('/login')
  ids.push(b.sid as string)
  t.not(handleA, undefined)

  // What Redis holds: keys are the prefix and a SHA-256; the index lists hashes.
  const key = prefix + sha256(a.sid as string)
  t.same(await admin.hmget(key, 'greeting', 'n', 'color', 'session_user'), ['hi', '1', 'red', 'ann'], 'the session under the hash of its ID')
  const members = await admin.zrange(prefix + 'user:ann', '0', '-1')
  t.ok(members.includes(sha256(a.sid as string)) && members.includes(sha256(b.sid as string)), 'the index lists the hashes')
  t.ok(members.every((m) => /^[0-9a-f]{64}$/.test(m)), 'and only hashes (the retired IDs\' entries too, until pruned)')

  // The store API takes IDs as before.
  t.equal((await app.sessionStore.getSession(a.sid as string, { refreshTtl: false }))?.color, 'red')
  t.equal(await app.sessionStore.incrementField(a.sid as string, 'n'), 2)
  const listed = await app.sessionStore.listUserSessions('ann')
  t.same(listed.map((s) => s.handle).sort(), [app.sessionStore.handle(a.sid as string), app.sessionStore.handle(b.sid as string)].sort())

  // The CLI, told --hash-ids, lists the hashes and finds a session by its handle.
  const base = ['--url', server.url, '--prefix', prefix, '--hash-ids']
  const list = await cli(['list', '--json', '--show-ids', ...base])
  t.equal(list.code, 0, list.stderr)
  t.same(JSON.parse(list.stdout).sessions.map((s: { id: string }) => s.id).sort(), [sha256(a.sid as string), sha256(b.sid as string)].sort())
  const show = await cli(['show', app.sessionStore.handle(b.sid as string), '--show-ids', ...base])
  t.match(show.stdout, new RegExp(`^key +${prefix}${sha256(b.sid as string)}$`, 'm'))
  t.equal((await cli(['show', b.sid as string, ...base])).code, 2, 'an ID is not what the keys hold')

  t.equal(await app.sessionStore.destroyUserSessions('ann', { except: app.sessionStore.handle(a.sid as string) }), 1)
  t.same((await b.get('/session')).json().id, null, 'log out everywhere else still works')
  await a.post('/destroy')
  t.equal(destroyed.length, 3, 'events still name sessions by handle')

  // Nothing anywhere holds an ID: key names, every value, every command Redis saw, the slow log.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const everything: string[] = []
  for (const k of await admin.keys('*')) {
    everything.push(k)
    const type = await admin.type(k)
    if (type === 'hash') everything.push(...Object.entries(await admin.hgetall(k)).flat())
    if (type === 'zset') everything.push(...await admin.zrange(k, '0', '-1'))
  }
  const slowlog = JSON.stringify(await admin.slowlog('GET', -1))
  t.ok(seen.length > 20, `MONITOR saw ${seen.length} commands`)
  t.ok(slowlog.length > 1000, 'SLOWLOG logged them')
  for (const id of ids) {
    t.notOk(everything.some((s) => s.includes(id)), 'no ID in any key or value')
    t.same(seen.filter((s) => s.includes(id)).map((s) => s.slice(0, 300)), [], 'no ID in MONITOR')
    t.notOk(slowlog.includes(id), 'no ID in SLOWLOG')
  }
})
