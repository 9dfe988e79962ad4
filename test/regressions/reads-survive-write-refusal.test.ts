// Used to go wrong: when Redis refused writes (maxmemory reached under noeviction, the policy the
// README recommends, or a replica after a failover), the load script's sliding write failed and so
// did every request of a logged-in user, reads included. Now a read-only request still gets its
// session, without sliding it, and the plugin logs one warning per interval, not one per request.
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
  const logs: Array<{ level: number, kind?: string }> = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { logs.push(JSON.parse(line)) } } } })
  await app.register(redisSession, { redis, prefix })
  sessionRoutes(app)
  t.teardown(() => app.close())
  return { app, admin, prefix, logs, agent: new Agent(app) }
}

/** Three reads of the session: each gets it, none slides it, one warning in all. */
async function readThrice (t: Test, agent: Agent, admin: Redis, key: string, logs: Array<{ level: number, kind?: string }>, kind: string): Promise<void> {
  const before = await admin.hget(key, 'last_accessed_at')
  for (let i = 0; i < 3; i++) {
    const res = await agent.get('/session')
    t.equal(res.statusCode, 200, `read ${i + 1}: 200`)
    t.same(res.json().data, { username: 'ann' }, `read ${i + 1}: the session's data`)
  }
  t.equal(await admin.hget(key, 'last_accessed_at'), before, 'last_accessed_at did not move')
  const pttl = await admin.pttl(key)
  t.ok(pttl > 0 && pttl <= 100_000, `the expiry did not slide (PTTL ${pttl} ms, set to 100000 before)`)
  t.equal(logs.filter((l) => l.level === 40 && l.kind === kind).length, 1, `one ${kind} warning for three requests`)
}

t.test('out of memory under noeviction: reads get their session', async (t) => {
  const server = await startRedisServer(t)
  const { admin, prefix, logs, agent } = await setup(t, server)
  await agent.post('/create', { data: { username: 'ann' } })
  const key = prefix + (agent.sid as string)
  await admin.pexpire(key, 100_000) // sliding would put it back to the session's TTL
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.config('SET', 'maxmemory', '1')
  t.teardown(() => admin.config('SET', 'maxmemory', '0').then(() => {}))
  await readThrice(t, agent, admin, key, logs, 'OOM')
})

t.test('a read-only replica: reads get their session', async (t) => {
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
  await onMaster.pexpire(prefix + id, 100_000)
  const { admin, logs, agent } = await setup(t, replica, prefix)
  await admin.call('REPLICAOF', '127.0.0.1', String(master.port))
  const until = Date.now() + 10_000
  while (await admin.exists(prefix + id) === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await admin.exists(prefix + id), 1, 'the replica holds the session')
  agent.sid = id
  await readThrice(t, agent, admin, prefix + id, logs, 'READONLY')
})
