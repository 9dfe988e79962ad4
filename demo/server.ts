// The demo as a process: flags and environment, a Redis connection checked before listening,
// listen(), and a graceful shutdown on SIGTERM/SIGINT.
//
//   node dist/demo/server.js [--port 8080] [--host localhost] [--redis-host localhost] [--redis-port 6379]
//
// Environment: PORT, HOST, REDIS_URL (redis://[:password@]host:port[/db]), LOG_LEVEL, SESSION_SECRET, REDIS_CLI.
// Flags win over the environment.
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { buildApp } from './app'

export const USAGE = `Usage: npm run demo -- [options]   (or: node dist/demo/server.js [options])

Options:
  --port <n>          HTTP port (env PORT, default 8080)
  --host <addr>       address to listen on (env HOST, default localhost)
  --redis-host <h>    Redis host (overrides the host in REDIS_URL; default localhost)
  --redis-port <n>    Redis port (overrides the port in REDIS_URL; default 6379)
  -h, --help          show this help

Environment: REDIS_URL (e.g. redis://localhost:6379), PORT, HOST, LOG_LEVEL (default info),
SESSION_SECRET (signs the cookie; comma-separated to rotate, the first signs; unset: a public
development secret, with a warning), REDIS_CLI (the redis-cli command the page shows).`

export interface ServerConfig {
  port: number
  host: string
  /** The URL to connect to, password included if REDIS_URL had one. */
  redisUrl: string
  /** host:port, for messages (never the password). */
  redisAddress: string
  /** How the page should tell you to run redis-cli against this Redis. */
  redisCli: string
  help: boolean
}

/** A wrong flag or environment value: print it with the usage and exit 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

function port (value: string, where: string, allowZero: boolean): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw new UsageError(`${where} must be a port number from ${allowZero ? 0 : 1} to 65535, got "${value}"`)
  }
  return n
}

/** Read flags and environment; flags win. Throws UsageError with a sentence saying what to fix. */
export function parseConfig (argv: string[], env: NodeJS.ProcessEnv): ServerConfig {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'redis-host': { type: 'string' },
        'redis-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }

  const httpPort = values.port !== undefined
    ? port(values.port, '--port', true)
    : env.PORT !== undefined && env.PORT !== '' ? port(env.PORT, 'PORT', true) : 8080
  const host = values.host ?? (env.HOST !== undefined && env.HOST !== '' ? env.HOST : 'localhost')

  const base = env.REDIS_URL !== undefined && env.REDIS_URL !== '' ? env.REDIS_URL : 'redis://localhost:6379'
  let url: URL
  try {
    url = new URL(base)
  } catch {
    throw new UsageError(`REDIS_URL must be a URL such as redis://localhost:6379, got "${base}"`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(`REDIS_URL must start with redis:// or rediss://, got "${url.protocol}//"`)
  }
  const redisHost = values['redis-host']
  if (redisHost !== undefined) {
    if (redisHost === '' || /[\s/@?#]/.test(redisHost)) throw new UsageError(`--redis-host must be a host name or address, got "${redisHost}"`)
    url.hostname = redisHost.includes(':') && !redisHost.startsWith('[') ? `[${redisHost}]` : redisHost
  }
  if (values['redis-port'] !== undefined) url.port = String(port(values['redis-port'], '--redis-port', false))
  if (url.hostname === '') url.hostname = 'localhost'
  const redisPort = url.port === '' ? 6379 : Number(url.port)
  const redisAddress = `${url.hostname}:${redisPort}`

  const cliArgs = [
    ...(url.hostname === 'localhost' || url.hostname === '127.0.0.1' ? [] : ['-h', url.hostname.replace(/^\[|\]$/g, '')]),
    ...(redisPort === 6379 ? [] : ['-p', String(redisPort)])
  ]
  const redisCli = env.REDIS_CLI !== undefined && env.REDIS_CLI !== '' ? env.REDIS_CLI : ['redis-cli', ...cliArgs].join(' ')

  return { port: httpPort, host, redisUrl: url.toString(), redisAddress, redisCli, help: values.help === true }
}

/** DEVELOPMENT ONLY: public, so it signs nothing an attacker could not sign too. Set SESSION_SECRET. */
export const DEVELOPMENT_SECRET = 'development-only-secret-do-not-use-in-production'
/** A demo session ends 8 hours after login, however active (the plugin's absoluteTtl). */
export const ABSOLUTE_TTL = 8 * 3600

/** The one line printed when Redis cannot be reached at start. */
export function unreachableMessage (address: string, reason: string): string {
  return `Cannot reach Redis at ${address} (${reason}). Start one with \`redis-server\` (or \`docker compose up -d redis\`), or point the demo at yours with --redis-host/--redis-port or REDIS_URL.`
}

/**
 * The demo's Redis client. At start a failure is final (no retries: the caller says so and exits);
 * once connected it reconnects on its own, and while Redis is away every command fails at once
 * (no offline queue), so pages answer 503 quickly and work again as soon as Redis is back.
 */
export async function connectRedis (url: string): Promise<Redis> {
  let connected = false
  let lastError = ''
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => connected ? Math.min(times * 200, 2000) : null
  })
  // Always listen: an 'error' event without a listener is printed by ioredis as unhandled.
  redis.on('error', (err: Error) => { lastError = err.message })
  try {
    await redis.connect()
  } catch (err) {
    redis.disconnect()
    throw new Error(lastError !== '' ? lastError : (err as Error).message)
  }
  connected = true
  return redis
}

export async function main (argv = process.argv.slice(2), env = process.env): Promise<void> {
  let config: ServerConfig
  try {
    config = parseConfig(argv, env)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`error: ${err.message}\n\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  if (config.help) {
    process.stdout.write(USAGE + '\n')
    return
  }

  let redis: Redis
  try {
    redis = await connectRedis(config.redisUrl)
  } catch (err) {
    process.stderr.write(unreachableMessage(config.redisAddress, (err as Error).message) + '\n')
    process.exitCode = 1
    return
  }

  // The cookie is signed: with SESSION_SECRET (comma-separated to rotate: the first signs), or with a
  // development secret that everyone can read in this file, which is fine on your laptop only.
  const secrets = (env.SESSION_SECRET ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  const app = buildApp({
    redis,
    logger: { level: env.LOG_LEVEL ?? 'info' },
    redisCli: config.redisCli,
    secret: secrets.length > 0 ? secrets : DEVELOPMENT_SECRET,
    absoluteTtl: ABSOLUTE_TTL
  })
  if (secrets.length === 0) app.log.warn('SESSION_SECRET is not set: signing session cookies with the public development secret; set SESSION_SECRET (at least 32 random characters) anywhere but your own machine')
  let down = false
  redis.on('reconnecting', () => {
    if (!down) app.log.warn({ redis: config.redisAddress }, 'lost the connection to Redis, reconnecting; pages answer 503 until it is back')
    down = true
  })
  redis.on('ready', () => {
    if (down) app.log.info({ redis: config.redisAddress }, 'connected to Redis again')
    down = false
  })

  // While shutting down, answer the requests in flight with `Connection: close`: a keep-alive
  // connection would otherwise stay open after its last response and hold up close().
  let closing = false
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })

  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    process.stderr.write(`Cannot listen on ${config.host}:${config.port} (${(err as Error).message}). Pick another port with --port or PORT.\n`)
    await app.close().catch(() => {})
    redis.disconnect()
    process.exitCode = 1
    return
  }
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host
  const { port } = app.server.address() as { port: number }
  app.log.info({ redis: config.redisAddress }, `demo ready: open http://${shown}:${port}`)

  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    closing = true
    app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight')
    const force = setTimeout(() => {
      app.log.error('requests still in flight after 10 s; exiting anyway')
      process.exit(1)
    }, 10_000)
    force.unref()
    // close() stops accepting, waits for the requests in flight, then runs onClose hooks.
    app.close()
      .then(async () => {
        await redis.quit().catch(() => { redis.disconnect() })
        clearTimeout(force)
        app.log.info('closed the HTTP server and the Redis connection')
      })
      .catch((err: unknown) => {
        app.log.error({ err }, 'shutdown failed')
        process.exitCode = 1
        redis.disconnect()
      })
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`demo failed to start: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  })
}
