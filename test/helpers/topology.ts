// One way to start each Redis topology the plugin supports, for suites that run the same tests on
// all of them: a single server, a three-master Cluster, and a Sentinel set (master, replica, sentinel).
import { Cluster, Redis } from 'ioredis'
import { clusterReady, startRedisCluster } from './redis-cluster'
import { startRedisSentinel, type RedisSentinel } from './redis-sentinel'
import { startRedisServer } from './redis-server'

interface Tap { teardown: (fn: () => Promise<void> | void) => void }

export const TOPOLOGIES = ['single', 'cluster', 'sentinel'] as const
export type TopologyKind = typeof TOPOLOGIES[number]

export interface Topology {
  kind: TopologyKind
  /** A client for the plugin, made as an application would for this topology. */
  redis: Redis | Cluster
  /** The test's own client, for asserting what Redis holds (a Cluster client, typed as a Redis one for its commands). */
  admin: Redis
  /** A client per master: one, or the cluster's three. */
  masters: () => Redis[]
  sentinel?: RedisSentinel
}

/** Start a topology; its servers and clients are stopped in the test's teardown. */
export async function startTopology (t: Tap, kind: TopologyKind): Promise<Topology> {
  const clients: Array<Redis | Cluster> = []
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const keep = <C extends Redis | Cluster>(c: C): C => { clients.push(c); return c }
  if (kind === 'single') {
    const server = await startRedisServer(t)
    const admin = keep(new Redis(server.url))
    return { kind, redis: keep(new Redis(server.url)), admin, masters: () => [admin] }
  }
  if (kind === 'cluster') {
    const { startupNodes } = await startRedisCluster(t)
    const admin = keep(new Cluster(startupNodes))
    const redis = keep(new Cluster(startupNodes))
    await clusterReady(admin)
    await clusterReady(redis)
    return { kind, redis, admin: admin as unknown as Redis, masters: () => admin.nodes('master') }
  }
  const sentinel = await startRedisSentinel(t)
  const options = { sentinels: sentinel.sentinels, name: sentinel.name }
  const admin = keep(new Redis(options))
  const redis = keep(new Redis({ ...options, enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false }))
  await admin.ping()
  return { kind, redis, admin, masters: () => [admin], sentinel }
}
