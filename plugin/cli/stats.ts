// `stats`: how many sessions, when they expire, how big they are, what Redis spends on each (MEMORY
// USAGE on a sample) and which fields they hold, from one SCAN of every master.
import type { RedisSessionStore } from '../store'
import { pages } from './inspect'
import { type Output, Progress, bytes, histogram, pairs, table } from './output'

export interface StatsOptions {
  pageSize: number
  /** How many sessions MEMORY USAGE is asked about (the first ones found). */
  sample: number
  json: boolean
  progress: boolean | undefined
}

const TTL_BUCKETS: Array<[string, number]> = [
  ['< 1 min', 60], ['< 5 min', 300], ['< 15 min', 900], ['< 30 min', 1800], ['< 1 h', 3600],
  ['< 6 h', 21600], ['< 1 d', 86400], ['< 7 d', 604800], ['≥ 7 d', Infinity]
]
const SIZE_BUCKETS: Array<[string, number]> = [
  ['< 128 B', 128], ['< 256 B', 256], ['< 512 B', 512], ['< 1 KiB', 1024], ['< 4 KiB', 4096],
  ['< 16 KiB', 16384], ['< 64 KiB', 65536], ['≥ 64 KiB', Infinity]
]
const TOP_FIELDS = 10

function bucket (buckets: Array<[string, number]>, counts: number[], value: number): void {
  for (let i = 0; i < buckets.length; i++) {
    if (value < buckets[i][1]) {
      counts[i]++
      return
    }
  }
}

function quantile (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

export async function stats (store: RedisSessionStore, output: Output, options: StatsOptions): Promise<void> {
  const progress = new Progress(output, options.progress)
  const ttlCounts = TTL_BUCKETS.map(() => 0)
  const sizeCounts = SIZE_BUCKETS.map(() => 0)
  const fieldCounts = new Map<string, number>()
  const sampleIds: string[] = []
  let sessions = 0
  let withoutTtl = 0
  let totalBytes = 0
  let scanned = 0
  for await (const page of pages(store, options.pageSize, (n) => { scanned = n; progress.tick(n) })) {
    for (const session of page) {
      sessions++
      if (session.expiresIn < 0) withoutTtl++
      else bucket(TTL_BUCKETS, ttlCounts, session.expiresIn)
      bucket(SIZE_BUCKETS, sizeCounts, session.bytes)
      totalBytes += session.bytes
      for (const field of Object.keys(session.fields)) fieldCounts.set(field, (fieldCounts.get(field) ?? 0) + 1)
      if (sampleIds.length < options.sample) sampleIds.push(session.id)
    }
  }
  progress.done(scanned)

  const usage = (await Promise.all(sampleIds.map((id) => store.memoryUsage(id))))
    .filter((n): n is number => n !== null)
    .sort((a, b) => a - b)
  const memory = usage.length === 0
    ? null
    : {
        sampled: usage.length,
        mean: Math.round(usage.reduce((sum, n) => sum + n, 0) / usage.length),
        median: quantile(usage, 0.5),
        p95: quantile(usage, 0.95),
        max: usage[usage.length - 1]
      }
  const fields = [...fieldCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_FIELDS)
    .map(([field, count]) => ({ field, sessions: count, share: count / sessions }))
  const result = {
    prefix: store.prefix,
    sessions,
    withoutTtl,
    ttl: TTL_BUCKETS.map(([label], i) => ({ label, count: ttlCounts[i] })),
    size: SIZE_BUCKETS.map(([label], i) => ({ label, count: sizeCounts[i] })),
    meanBytes: sessions === 0 ? 0 : Math.round(totalBytes / sessions),
    memory,
    fields
  }
  if (options.json) {
    output.out(JSON.stringify(result, null, 2) + '\n')
    return
  }
  if (sessions === 0) {
    output.out(`No sessions under the prefix "${store.prefix}".\n`)
    return
  }
  output.out(pairs([
    ['sessions', sessions.toLocaleString('en-US')],
    ['without a TTL', withoutTtl === 0 ? '0' : `${withoutTtl} (the plugin never leaves a key so; something else wrote them)`],
    ['field bytes', `${bytes(result.meanBytes)} per session on average`],
    ['memory', memory === null
      ? '-'
      : `${bytes(memory.mean)} per session on average (median ${bytes(memory.median)}, p95 ${bytes(memory.p95)}, max ${bytes(memory.max)}; MEMORY USAGE of ${memory.sampled})`],
    ['estimated', memory === null ? '-' : `${bytes(memory.mean * sessions)} for all sessions`]
  ]))
  output.out('\nExpires in (idle, if not used again)\n')
  output.out(histogram(result.ttl))
  output.out('\nSize (field names and values)\n')
  output.out(histogram(result.size))
  output.out('\nMost common fields\n')
  if (fields.length === 0) output.out('  none: the sessions hold no application fields\n')
  else {
    output.out(table(['FIELD', 'SESSIONS', 'SHARE'],
      fields.map((f) => [f.field, String(f.sessions), `${(f.share * 100).toFixed(1)} %`]), new Set([1, 2])))
  }
}
