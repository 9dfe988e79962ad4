// A Redis Cluster slot migration during traffic: the slot of a live session moves from one master to
// another (IMPORTING/MIGRATING, MIGRATE of the key, SETSLOT NODE) while a client increments its
// counter every 10 ms. The client follows ASK and then MOVED redirections by itself: every request
// answers 200, the counter equals the 200s, and the key ends on the new master with its TTL.
import t from 'tap'
import Fastify from 'fastify'
import { Cluster, Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import redisSession from '../plugin'
import { Agent, sessionRoutes, uniquePrefix } from './helpers/build'
import { clusterReady, startRedisCluster } from './helpers/redis-cluster'

t.test('a slot migration (ASK, then MOVED) during traffic is absorbed', async (t) => {
  const { nodes, startupNodes } = await startRedisCluster(t)
  const redis = new Cluster(startupNodes)
  const direct = nodes.map((n) => new Redis(n.port, '127.0.0.1'))
  t.teardown(() => { redis.disconnect(); for (const d of direct) d.disconnect() })
  await clusterReady(redis)
  const prefix = uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { redis, prefix })
  sessionRoutes(app)
  await app.ready()
  t.teardown(() => app.close())

  const agent = new Agent(app)
  await agent.post('/create', { data: { username: 'mia' } })
  const key = prefix + (agent.sid as string)
  const slot = await direct[0].cluster('KEYSLOT', key) as number
  const ids = await Promise.all(direct.map((d) => d.cluster('MYID') as Promise<string>))
  // Asked directly, a node that does not own the slot answers MOVED; COUNTKEYSINSLOT answers for itself.
  const holding = async (): Promise<number[]> => await Promise.all(direct.map((d) => d.cluster('COUNTKEYSINSLOT', slot) as Promise<number>))
  const owner = (await holding()).indexOf(1)
  const target = (owner + 1) % 3
  t.ok(owner >= 0, `the key is on master ${owner}, slot ${slot}`)

  // The stream: one increment every 10 ms until told to stop.
  const statuses: number[] = []
  const state = { stop: false }
  const stream = (async () => {
    while (!state.stop) {
      statuses.push((await agent.post('/increment/n')).statusCode)
      await sleep(10)
    }
  })()

  await sleep(200)
  await direct[target].cluster('SETSLOT', slot, 'IMPORTING', ids[owner])
  await direct[owner].cluster('SETSLOT', slot, 'MIGRATING', ids[target])
  await sleep(200) // migrating, the key still at its owner: served there
  await direct[owner].migrate('127.0.0.1', nodes[target].port, '', 0, 5000, 'KEYS', key)
  await sleep(300) // the key moved, the slot not yet: the owner answers ASK
  for (const d of direct) await d.cluster('SETSLOT', slot, 'NODE', ids[target])
  await sleep(300) // the slot moved: the client's first request there gets MOVED
  state.stop = true
  await stream

  const counts = statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {})
  t.comment(`statuses during the migration: ${JSON.stringify(counts)}`)
  t.ok(statuses.length > 10, `a steady stream (${statuses.length} requests)`)
  t.same(Object.keys(counts), ['200'], 'every request answered 200')
  const after = await holding()
  t.equal(after[target], 1, 'the key is on the new master')
  t.equal(after[owner], 0, 'and no longer on the old one')
  t.equal(Number(await direct[target].hget(key, 'n')), statuses.length, 'the counter equals the 200s')
  t.ok(await direct[target].ttl(key) > 1700, 'with its TTL')
  t.same((await agent.get('/session')).json().data, { username: 'mia', n: statuses.length })
})
