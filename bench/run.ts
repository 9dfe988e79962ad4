// npm run bench [-- --quick] : this plugin (also with touchAfter, and on an auto-pipelining client) against
// @fastify/session + connect-redis, @mgcrea/fastify-session and two floors (Fastify + ioredis by hand: one
// pipeline per request, and floor-lua, the plugin's exact Redis work as one script call per request), on a private redis-server, each contender in its own
// process, alternating over rounds. Prints a markdown table and writes bench/results/latest.{md,json}.
//
// Options: --quick, --rounds N, --duration S, --login-duration S, --warmup S, --connections N,
//          --sessions N, --only a,b, --scenarios read,write, --extra name=/path/to/server.js (an A/B
//          contender, repeatable), --no-probe (skip the one-at-a-time round-trip and validity probe),
//          --no-pin (do not pin runner + Redis to CPU 0 and the server to CPU 1 with taskset).
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
import { BenchRedis, pinSelf, pinning } from './lib/redis-server'
import { evaluateTargets, markdown, summarise, type Report, type RunRecord } from './lib/report'
import { CONTENDERS, LOAD_SCENARIOS, serves, type Scenario } from './lib/scenarios'

const RESULTS = resolve(__dirname, '..', '..', 'bench', 'results')
const HARD_LIMIT_MS = 10 * 60_000

interface Config {
  command: string
  quick: boolean
  rounds: number
  /** Seconds per read or write run. */
  duration: number
  loginDuration: number
  warmup: number
  connections: number
  sessions: number
  contenders: Array<{ name: string, script: string }>
  scenarios: Scenario[]
  probe: boolean
  pin: boolean
}

function options (): Config {
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
      scenarios: { type: 'string' },
      extra: { type: 'string', multiple: true, default: [] },
      'no-probe': { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false }
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
  const scenarios = (values.scenarios ?? LOAD_SCENARIOS.join(',')).split(',').map((s) => s.trim()) as Scenario[]
  for (const s of scenarios) if (!(LOAD_SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; known: ${LOAD_SCENARIOS.join(', ')}`)
  return {
    command: 'npm run bench' + (process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''),
    quick,
    rounds: num(values.rounds, quick ? 2 : 6),
    duration: num(values.duration, quick ? 1.2 : 3),
    loginDuration: num(values['login-duration'], quick ? 0.8 : 2),
    warmup: num(values.warmup, quick ? 0.2 : 0.3),
    connections: num(values.connections, 32),
    sessions: Math.max(100, num(values.sessions, 1000)),
    contenders,
    scenarios,
    probe: values['no-probe'] !== true,
    pin: values['no-pin'] !== true
  }
}

function cpuModel (): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/** One load run after a short warm-up, with what it cost the server, Redis and the machine. */
async function measuredRun (child: ContenderProcess, admin: Redis, scenario: Scenario, cookies: string[], seconds: number,
  config: Config, round: number): Promise<RunRecord> {
  const connections = config.connections
  await load(child.port, scenario, cookies, config.warmup, connections)
  const stats0 = await child.stats()
  const redisCpu0 = await redisCpuMicros(admin)
  const commands0 = await commandCounts(admin)
  const machine0 = machineCpu()
  const runner0 = process.cpuUsage()
  const result = await load(child.port, scenario, cookies, seconds, connections)
  const runner = process.cpuUsage(runner0)
  const machine1 = machineCpu()
  const stats1 = await child.stats()
  const redisCpu1 = await redisCpuMicros(admin)
  const commands1 = await commandCounts(admin)
  const n = Math.max(result.responses, 1)
  const commands = commandDelta(commands0, commands1)
  const serverCpu = stats1.cpuMicros - stats0.cpuMicros
  const redisCpu = redisCpu1 - redisCpu0
  const runnerCpu = runner.user + runner.system
  const machineTotal = machine1.total - machine0.total
  return {
    round,
    contender: child.name,
    scenario,
    load: result,
    serverCpuMicros: serverCpu / n,
    redisCpuMicros: redisCpu / n,
    redisCommands: sum(commands) / n,
    redisWrites: ((commands.get('hset') ?? 0) + (commands.get('expire') ?? 0)) / n,
    runnerCpuMicros: runnerCpu / n,
    // What other processes took from the machine meanwhile (0 on a quiet machine).
    foreignCpu: machineTotal > 0 ? Math.max(0, (machine1.busy - machine0.busy - runnerCpu - serverCpu - redisCpu) / machineTotal) : 0
  }
}

async function main (): Promise<void> {
  const config = options()
  const started = Date.now()
  // Everything stops by itself: a run that hangs is killed, children and redis-server with it
  // (their 'exit' handlers kill them by PID; Ctrl-C goes through process.exit for that reason).
  const perRound = config.scenarios.reduce((s, sc) => s + config.warmup + 0.5 + (sc === 'login' ? config.loginDuration : config.duration), 0)
  const limitMs = Math.max(HARD_LIMIT_MS, 2 * 1000 * (60 + config.contenders.length * (10 + config.rounds * perRound)))
  const limit = setTimeout(() => {
    console.error(`bench: still running after ${Math.round(limitMs / 60_000)} min; giving up`)
    process.exit(3)
  }, limitMs)
  limit.unref()
  process.once('SIGINT', () => process.exit(130))
  process.once('SIGTERM', () => process.exit(143))

  // Before pinning: availableParallelism() follows this process's CPU affinity.
  const machine = { nproc: availableParallelism(), cpu: cpuModel(), node: process.version, os: `${type()} ${release()}` }
  const cpus = config.pin ? pinning() : undefined
  if (cpus !== undefined && !pinSelf(cpus.runner)) throw new Error('taskset could not pin the runner; use --no-pin')
  const redis = await BenchRedis.start(cpus?.redis)
  const admin = new Redis(redis.url)
  const redisVersion = /^redis_version:(.+)$/m.exec(await admin.info('server'))?.[1]?.trim() ?? 'unknown'
  console.error(`bench: redis-server ${redisVersion} pid ${String(redis.pid)} on ${redis.url}; ${config.contenders.length} contenders × ${String(config.rounds)} rounds`)

  const runs: RunRecord[] = []
  const probes: Report['probes'] = {}
  const memory: Record<string, MemoryResult> = {}
  const failures: Record<string, string> = {}
  const rounds = config.rounds
  const scenarios = config.scenarios

  const live = new Map<string, { child: ContenderProcess, cookies: string[] }>()
  const fail = (name: string, err: unknown): void => {
    failures[name] = (err as Error).message
    console.error(`bench: ${name} failed: ${(err as Error).stack ?? String(err)}`)
  }
  try {
    // Phase 1, one contender process at a time on an empty database: memory per session, then
    // round trips, commands and the content of each answer, one request at a time.
    for (const { name, script } of config.contenders) {
      let child: ContenderProcess | undefined
      try {
        await admin.flushdb()
        child = await ContenderProcess.start(name, script, redis.url, [], cpus?.server)
        // The first logins also load scripts and grow buffers: count used_memory over the rest only.
        const primed = await createSessions(child.port, 20)
        const memBefore = await usedMemory(admin)
        const sessions = await createSessions(child.port, config.sessions - 20, 16, primed)
        memory[name] = await measureMemory(admin, memBefore, await usedMemory(admin), config.sessions - 20)
        if (config.probe) {
          const results: Partial<Record<Scenario, ProbeResult>> = {}
          for (const scenario of ['read', 'write', 'lazy', 'login', 'public'] as const) {
            if (!serves(name, scenario)) continue
            results[scenario] = await probe(child, admin, scenario, sessions, scenario === 'login' ? 30 : 100)
          }
          probes[name] = results
        }
      } catch (err) {
        fail(name, err)
      } finally {
        await child?.stop()
      }
    }

    // Phase 2, the load. Every contender gets a fresh process and its own sessions, then the runs
    // alternate: each scenario runs on each contender in turn, round after round (the order rotated),
    // so a busy spell on the machine hits all contenders alike and paired ratios stay fair. Only the
    // contender under load does any work; the others sit idle.
    await admin.flushdb()
    for (const { name, script } of config.contenders) {
      if (failures[name] !== undefined) continue
      try {
        const child = await ContenderProcess.start(name, script, redis.url, [], cpus?.server)
        live.set(name, { child, cookies: (await createSessions(child.port, config.sessions)).cookies })
      } catch (err) {
        fail(name, err)
      }
    }
    for (let round = 1; round <= rounds; round++) {
      const names = [...live.keys()]
      const order = names.map((_, i) => names[(i + round - 1) % names.length])
      for (const scenario of scenarios) {
        const seconds = scenario === 'login' ? config.loginDuration : config.duration
        for (const name of order) {
          const contender = live.get(name)
          if (contender === undefined || failures[name] !== undefined || !serves(name, scenario)) continue
          try {
            const record = await measuredRun(contender.child, admin, scenario, contender.cookies, seconds, config, round)
            runs.push(record)
            console.error(`round ${round} ${name.padEnd(16)} ${scenario.padEnd(5)} ${record.load.rps.toFixed(0).padStart(6)} req/s  ` +
              `p50 ${record.load.p50} ms  p99 ${record.load.p99} ms  errors ${record.load.errors}  ` +
              `cpu ${record.serverCpuMicros.toFixed(0)} µs/req  others ${(record.foreignCpu * 100).toFixed(0)}%`)
          } catch (err) {
            fail(name, err)
          }
        }
      }
    }
  } finally {
    for (const { child } of live.values()) await child.stop()
    admin.disconnect()
    await redis.stop()
    closeAgent()
  }

  const names = config.contenders.map((c) => c.name)
  const partial: Pick<Report, 'runs' | 'probes' | 'memory'> = { runs, probes, memory }
  const report: Report = {
    date: new Date().toISOString(),
    machine: { ...machine, redis: redisVersion },
    config: { ...config, contenders: names, pinned: cpus ?? 'no', elapsedSeconds: Math.round((Date.now() - started) / 1000) },
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
