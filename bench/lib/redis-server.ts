// A private redis-server for the benchmark: a free loopback port, no persistence, stopped by its PID.
// (The same idea as test/helpers/redis-server.ts, kept here so the bench builds on its own.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

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

/**
 * CPUs to pin the runner, Redis and the server under test to, so the scheduler does not move them
 * between runs (on 2 CPUs that alone swings req/s by a third): the server gets CPU 1 to itself,
 * the load generator and Redis share CPU 0. Undefined when there is no taskset or fewer than 2 CPUs.
 */
export function pinning (): { runner: string, redis: string, server: string } | undefined {
  if (availableParallelism() < 2 || spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) return undefined
  return { runner: '0', redis: '0', server: '1' }
}

/** Pin this process (all its threads) to `cpus`; false when that did not work. */
export function pinSelf (cpus: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' }).status === 0
}

export class BenchRedis {
  readonly port: number
  readonly url: string
  readonly #child: ChildProcess

  private constructor (port: number, child: ChildProcess) {
    this.port = port
    this.url = `redis://127.0.0.1:${port}`
    this.#child = child
  }

  get pid (): number | undefined { return this.#child.pid }

  /** Start on a free port; with `cpus` (such as "0"), pinned to those CPUs by taskset, which keeps the PID. */
  static async start (cpus?: string, binary = process.env.REDIS_SERVER ?? 'redis-server'): Promise<BenchRedis> {
    const port = await freePort()
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--loglevel', 'warning'
    ]
    const child = cpus === undefined
      ? spawn(binary, args, { stdio: 'ignore' })
      : spawn('taskset', ['-c', cpus, binary, ...args], { stdio: 'ignore' })
    const pid = child.pid
    // Never outlive the runner, even when it crashes.
    const reap = (): void => { try { if (pid !== undefined && child.exitCode === null) process.kill(pid, 'SIGKILL') } catch {} }
    process.once('exit', reap)
    child.once('exit', () => process.removeListener('exit', reap))
    let spawnError: Error | undefined
    child.once('error', (err) => { spawnError = err })
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      await sleep(50)
      if (spawnError !== undefined) throw new Error(`could not start ${binary}: ${spawnError.message}; install redis-server or set REDIS_SERVER`)
      if (child.exitCode !== null) throw new Error(`${binary} exited with code ${child.exitCode}`)
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => {})
      try {
        await probe.connect()
        await probe.ping()
        return new BenchRedis(port, child)
      } catch {
        // not up yet
      } finally {
        probe.disconnect()
      }
    }
    reap()
    throw new Error(`${binary} did not answer on port ${port} within 10 s`)
  }

  async stop (): Promise<void> {
    const child = this.#child
    if (child.exitCode !== null || child.pid === undefined) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    process.kill(child.pid, 'SIGKILL')
    await exited
  }
}
