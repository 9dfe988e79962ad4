// A private three-master Redis Cluster for tests: three redis-servers on free loopback ports (their
// cluster-bus ports free too), joined with `redis-cli --cluster create`, stopped by PID in teardown.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { RedisServer, freePort } from './redis-server'

const run = promisify(execFile)

interface Tap { teardown: (fn: () => Promise<void> | void) => void }

/** The part of an ioredis Cluster (5 or 6) that waiting for the cluster needs. */
interface ClusterLike { cluster: (subcommand: 'INFO') => Promise<unknown> }

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

export interface RedisCluster {
  nodes: RedisServer[]
  /** The startup nodes to give `new Cluster(...)`. */
  startupNodes: Array<{ host: string, port: number }>
}

/** Start three masters sharing the slots; the test stops them in teardown. */
export async function startRedisCluster (t: Tap): Promise<RedisCluster> {
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
  return { nodes, startupNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) }
}

/** Wait until a client sees every slot served (cluster_state:ok). */
export async function clusterReady (redis: ClusterLike): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const info = await redis.cluster('INFO').catch(() => '') as string
    if (info.includes('cluster_state:ok')) return
    await sleep(200)
  }
  throw new Error('the test cluster did not reach cluster_state:ok within 10 s')
}
