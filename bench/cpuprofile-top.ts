// Summarise a V8 .cpuprofile (node --cpu-prof): self time by package, the top functions by self
// time, and this plugin's functions by self and inclusive time.
//   node dist/bench/cpuprofile-top.js <file.cpuprofile> [--top 25]
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

interface CallFrame { functionName: string, url: string, lineNumber: number, columnNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface Entry { key: string, where: string, selfMicros: number, totalMicros: number }
export interface ProfileSummary {
  file: string
  /** Sampled time, idle excluded, µs. */
  busyMicros: number
  idleMicros: number
  byPackage: Array<[string, number]>
  top: Entry[]
  plugin: Entry[]
}

const IDLE = new Set(['(idle)', '(root)'])

/** Which package a frame belongs to: plugin, bench, a node_modules package, node, or V8. */
export function packageOf (frame: CallFrame): string {
  const { url, functionName } = frame
  if (url === '') return functionName.startsWith('(') ? functionName : '(V8 builtins / native)'
  if (url.startsWith('node:')) return 'node (core)'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? rest[0] + '/' + rest[1] : rest[0]
  }
  if (url.includes('/dist/plugin/')) return 'plugin'
  if (url.includes('/dist/bench/')) return 'bench (server harness)'
  return url
}

function label (frame: CallFrame): { key: string, where: string } {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName
  const file = frame.url === '' ? '' : frame.url.replace(/^file:\/\//, '')
  const short = file.includes('/node_modules/')
    ? file.slice(file.lastIndexOf('/node_modules/') + 14)
    : file.includes('/dist/') ? file.slice(file.indexOf('/dist/') + 1) : file
  const where = short === '' ? '' : `${short}:${frame.lineNumber + 1}`
  return { key: `${name} ${where}`, where }
}

export function summariseProfile (path: string, topN = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const self = new Map<string, Entry>()
  const byPackage = new Map<string, number>()
  let busy = 0
  let idle = 0
  // timeDeltas[i] is the time before sample i; attribute it to that sample's node.
  for (let i = 0; i < profile.samples.length; i++) {
    const micros = profile.timeDeltas[i] ?? 0
    const node = byId.get(profile.samples[i])
    if (node === undefined) continue
    const frame = node.callFrame
    if (IDLE.has(frame.functionName) && frame.url === '') {
      idle += micros
      continue
    }
    busy += micros
    const pkg = packageOf(frame)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros)
    const { key, where } = label(frame)
    const entry = self.get(key) ?? { key, where, selfMicros: 0, totalMicros: 0 }
    entry.selfMicros += micros
    self.set(key, entry)
    // Inclusive time: every distinct function on the stack gets the sample once.
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frameUp = byId.get(id)?.callFrame
      if (frameUp === undefined) break
      const up = label(frameUp)
      if (seen.has(up.key)) continue
      seen.add(up.key)
      const e = self.get(up.key) ?? { key: up.key, where: up.where, selfMicros: 0, totalMicros: 0 }
      e.totalMicros += micros
      self.set(up.key, e)
    }
  }
  const entries = [...self.values()]
  return {
    file: path,
    busyMicros: busy,
    idleMicros: idle,
    byPackage: [...byPackage].sort((a, b) => b[1] - a[1]),
    top: entries.filter((e) => e.selfMicros > 0).sort((a, b) => b.selfMicros - a.selfMicros).slice(0, topN),
    plugin: entries.filter((e) => e.where.startsWith('dist/plugin/')).sort((a, b) => b.totalMicros - a.totalMicros).slice(0, topN)
  }
}

const pct = (part: number, whole: number): string => (100 * part / whole).toFixed(1).padStart(5) + '%'

export function formatSummary (s: ProfileSummary, requests?: number): string {
  const out: string[] = []
  const perReq = requests === undefined ? '' : `, ${requests} requests, ${(s.busyMicros / requests).toFixed(1)} µs busy per request`
  out.push(`### ${basename(s.file)}: ${(s.busyMicros / 1e6).toFixed(2)} s busy, ${(s.idleMicros / 1e6).toFixed(2)} s idle${perReq}`)
  out.push('')
  out.push('Self time by package:')
  out.push('')
  for (const [pkg, micros] of s.byPackage.slice(0, 14)) out.push(`    ${pct(micros, s.busyMicros)}  ${pkg}`)
  out.push('')
  out.push('Top functions by self time (share of busy time):')
  out.push('')
  for (const e of s.top) out.push(`    ${pct(e.selfMicros, s.busyMicros)}  ${e.key}`)
  out.push('')
  out.push('Plugin functions (self / inclusive):')
  out.push('')
  for (const e of s.plugin) out.push(`    ${pct(e.selfMicros, s.busyMicros)} / ${pct(e.totalMicros, s.busyMicros)}  ${e.key}`)
  return out.join('\n') + '\n'
}

if (require.main === module) {
  const args = process.argv.slice(2)
  const topAt = args.indexOf('--top')
  const topN = topAt === -1 ? 25 : Number(args.splice(topAt, 2)[1])
  if (args.length === 0) {
    console.error('usage: node dist/bench/cpuprofile-top.js <file.cpuprofile> [--top 25]')
    process.exit(2)
  }
  for (const file of args) process.stdout.write(formatSummary(summariseProfile(file, topN)) + '\n')
}
