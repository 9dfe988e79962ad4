// One contender server as a child process on a free loopback port: started, awaited, stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from './http'
import { freePort } from './redis-server'

export interface ServerStats {
  pid: number
  cpuMicros: number
  roundTrips: number
  writes: number
  heapUsed: number
  rss: number
}

export class ContenderProcess {
  readonly name: string
  readonly port: number
  readonly #child: ChildProcess

  private constructor (name: string, port: number, child: ChildProcess) {
    this.name = name
    this.port = port
    this.#child = child
  }

  get pid (): number | undefined { return this.#child.pid }

  /**
   * Start `node [nodeArgs] script` with BENCH_PORT and BENCH_REDIS_URL, and wait until it answers.
   * With `cpus`, pinned by taskset (which execs node, so the PID is node's).
   */
  static async start (name: string, script: string, redisUrl: string, nodeArgs: string[] = [], cpus?: string): Promise<ContenderProcess> {
    const port = await freePort()
    const command = cpus === undefined ? [process.execPath] : ['taskset', '-c', cpus, process.execPath]
    const child = spawn(command[0], [...command.slice(1), ...nodeArgs, script], {
      env: { ...process.env, BENCH_PORT: String(port), BENCH_REDIS_URL: redisUrl },
      // The IPC channel lets the child notice when the runner dies, and stop.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    const pid = child.pid
    const reap = (): void => { try { if (pid !== undefined && child.exitCode === null) process.kill(pid, 'SIGKILL') } catch {} }
    process.once('exit', reap)
    child.once('exit', () => process.removeListener('exit', reap))
    const contender = new ContenderProcess(name, port, child)
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before listening`)
      try {
        await contender.stats()
        return contender
      } catch {
        await sleep(50)
      }
    }
    await contender.stop()
    throw new Error(`${name} did not listen on port ${port} within 15 s`)
  }

  async stats (): Promise<ServerStats> {
    const reply = await request(this.port, 'GET', '/__stats')
    if (reply.status !== 200) throw new Error(`${this.name} /__stats answered ${reply.status}`)
    return JSON.parse(reply.body) as ServerStats
  }

  /** SIGTERM by PID (a graceful exit writes --cpu-prof profiles); SIGKILL if it is still there after 5 s. */
  async stop (): Promise<void> {
    const child = this.#child
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    process.kill(child.pid, 'SIGTERM')
    const timer = sleep(5000, 'timeout', { ref: false })
    if (await Promise.race([exited, timer]) === 'timeout') {
      process.kill(child.pid, 'SIGKILL')
      await exited
    }
  }
}
