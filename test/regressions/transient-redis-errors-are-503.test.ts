// Used to go wrong: Redis states that pass (out of memory under noeviction, a read-only replica
// after a failover, a busy script) were answered 500 as if the app misused Redis, and the body
// carried Redis's raw message, script SHA and line number included. Now they are the retryable 503
// FST_REDIS_SESSION_UNAVAILABLE in our own words; a real misuse (WRONGTYPE) is still a 500.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession, { RedisSessionStore } from '../../plugin'
import { Agent, sessionRoutes, uniquePrefix } from '../helpers/build'
import { startRedisServer, type RedisServer } from '../helpers/redis-server'

async function setup (t: Test, server: RedisServer, prefix = uniquePrefix()) {
  const redis = new Redis(server.url)
  const admin = new Redis(server.url)
  t.teardown(() => { redis.disconnect(); admin.disconnect() })
  const app = Fastify()
  await app.register(redisSession, { redis, prefix, timeout: 2000 })
  sessionRoutes(app)
  t.teardown(() => app.close())
  return { app, admin, prefix, agent: new Agent(app) }
}

/** Nothing of Redis's own message reaches the client. */
function assertOwnWords (t: Test, body: string): void {
  t.notMatch(body, /script/i, 'no "script" in the body')
  t.notMatch(body, /[0-9a-f]{40}/, 'no script SHA')
  t.notMatch(body, /:\d+:/, 'no line number')
  t.notMatch(body, /command not allowed|can't write|busy running|maxmemory|wrong kind of value/i, 'no Redis message text')
}

function assert503 (t: Test, res: { statusCode: number, body: string, json: () => { code: string } }): void {
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  assertOwnWords(t, res.body)
}

t.test('OOM under noeviction is a 503', async (t) => {
  const server = await startRedisServer(t)
  const { app, admin, prefix, agent } = await setup(t, server)
  await agent.post('/create', { data: { username: 'ann' } })
  const key = prefix + (agent.sid as string)
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.config('SET', 'maxmemory', '1')
  const write = await agent.post('/set/theme', { value: 'dark' })
  const login = await app.inject({ method: 'POST', url: '/create', payload: { data: { username: 'bob' } } })
  const keys = await admin.keys(prefix + '*')
  const theme = await admin.hget(key, 'theme')
  await admin.config('SET', 'maxmemory', '0')
  t.test('a change to a live session', async (t) => assert503(t, write))
  t.test('a new session', async (t) => assert503(t, login))
  t.equal(theme, null, 'Redis holds no part of the change')
  t.same(keys, [key], 'and no new session')
})

t.test('READONLY on a replica is a 503', async (t) => {
  // No 5 s wait before the first sync.
  const master = await startRedisServer(t, ['--repl-diskless-sync-delay', '0'])
  // A replica writes the RDB it syncs into its directory: one of its own, not the working tree.
  const replicaDir = await mkdtemp(join(tmpdir(), 'replica-'))
  t.teardown(() => rm(replicaDir, { recursive: true, force: true }))
  const replica = await startRedisServer(t, ['--dir', replicaDir])
  const prefix = uniquePrefix()
  const onMaster = new Redis(master.url)
  t.teardown(() => { onMaster.disconnect() })
  const id = await new RedisSessionStore({ redis: onMaster, prefix }).createSession({ username: 'ann' })
  const { admin, agent } = await setup(t, replica, prefix)
  await admin.call('REPLICAOF', '127.0.0.1', String(master.port))
  const until = Date.now() + 10_000
  while (await admin.exists(prefix + id) === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await admin.exists(prefix + id), 1, 'the replica holds the session')
  agent.sid = id
  const write = await agent.post('/set/theme', { value: 'dark' })
  assert503(t, write)
  t.equal(await onMaster.hget(prefix + id, 'theme'), null, 'nothing was written')
})

t.test('BUSY (a long script) is a 503', async (t) => {
  const server = await startRedisServer(t, ['--busy-reply-threshold', '50'])
  const { admin, agent } = await setup(t, server)
  await agent.post('/create', { data: { username: 'ann' } })
  const busy = new Redis(server.url)
  busy.on('error', () => {})
  t.teardown(() => { busy.disconnect() })
  // Spins for up to 5 s (killed below), without writing, so SCRIPT KILL can stop it.
  const spinning = busy.eval("local s = redis.call('TIME')[1] while redis.call('TIME')[1] - s < 5 do end return 1", 0).catch(() => {})
  await new Promise((resolve) => setTimeout(resolve, 200))
  const res = await agent.get('/session')
  await admin.call('SCRIPT', 'KILL').catch(() => {})
  await spinning
  assert503(t, res)
  t.equal((await agent.get('/session')).statusCode, 200, 'fine again when the script is gone')
})

t.test('WRONGTYPE (a key of another type under the prefix) is still a 500', async (t) => {
  const server = await startRedisServer(t)
  const { admin, prefix, agent } = await setup(t, server)
  await agent.post('/create', { data: { username: 'ann' } })
  const key = prefix + (agent.sid as string)
  await admin.del(key)
  await admin.set(key, 'not a hash')
  const res = await agent.get('/session')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_REDIS_SESSION_REDIS_ERROR')
  assertOwnWords(t, res.body)
  t.equal(await admin.get(key), 'not a hash', 'the foreign key is left as it was')
})
