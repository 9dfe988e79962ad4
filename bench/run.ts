// npm run bench [-- --quick] : this plugin against @fastify/session + connect-redis, @mgcrea/fastify-session
// and the floor (Fastify + ioredis by hand), on a private redis-server, each contender in its own
// process, alternating over rounds. Prints a markdown table and writes bench/results/latest.{md,json}.
//
// Options: --quick, --rounds N, --duration S, --login-duration S, --warmup S, --connections N,
//          --sessions N, --only a,b, --extra name=/path/to/server.js (an A/B contender), --no-probe.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, release, type } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { ContenderProcess } from './lib/contender'
import { closeAgent } from './lib/http'
import { load } from './lib/load'
import {
  commandCounts, commandDelta, createSessions, machineCpu, measureMemory, probe, redisCpuMicros, sum, usedMemory,
  type MemoryResult, type ProbeResult
} from './lib/probe'
import { BenchRedis } from './lib/redis-server'
import { evaluateTargets, markdown, summarise, type Report, type RunRecord } from './lib/report'
import { CONTENDERS, LOAD_SCENARIOS, type Scenario } from './lib/scenarios'

const RESULTS = resolve(__dirname, '..', '..', 'bench', 'results')
const HARD_LIMIT_MS = 15 * 60_000

function options (): Report['config'] & { contenders: Array<{ name: string, script: string }>, probe: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'login-duration': { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      sessions: { type: 'string' },
      only: { type: 'string' },
      extra: { type: 'string', multiple: true, default: [] },
      'no-probe': { type: 'boolean', default: false }
    },
    strict: true
  })
  const quick = values.quick === true
  const num = (v: string | undefined, fallback: number): number => {
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got ${v}`)
    return n
  }
  let names: string[] = [...CONTENDERS]
  if (values.only !== undefined) {
    names = values.only.split(',').map((s) => s.trim())
    for (const n of names) if (!(CONTENDERS as readonly string[]).includes(n)) throw new Error(`unknown contender ${n}; known: ${CONTENDERS.join(', ')}`)
  }
  const contenders = names.map((name) => ({ name, script: join(__dirname, 'servers', name + '.js') }))
  for (const extra of values.extra ?? []) {
    const eq = extra.indexOf('=')
    if (eq < 1) throw new Error(`--extra expects name=/path/to/server.js, got ${extra}`)
    contenders.push({ name: extra.slice(0, eq), script: resolve(extra.slice(eq + 1)) })
  }
  return {
    command: 'npm run bench' + (process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''),
    quick,
    rounds: num(values.rounds, quick ? 2 : 5),
    duration: num(values.duration, quick ? 1.5 : 4),
    loginDuration: num(values['login-duration'], quick ? 1 : 2),
    warmup: num(values.warmup, quick ? 0.3 : 0.5),
    connections: num(values.connections, 32),
    sessions: num(values.sessions, 1000),
    contenders,
    probe: values['no-probe'] !== true
  }
}

function cpuModel (): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

async function main (): Promise<void> {
  const config = options()
  const started = Date.now()
  // Everything stops by itself: a run that hangs is killed, children and redis-server with it.
  const limit = setTimeout(() => {
    console.error(`bench: still running after ${HARD_LIMIT_MS / 60_000} min; giving up`)
    process.exit(3)
  }, HARD_LIMIT_MS)
  limit.unref()

  const redis = await BenchRedis.start()
  const admin = new Redis(redis.url)
  const redisVersion = /^redis_version:(.+)$/m.exec(await admin.info('server'))?.[1]?.trim() ?? 'unknown'
  console.error(`bench: redis-server ${redisVersion} pid ${String(redis.pid)} on ${redis.url}; ${config.contenders.length} contenders × ${String(config.rounds)} rounds`)

  const runs: RunRecord[] = []
  const probes: Report['probes'] = {}
  const memory: Record<string, MemoryResult> = {}
  const failures: Record<string, string> = {}
  const rounds = config.rounds as number
  const scenarios: Scenario[] = [...LOAD_SCENARIOS]

  try {
    for (let round = 1; round <= rounds; round++) {
      // Rotate the order each round, so no contender always runs first (or right after another).
      const order = config.contenders.map((_, i) => config.contenders[(i + round - 1) % config.contenders.length])
      for (const { name, script } of order) {
        if (failures[name] !== undefined) continue
        let child: ContenderProcess | undefined
        const slotStarted = Date.now()
        try {
          await admin.flushdb()
          child = await ContenderProcess.start(name, script, redis.url)
          const ready = Date.now()
          const memBefore = await usedMemory(admin)
          const sessions = await createSessions(child.port, config.sessions as number)
          const memAfter = await usedMemory(admin)
          console.error(`round ${round} ${name}: started in ${((ready - slotStarted) / 1000).toFixed(1)} s, ${sessions.cookies.length} sessions in ${((Date.now() - ready) / 1000).toFixed(1)} s`)
          if (round === 1) {
            memory[name] = await measureMemory(admin, memBefore, memAfter)
            if (config.probe) {
              const results: Partial<Record<Scenario, ProbeResult>> = {}
              for (const scenario of ['read', 'write', 'login', 'public'] as const) {
                results[scenario] = await probe(child, admin, scenario, sessions, scenario === 'login' ? 30 : 100)
              }
              probes[name] = results
            }
          }
          for (const scenario of scenarios) {
            const seconds = scenario === 'login' ? config.loginDuration as number : config.duration as number
            await load(child.port, scenario, sessions.cookies, config.warmup as number, config.connections as number)
            const stats0 = await child.stats()
            const redisCpu0 = await redisCpuMicros(admin)
            const commands0 = await commandCounts(admin)
            const machine0 = machineCpu()
            const runner0 = process.cpuUsage()
            const result = await load(child.port, scenario, sessions.cookies, seconds, config.connections as number)
            const runner1 = process.cpuUsage(runner0)
            const machine1 = machineCpu()
            const stats1 = await child.stats()
            const redisCpu1 = await redisCpuMicros(admin)
            const commands1 = await commandCounts(admin)
            const n = Math.max(result.responses, 1)
            const ours = runner1.user + runner1.system + (stats1.cpuMicros - stats0.cpuMicros) + (redisCpu1 - redisCpu0)
            const machineTotal = machine1.total - machine0.total
            const record: RunRecord = {
              round,
              contender: name,
              scenario,
              load: result,
              serverCpuMicros: (stats1.cpuMicros - stats0.cpuMicros) / n,
              redisCpuMicros: (redisCpu1 - redisCpu0) / n,
              redisCommands: sum(commandDelta(commands0, commands1)) / n,
              runnerCpuMicros: (runner1.user + runner1.system) / n,
              // What other processes took from the machine meanwhile (0 on a quiet machine).
              foreignCpu: machineTotal > 0 ? Math.max(0, (machine1.busy - machine0.busy - ours) / machineTotal) : 0
            }
            runs.push(record)
            console.error(`round ${round} ${name.padEnd(16)} ${scenario.padEnd(5)} ${result.rps.toFixed(0).padStart(6)} req/s  ` +
              `p50 ${result.p50} ms  p99 ${result.p99} ms  errors ${result.errors}  cpu ${record.serverCpuMicros.toFixed(0)} µs/req  ` +
              `others ${(record.foreignCpu * 100).toFixed(0)}%`)
          }
        } catch (err) {
          failures[name] = (err as Error).message
          console.error(`bench: ${name} failed: ${(err as Error).stack ?? String(err)}`)
        } finally {
          await child?.stop()
          console.error(`round ${round} ${name}: ${((Date.now() - slotStarted) / 1000).toFixed(1)} s`)
        }
      }
    }
  } finally {
    admin.disconnect()
    await redis.stop()
    closeAgent()
  }

  const names = config.contenders.map((c) => c.name)
  const partial: Pick<Report, 'runs' | 'probes' | 'memory'> = { runs, probes, memory }
  const report: Report = {
    date: new Date().toISOString(),
    machine: { nproc: availableParallelism(), cpu: cpuModel(), node: process.version, redis: redisVersion, os: `${type()} ${release()}` },
    config: { ...config, contenders: names, elapsedSeconds: Math.round((Date.now() - started) / 1000) },
    summaries: summarise(runs, names, scenarios),
    probes,
    memory,
    failures,
    targets: evaluateTargets(partial),
    runs
  }
  const md = markdown(report)
  mkdirSync(RESULTS, { recursive: true })
  writeFileSync(join(RESULTS, 'latest.md'), md)
  writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(report, null, 2) + '\n')
  process.stdout.write('\n' + md)
  console.error(`bench: done in ${String(report.config.elapsedSeconds)} s; wrote ${join(RESULTS, 'latest.md')} and latest.json`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
