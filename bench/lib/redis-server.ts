// A private redis-server for the benchmark: a free loopback port, no persistence, stopped by its PID.
// (The same idea as test/helpers/redis-server.ts, kept here so the bench builds on its own.)
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
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

  static async start (binary = process.env.REDIS_SERVER ?? 'redis-server'): Promise<BenchRedis> {
    const port = await freePort()
    const child = spawn(binary, [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--loglevel', 'warning'
    ], { stdio: 'ignore' })
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
