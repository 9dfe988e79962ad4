// Redis Cluster: every command and script touches one key, so the plugin runs unchanged on a cluster,
// including the steps that touch two sessions in different slots (create over a live session, regenerate).
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import Fastify from 'fastify'
import { Cluster } from 'ioredis'
import redisSession from '../plugin'
import { Agent, assertRetired, sessionRoutes, uniquePrefix } from './helpers/build'
import { RedisServer, freePort } from './helpers/redis-server'

const run = promisify(execFile)

function portIsFree (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A free port whose cluster-bus port (+10000) is free too. */
async function clusterPort (): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port < 55000 && await portIsFree(port + 10000)) return port
  }
}

t.test('the session lifecycle on a three-node Redis Cluster', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const nodes: RedisServer[] = []
  for (let i = 0; i < 3; i++) {
    const port = await clusterPort()
    const node = new RedisServer(port, ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)])
    await node.start()
    t.teardown(() => node.stop())
    nodes.push(node)
  }
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 })

  const redis = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })))
  t.teardown(() => { redis.disconnect() })
  // Wait until every slot is served.
  for (let i = 0; i < 50; i++) {
    const info = await redis.cluster('INFO').catch(() => '') as string
    if (info.includes('cluster_state:ok')) break
    await new Promise((resolve) => setTimeout(resolve, 200))
  }

  const prefix = uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { redis, prefix })
  sessionRoutes(app)
  t.teardown(() => app.close())
  const agent = new Agent(app)

  const first = (await agent.post('/create', { data: { username: 'ann', n: 0 }, ttl: 120 })).json().id
  t.equal(await redis.hget(prefix + first, 'username'), 'ann')
  t.equal((await agent.post('/increment/n')).json().value, 1)
  t.equal((await agent.post('/set', { color: 'red' })).statusCode, 200)
  t.equal(await redis.hget(prefix + first, 'color'), 'red')

  // Many sessions spread over the slots of all three nodes, each rotated: old and new keys differ in slot.
  for (let i = 0; i < 10; i++) {
    const id = (await agent.post('/create', { data: { i } })).json().id
    t.equal(await redis.exists(prefix + id), 1)
  }
  const before = agent.sid!
  const rotated = (await agent.post('/regenerate')).json().id
  await assertRetired(t, redis, prefix + before)
  t.equal(await redis.hget(prefix + rotated, 'session_ttl'), '1800')
  t.equal((await agent.get('/session')).json().id, rotated)
  await agent.post('/ttl', { ttl: 30 })
  t.ok(await redis.ttl(prefix + rotated) <= 30)
  await agent.post('/destroy')
  t.equal(await redis.exists(prefix + rotated), 0)
  await assertRetired(t, redis, prefix + first)
})
