// Profile the plugin's hot path: the plugin server under --cpu-prof, one process per scenario
// (read, then write), loaded by autocannon; then the top self-time entries of each profile.
//   npm run build && node dist/bench/profile.js [--duration 8] [--scenarios read,write]
//                                               [--server dist/bench/servers/plugin.js] [--interval 250] [--no-pin]
// Profiles go to bench/results/profiles/ (open them in Chrome DevTools or speedscope too).
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatSummary, summariseProfile } from './cpuprofile-top'
import { ContenderProcess } from './lib/contender'
import { closeAgent } from './lib/http'
import { load } from './lib/load'
import { createSessions } from './lib/probe'
import { BenchRedis, pinSelf, pinning } from './lib/redis-server'
import { LOAD_SCENARIOS, type Scenario } from './lib/scenarios'

const OUT = resolve(__dirname, '..', '..', 'bench', 'results', 'profiles')

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '8' },
      scenarios: { type: 'string', default: 'read,write' },
      server: { type: 'string', default: join(__dirname, 'servers', 'plugin.js') },
      name: { type: 'string', default: 'plugin' },
      interval: { type: 'string', default: '250' },
      connections: { type: 'string', default: '32' },
      top: { type: 'string', default: '25' },
      'no-pin': { type: 'boolean', default: false }
    },
    strict: true
  })
  const scenarios = (values.scenarios ?? '').split(',') as Scenario[]
  for (const s of scenarios) if (!(LOAD_SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}`)
  const seconds = Number(values.duration)
  const limit = setTimeout(() => { console.error('profile: giving up after 5 min'); process.exit(3) }, 5 * 60_000)
  limit.unref()
  process.once('SIGINT', () => process.exit(130))
  process.once('SIGTERM', () => process.exit(143))

  mkdirSync(OUT, { recursive: true })
  // Pinned as in run.ts: the profiled server on a CPU of its own.
  const cpus = values['no-pin'] === true ? undefined : pinning()
  if (cpus !== undefined) pinSelf(cpus.runner)
  const redis = await BenchRedis.start(cpus?.redis)
  const report: string[] = []
  try {
    for (const scenario of scenarios) {
      const dir = join(OUT, `tmp-${process.pid}-${scenario}`)
      rmSync(dir, { recursive: true, force: true })
      const child = await ContenderProcess.start(values.name ?? 'plugin', resolve(values.server ?? ''), redis.url, [
        '--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${values.interval ?? '250'}`
      ], cpus?.server)
      let requests = 0
      try {
        const sessions = await createSessions(child.port, 1000)
        const result = await load(child.port, scenario, sessions.cookies, seconds, Number(values.connections))
        requests = result.responses
        console.error(`profile: ${scenario} ${result.rps.toFixed(0)} req/s, ${result.errors} errors`)
      } finally {
        await child.stop()
      }
      const [file] = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
      if (file === undefined) throw new Error(`no profile written in ${dir}`)
      const target = join(OUT, `${values.name ?? 'plugin'}-${scenario}.cpuprofile`)
      renameSync(join(dir, file), target)
      rmSync(dir, { recursive: true, force: true })
      report.push(formatSummary(summariseProfile(target, Number(values.top)), requests))
    }
  } finally {
    await redis.stop()
    closeAgent()
  }
  const text = report.join('\n')
  writeFileSync(join(OUT, `${values.name ?? 'plugin'}-summary.md`), text)
  process.stdout.write(text)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
