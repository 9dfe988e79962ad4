// A private Redis Sentinel set for tests, from the redis-server binary alone: a master, one replica
// and one sentinel on free loopback ports, stopped by PID in teardown. `killMaster()` and
// `waitForPromotion()` drive a failover.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { RedisServer, freePort } from './redis-server'

interface Tap { teardown: (fn: () => Promise<void> | void) => void }

export const MASTER_NAME = 'sessions'

export interface RedisSentinel {
  name: string
  master: RedisServer
  replica: RedisServer
  sentinel: RedisServer
  /** What `new Redis({ sentinels, name })` takes. */
  sentinels: Array<{ host: string, port: number }>
  /** Kill the current master by its PID (the replica is then promoted). */
  killMaster: () => Promise<void>
  /** Wait until the sentinel names the replica as master; resolves to its port. */
  waitForPromotion: (timeoutMs?: number) => Promise<number>
}

async function ask (port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.call(args[0], ...args.slice(1))
  } finally {
    client.disconnect()
  }
}

async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    await sleep(100)
  }
  throw new Error(`the test Sentinel set: ${what} did not happen within ${timeoutMs} ms`)
}

/** Start master, replica and sentinel; the test stops them in teardown. */
export async function startRedisSentinel (t: Tap): Promise<RedisSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-sentinel-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const master = new RedisServer(await freePort(), ['--dir', dir, '--dbfilename', 'master.rdb'])
  await master.start()
  t.teardown(() => master.stop())
  const replica = new RedisServer(await freePort(), ['--dir', dir, '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(master.port)])
  await replica.start()
  t.teardown(() => replica.stop())
  await until('replication', 10_000, async () => {
    const info = String(await ask(replica.port, 'INFO', 'replication'))
    return info.includes('master_link_status:up') ? true : undefined
  })

  const port = await freePort()
  const config = join(dir, 'sentinel.conf')
  // The sentinel rewrites its config file as it learns: it must be its own, writable one.
  writeFileSync(config, [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 1`,
    `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
    `sentinel failover-timeout ${MASTER_NAME} 5000`,
    `sentinel parallel-syncs ${MASTER_NAME} 1`
  ].join('\n') + '\n')
  const sentinel = new RedisServer(port, ['--sentinel'], config)
  await sentinel.start()
  t.teardown(() => sentinel.stop())
  // Ready when the sentinel has had an INFO reply from the replica lately, showing its link to the
  // master up: before that a failover picks no replica (-failover-abort-no-good-slave).
  await until('the sentinel seeing the replica in sync', 15_000, async () => {
    const replicas = await ask(port, 'SENTINEL', 'REPLICAS', MASTER_NAME) as string[][]
    return replicas.some((fields) => {
      const field = (name: string): string | undefined => fields[fields.indexOf(name) + 1]
      return Number(field('port')) === replica.port && field('flags') === 'slave' &&
        field('master-link-status') === 'ok' && Number(field('info-refresh')) < 2000
    })
      ? true
      : undefined
  })

  let current = master
  return {
    name: MASTER_NAME,
    master,
    replica,
    sentinel,
    sentinels: [{ host: '127.0.0.1', port }],
    killMaster: async () => { await current.stop() },
    waitForPromotion: async (timeoutMs = 20_000) => {
      const promoted = await until('the promotion of the replica', timeoutMs, async () => {
        const [, masterPort] = await ask(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME) as [string, string]
        const role = String(await ask(Number(masterPort), 'ROLE'))
        return Number(masterPort) === replica.port && role.startsWith('master') ? Number(masterPort) : undefined
      })
      current = replica
      return promoted
    }
  }
}
