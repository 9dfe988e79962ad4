// A private redis-server for tests: started on a free loopback port, stopped by its PID.
// Set REDIS_URL to run the suite against a server of your own instead (each test then uses its own prefix).
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

const BINARY = process.env.REDIS_SERVER ?? 'redis-server'

export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export class RedisServer {
  readonly port: number
  readonly url: string
  #child: ChildProcess | undefined
  readonly #extraArgs: string[]
  readonly #configFile: string | undefined

  /** `configFile` comes first on the command line, as redis-server wants it (a sentinel needs one). */
  constructor (port: number, extraArgs: string[] = [], configFile?: string) {
    this.port = port
    this.url = `redis://127.0.0.1:${port}`
    this.#extraArgs = extraArgs
    this.#configFile = configFile
  }

  get pid (): number | undefined { return this.#child?.pid }

  /** Start (or restart) the server on the same port and wait until it answers PING. */
  async start (): Promise<void> {
    const child = spawn(BINARY, [
      ...(this.#configFile === undefined ? [] : [this.#configFile]),
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--loglevel', 'warning', ...this.#extraArgs
    ], { stdio: 'ignore' })
    this.#child = child
    // Do not hold the test process open; and never outlive it.
    child.unref()
    const pid = child.pid
    const reap = (): void => { try { if (pid !== undefined && child.exitCode === null) process.kill(pid, 'SIGKILL') } catch {} }
    process.once('exit', reap)
    child.once('exit', () => process.removeListener('exit', reap))
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const failed = await Promise.race([spawnError, sleep(50).then(() => undefined)])
      if (failed !== undefined) {
        throw new Error(`Could not start ${BINARY} (${failed.message}). Install Redis (Debian: apt-get install redis-server) or set REDIS_URL to a Redis you run.`)
      }
      if (child.exitCode !== null) throw new Error(`${BINARY} exited with code ${child.exitCode} on port ${this.port}`)
      const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => {})
      try {
        await probe.connect()
        await probe.ping()
        return
      } catch {
        // not up yet
      } finally {
        probe.disconnect()
      }
    }
    throw new Error(`${BINARY} did not answer on port ${this.port} within 10 s`)
  }

  /** Stop the server we started, by its PID, and wait for it to exit. */
  async stop (): Promise<void> {
    const child = this.#child
    this.#child = undefined
    if (child === undefined || child.exitCode !== null || child.pid === undefined) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.ref() // keep the process alive until the exit is reported
    try {
      process.kill(child.pid, 'SIGKILL')
    } catch (err) {
      // Already gone (exit not yet reported): nothing to stop.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
      return
    }
    await exited
  }
}

/** A private server on a free port; the test stops it in teardown. */
export async function startRedisServer (t: { teardown: (fn: () => Promise<void>) => void }, extraArgs: string[] = []): Promise<RedisServer> {
  const server = new RedisServer(await freePort(), extraArgs)
  await server.start()
  t.teardown(() => server.stop())
  return server
}

let shared: Promise<string> | undefined

/** REDIS_URL when set, otherwise one private server for this test file (tap runs each file in its own process). */
export function redisUrl (): Promise<string> {
  if (process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== '') return Promise.resolve(process.env.REDIS_URL)
  if (shared === undefined) {
    shared = (async () => {
      const server = new RedisServer(await freePort())
      await server.start()
      return server.url
    })()
  }
  return shared
}
