// Summaries (medians of rounds), the markdown tables and the PASS/FAIL lines of the targets.
import type { LoadResult } from './load'
import type { MemoryResult, ProbeResult } from './probe'
import type { Scenario } from './scenarios'

export interface RunRecord {
  round: number
  contender: string
  scenario: Scenario
  load: LoadResult
  /** The server process's CPU time (user + system) per response, µs. */
  serverCpuMicros: number
  /** redis-server's CPU time per response, µs. */
  redisCpuMicros: number
  /** Commands Redis ran per response (INFO commandstats; script-internal calls included). */
  redisCommands: number
  /** HSET and EXPIRE calls per response: what a request writes to Redis (and to replicas and the AOF). */
  redisWrites: number
  /** The runner's (autocannon's) CPU time per response, µs. */
  runnerCpuMicros: number
  /** Share of the machine's CPU that other processes used during the run (0..1). */
  foreignCpu: number
}

export interface Summary {
  contender: string
  scenario: Scenario
  rounds: number
  rps: number
  rpsMin: number
  rpsMax: number
  /** Median over rounds of (this req/s ÷ floor's req/s in the same round). */
  ratioToFloor: number | undefined
  /** The same against floor-lua. */
  ratioToFloorLua: number | undefined
  p50: number
  p99: number
  errors: number
  serverCpuMicros: number
  redisCpuMicros: number
  redisCommands: number
  redisWrites: number
}

export interface Report {
  date: string
  machine: { nproc: number, cpu: string, node: string, redis: string, os: string }
  config: Record<string, unknown>
  summaries: Summary[]
  probes: Record<string, Partial<Record<Scenario, ProbeResult>>>
  memory: Record<string, MemoryResult>
  failures: Record<string, string>
  targets: TargetLine[]
  runs: RunRecord[]
}

export interface TargetLine { status: 'PASS' | 'FAIL' | 'SKIP' | 'INFO', text: string }

export function median (values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function summarise (runs: RunRecord[], contenders: readonly string[], scenarios: readonly Scenario[]): Summary[] {
  const out: Summary[] = []
  for (const contender of contenders) {
    for (const scenario of scenarios) {
      const mine = runs.filter((r) => r.contender === contender && r.scenario === scenario)
      if (mine.length === 0) continue
      const rps = mine.map((r) => r.load.rps)
      out.push({
        contender,
        scenario,
        rounds: mine.length,
        rps: median(rps),
        rpsMin: Math.min(...rps),
        rpsMax: Math.max(...rps),
        ratioToFloor: pairedRatio(runs, contender, 'floor', scenario),
        ratioToFloorLua: pairedRatio(runs, contender, 'floor-lua', scenario),
        p50: median(mine.map((r) => r.load.p50)),
        p99: median(mine.map((r) => r.load.p99)),
        errors: mine.reduce((n, r) => n + r.load.errors, 0),
        serverCpuMicros: median(mine.map((r) => r.serverCpuMicros)),
        redisCpuMicros: median(mine.map((r) => r.redisCpuMicros)),
        redisCommands: median(mine.map((r) => r.redisCommands)),
        redisWrites: median(mine.map((r) => r.redisWrites))
      })
    }
  }
  return out
}

/** Median over rounds of a's req/s ÷ b's req/s in the same round (or of another per-run measure). */
export function pairedRatio (runs: RunRecord[], a: string, b: string, scenario: Scenario,
  measure: (r: RunRecord) => number = (r) => r.load.rps): number | undefined {
  const ratios: number[] = []
  for (const r of runs) {
    if (r.contender !== a || r.scenario !== scenario) continue
    const other = runs.find((o) => o.contender === b && o.scenario === scenario && o.round === r.round)
    if (other !== undefined) ratios.push(measure(r) / measure(other))
  }
  return ratios.length > 0 ? median(ratios) : undefined
}

const fmt = (n: number | undefined, digits = 0): string => n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits)
const ratio = (n: number | undefined): string => n === undefined ? 'n/a' : n.toFixed(2) + '×'

export function evaluateTargets (report: Pick<Report, 'runs' | 'probes' | 'memory'>, subject = 'plugin'): TargetLine[] {
  const lines: TargetLine[] = []
  const { runs, probes, memory } = report
  const check = (pass: boolean | undefined, text: string): void => {
    lines.push({ status: pass === undefined ? 'SKIP' : pass ? 'PASS' : 'FAIL', text: pass === undefined ? text + ' (not measured in this run)' : text })
  }
  for (const scenario of ['read', 'write'] as const) {
    const toFloor = pairedRatio(runs, subject, 'floor', scenario)
    check(toFloor === undefined ? undefined : toFloor >= 0.9, `${scenario}: ${subject} req/s = ${ratio(toFloor)} floor (target ≥ 0.90×)`)
    const toSession = pairedRatio(runs, subject, 'fastify-session', scenario)
    check(toSession === undefined ? undefined : toSession >= 1.5, `${scenario}: ${subject} req/s = ${ratio(toSession)} @fastify/session + connect-redis (target ≥ 1.50×)`)
  }
  const rt = (scenario: Scenario): number | undefined => probes[subject]?.[scenario]?.roundTripsPerRequest
  const read = rt('read')
  const write = rt('write')
  const pub = rt('public')
  check(read === undefined ? undefined : read === 1, `read: ${fmt(read, 2)} Redis round trips per request (target exactly 1)`)
  check(write === undefined ? undefined : write <= 2, `write: ${fmt(write, 2)} Redis round trips per request (target ≤ 2)`)
  check(pub === undefined ? undefined : pub === 0, `opted-out route (config.session false): ${fmt(pub, 2)} Redis round trips per request (target 0)`)
  // Against floor-lua: the same Redis work in one script call per request, the cookie read by hand.
  const cpu = (r: RunRecord): number => r.serverCpuMicros
  const readLua = pairedRatio(runs, subject, 'floor-lua', 'read')
  check(readLua === undefined ? undefined : readLua >= 1.0, `read: ${subject} req/s = ${ratio(readLua)} floor-lua (target ≥ 1.00×)`)
  const readCpu = pairedRatio(runs, subject, 'floor-lua', 'read', cpu)
  check(readCpu === undefined ? undefined : readCpu <= 1.05, `read: ${subject} server CPU per request = ${ratio(readCpu)} floor-lua's (target ≤ 1.05×)`)
  const lazyLua = pairedRatio(runs, subject, 'floor-lua', 'lazy')
  check(lazyLua === undefined ? undefined : lazyLua >= 0.95, `write on a lazy route: ${subject} req/s = ${ratio(lazyLua)} floor-lua (target ≥ 0.95×)`)
  const lazyTrips = rt('lazy')
  check(lazyTrips === undefined ? undefined : lazyTrips === 1, `write on a lazy route: ${fmt(lazyTrips, 2)} Redis round trips per request (target exactly 1)`)
  const loginLua = pairedRatio(runs, subject, 'floor-lua', 'login')
  check(loginLua === undefined ? undefined : loginLua >= 1.0, `login: ${subject} req/s = ${ratio(loginLua)} floor-lua (target ≥ 1.00×)`)
  // touchAfter: reads that write nothing, and what that saves Redis.
  const touch = subject + '-touch'
  const touchRuns = runs.filter((r) => r.contender === touch && r.scenario === 'read')
  const touchWrites = touchRuns.length === 0 ? undefined : median(touchRuns.map((r) => r.redisWrites))
  check(touchWrites === undefined ? undefined : touchWrites === 0, `read with touchAfter 60: ${fmt(touchWrites, 3)} HSET + EXPIRE per request (target 0)`)
  const redisCpu = (r: RunRecord): number => r.redisCpuMicros
  const touchCpu = pairedRatio(runs, touch, subject, 'read', redisCpu)
  check(touchCpu === undefined ? undefined : touchCpu <= 0.7, `read with touchAfter 60: Redis CPU per request = ${ratio(touchCpu)} the always-touch read's (target ≤ 0.70×)`)
  // The bound on that saving: a read with no script and no write at all (one plain HGETALL), which is
  // what a read inside touchAfter's window sends; what is left between the two is the load on Redis
  // (a busier Redis serves more requests per wake-up), not commands.
  const plainCpu = pairedRatio(runs, 'floor-hgetall', subject, 'read', redisCpu)
  if (plainCpu !== undefined) {
    lines.push({ status: 'INFO', text: `read: Redis CPU per request of one plain HGETALL (floor-hgetall: no script, no write, the same command a read inside touchAfter's window sends) = ${ratio(plainCpu)} the always-touch read's: the least any read of a session hash costs Redis, so the most touchAfter can save` })
  }
  const touchServer = pairedRatio(runs, touch, subject, 'read', cpu)
  if (touchServer !== undefined) lines.push({ status: 'INFO', text: `read with touchAfter 60: server CPU per request = ${ratio(touchServer)} the always-touch read's` })
  const mine = memory[subject]?.memoryUsage
  check(mine === undefined ? undefined : mine <= 264, `memory: ${fmt(mine)} B per session (target ≤ 264 B, the 0.1.0 figure)`)
  const theirs = memory['fastify-session']?.memoryUsage
  const memRatio = mine !== undefined && theirs !== undefined ? mine / theirs : undefined
  check(memRatio === undefined ? undefined : memRatio <= 0.8,
    `memory: ${fmt(mine)} B per session = ${ratio(memRatio)} @fastify/session + connect-redis's ${fmt(theirs)} B (target ≤ 0.80×)`)
  const errors = runs.filter((r) => r.contender === subject).reduce((n, r) => n + r.load.errors, 0)
  const invalid = Object.values(probes[subject] ?? {}).reduce((n, p) => n + (p?.invalid ?? 0), 0)
  check(runs.some((r) => r.contender === subject) ? errors === 0 && invalid === 0 : undefined,
    `validity: ${errors} non-2xx/socket errors under load, ${invalid} wrong answers in the probes (target 0)`)
  // Not targets: the steadier view (server CPU per request), and the auto-pipelining variant.
  for (const scenario of ['read', 'write'] as const) {
    const vsSession = pairedRatio(runs, 'fastify-session', subject, scenario, cpu)
    const vsFloor = pairedRatio(runs, 'floor', subject, scenario, cpu)
    if (vsSession !== undefined || vsFloor !== undefined) {
      lines.push({ status: 'INFO', text: `${scenario}: ${subject} uses ${ratio(vsSession)} less server CPU per request than @fastify/session + connect-redis, ${ratio(vsFloor)} less than floor` })
    }
  }
  for (const scenario of ['read', 'write', 'login'] as const) {
    const auto = pairedRatio(runs, subject + '-autopipe', subject, scenario)
    if (auto !== undefined) lines.push({ status: 'INFO', text: `${scenario}: ${subject}-autopipe (ioredis enableAutoPipelining) req/s = ${ratio(auto)} ${subject}'s` })
  }
  return lines
}

function probeCell (p: ProbeResult | undefined): string {
  if (p === undefined) return 'n/a'
  const commands = Object.entries(p.commands).map(([name, n]) => n === 1 ? name : `${name}×${fmt(n, 2)}`).join(', ')
  return `**${fmt(p.roundTripsPerRequest, 2)}** (${fmt(p.commandsPerRequest, 2)} cmd${commands === '' ? '' : ': ' + commands})` +
    (p.invalid > 0 ? ` ⚠ ${p.invalid} invalid` : '')
}

export function markdown (report: Report): string {
  const { machine, config } = report
  const out: string[] = []
  out.push(`Machine: ${machine.nproc} CPUs (nproc), ${machine.cpu}; Node ${machine.node}; redis-server ${machine.redis}; ${machine.os}. ${report.date}.`)
  out.push('')
  out.push(`Run: \`${String(config.command)}\`: ${String(config.rounds)} rounds; in each, every scenario runs on every contender in turn ` +
    `(the order rotated each round), ${String(config.connections)} connections, read/write ${String(config.duration)} s and login ` +
    `${String(config.loginDuration)} s per run after a ${String(config.warmup)} s warm-up; ${String(config.sessions)} sessions per contender, ` +
    'cookies rotated. Medians of the rounds; × floor is the median of the per-round ratios. ' +
    (typeof config.pinned === 'object' && config.pinned !== null
      ? `Pinned with taskset: the server under test on CPU ${String((config.pinned as { server: string }).server)}, autocannon and redis-server on CPU ${String((config.pinned as { runner: string }).runner)}.`
      : 'Not pinned to CPUs.'))
  const foreign = report.runs.map((r) => r.foreignCpu)
  out.push('')
  out.push(`Other processes on the machine took ${fmt(median(foreign) * 100)}% of its CPU during the median run (up to ${fmt(Math.max(0, ...foreign) * 100)}%); ` +
    'req/s suffers most from that, CPU time per request least.')
  out.push('')
  out.push('| Contender | Scenario | req/s | (min–max) | × floor | × floor-lua | p50 ms | p99 ms | errors | server CPU µs/req | Redis CPU µs/req | Redis cmds/req | HSET+EXPIRE/req | round trips/req |')
  out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const s of report.summaries) {
    const rt = report.probes[s.contender]?.[s.scenario]?.roundTripsPerRequest
    out.push(`| ${s.contender} | ${s.scenario} | ${fmt(s.rps)} | ${fmt(s.rpsMin)}–${fmt(s.rpsMax)} | ${ratio(s.ratioToFloor)} | ${ratio(s.ratioToFloorLua)} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ${s.errors} | ` +
      `${fmt(s.serverCpuMicros)} | ${fmt(s.redisCpuMicros)} | ${fmt(s.redisCommands, 2)} | ${fmt(s.redisWrites, 2)} | ${fmt(rt, 2)} |`)
  }
  out.push('')
  out.push('Round trips and Redis commands per request, one request at a time (commands inside Lua scripts included):')
  out.push('')
  out.push('| Contender | read | write | write on a lazy route | login | opted-out route (`GET /public` with a cookie) |')
  out.push('|---|---|---|---|---|---|')
  for (const [name, p] of Object.entries(report.probes)) {
    out.push(`| ${name} | ${probeCell(p.read)} | ${probeCell(p.write)} | ${p.lazy === undefined ? '(no lazy route)' : probeCell(p.lazy)} | ${probeCell(p.login)} | ${probeCell(p.public)} |`)
  }
  out.push('')
  out.push('Redis memory per stored session (username, counter; the plugin and floor add created_at, last_accessed_at, session_ttl):')
  out.push('')
  out.push('| Contender | stored as | key bytes | MEMORY USAGE, B | × fastify-session | used_memory growth per session, B |')
  out.push('|---|---|--:|--:|--:|--:|')
  const base = report.memory['fastify-session']?.memoryUsage
  for (const [name, m] of Object.entries(report.memory)) {
    out.push(`| ${name} | ${m.type} (${m.encoding}) | ${m.keyBytes} | ${m.memoryUsage} | ${ratio(base === undefined ? undefined : m.memoryUsage / base)} | ${m.usedMemoryPerSession} |`)
  }
  if (Object.keys(report.failures).length > 0) {
    out.push('')
    for (const [name, why] of Object.entries(report.failures)) out.push(`- ${name} failed: ${why}`)
  }
  out.push('')
  out.push('Targets (this plugin):')
  out.push('')
  for (const t of report.targets) out.push(`- ${t.status} ${t.text}`)
  return out.join('\n') + '\n'
}
