// Redis Cluster: every command and script touches one key, so the plugin runs unchanged on a cluster,
// including the steps that touch two sessions in different slots (create over a live session, regenerate).
import t from 'tap'
import Fastify from 'fastify'
import { Cluster } from 'ioredis'
import redisSession from '../plugin'
import { Agent, assertRetired, sessionRoutes, uniquePrefix } from './helpers/build'
import { clusterReady, startRedisCluster } from './helpers/redis-cluster'

t.test('the session lifecycle on a three-node Redis Cluster', async (t) => {
  const { startupNodes } = await startRedisCluster(t)
  const redis = new Cluster(startupNodes)
  t.teardown(() => { redis.disconnect() })
  await clusterReady(redis)

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
