// The CLI's Redis client, from --url / REDIS_URL, --cluster or --sentinel: it fails fast (no retry
// loop, no offline queue), so an unreachable Redis is one line and an exit code, not a hang.
import { Cluster, Redis } from 'ioredis'
import { CliError, EXIT } from './errors'

export interface Target {
  url?: string
  cluster?: string
  sentinel?: string
  sentinelName: string
  timeout: number
  /** AUTH for --cluster and --sentinel nodes (a --url carries its own), and TLS. */
  username?: string
  password?: string
  tls: boolean
}

function hostPorts (flag: string, list: string): Array<{ host: string, port: number }> {
  return list.split(',').map((item) => {
    const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(item.trim())
    if (match === null) throw new CliError(EXIT.USAGE, `${flag} expects host:port[,host:port...], got "${item}"`)
    return { host: match[1], port: Number(match[2]) }
  })
}

/** A connected client, or a CliError saying where it could not connect and why. */
export async function connect (target: Target): Promise<{ redis: Redis | Cluster, where: string }> {
  const auth = {
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.tls ? { tls: {} } : {})
  }
  const common = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: target.timeout, ...auth }
  let redis: Redis | Cluster
  let where: string
  if (target.cluster !== undefined) {
    const nodes = hostPorts('--cluster', target.cluster)
    where = `the Cluster at ${target.cluster}`
    redis = new Cluster(nodes, { lazyConnect: true, enableOfflineQueue: false, clusterRetryStrategy: () => null, redisOptions: { connectTimeout: target.timeout, maxRetriesPerRequest: 0, ...auth } })
  } else if (target.sentinel !== undefined) {
    const sentinels = hostPorts('--sentinel', target.sentinel)
    where = `the master "${target.sentinelName}" of the Sentinels at ${target.sentinel}`
    redis = new Redis({
      ...common,
      sentinels,
      name: target.sentinelName,
      sentinelRetryStrategy: () => null,
      retryStrategy: () => null,
      // The sentinels take the same credentials as the master unless told otherwise (ioredis's default is none).
      ...(target.password === undefined ? {} : { sentinelPassword: target.password }),
      ...(target.username === undefined ? {} : { sentinelUsername: target.username }),
      ...(target.tls ? { enableTLSForSentinelMode: true } : {})
    })
  } else {
    const url = target.url ?? 'redis://127.0.0.1:6379'
    if (!/^rediss?:\/\//.test(url)) throw new CliError(EXIT.USAGE, `--url expects a redis:// or rediss:// URL, got "${redact(url)}"`)
    where = redact(url)
    redis = new Redis(url, { ...common, retryStrategy: () => null })
  }
  let last: Error | undefined
  redis.on('error', (err: Error) => { last = err })
  try {
    await redis.connect()
  } catch (err) {
    redis.disconnect()
    const reason = (last ?? err as Error).message.replace(/[.\s]+$/, '').replace(/^(NOAUTH|WRONGPASS) .*/, '$1')
    const hint = /^(NOAUTH|WRONGPASS)/.test(reason)
      ? 'Redis wants a password: put it in $REDISCLI_AUTH (or the --url), with --redis-user for an ACL user'
      : 'check --url, --cluster or --sentinel'
    throw new CliError(EXIT.UNREACHABLE, `cannot reach Redis at ${where} (${reason}); ${hint}`)
  }
  return { redis, where }
}

function redact (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString().replace(/\/$/, '')
  } catch {
    return 'the given URL'
  }
}
