// Setup and checks that run one request at a time: creating the sessions the load cycles through,
// counting Redis round trips and commands per request exactly, checking each answer's content,
// and measuring what one stored session costs in Redis memory.
import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'
import type { ContenderProcess } from './contender'
import { cookiePair, request } from './http'
import { ROUTE_OF, type Scenario } from './scenarios'

export const COOKIE_NAME = 'sid'

export interface Sessions {
  cookies: string[]
  usernames: string[]
  /** The counter each session holds, as far as the runner knows (exact until a load run). */
  counters: number[]
}

export function usernameFor (i: number): string {
  return 'user-' + String(i).padStart(6, '0')
}

/** Log `count` more users in through the contender's own /login route, `concurrency` at a time. */
export async function createSessions (port: number, count: number, concurrency = 16, sessions: Sessions = { cookies: [], usernames: [], counters: [] }): Promise<Sessions> {
  const first = sessions.cookies.length
  const end = first + count
  let next = first
  const worker = async (): Promise<void> => {
    while (next < end) {
      const i = next++
      const username = usernameFor(i)
      const reply = await request(port, 'POST', '/login', { json: { username } })
      const cookie = cookiePair(reply.setCookie, COOKIE_NAME)
      if (reply.status !== 200 || cookie === undefined) {
        throw new Error(`login ${i} answered ${reply.status} with ${reply.setCookie.length} Set-Cookie header(s): ${reply.body.slice(0, 200)}`)
      }
      sessions.cookies[i] = cookie
      sessions.usernames[i] = username
      sessions.counters[i] = 0
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return sessions
}

/** Calls per command since the server started, from INFO commandstats (INFO itself left out). */
export async function commandCounts (admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats')
  const counts = new Map<string, number>()
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim())
    if (match !== null && match[1] !== 'info') counts.set(match[1], Number(match[2]))
  }
  return counts
}

export function commandDelta (before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>()
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0)
    if (d > 0) delta.set(name, d)
  }
  return delta
}

export function sum (counts: Map<string, number>): number {
  let total = 0
  for (const n of counts.values()) total += n
  return total
}

/** Redis's own CPU time so far, in microseconds (INFO cpu: user + sys of the main process). */
export async function redisCpuMicros (admin: Redis): Promise<number> {
  const info = await admin.info('cpu')
  const get = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
  return Math.round((get('used_cpu_user') + get('used_cpu_sys')) * 1e6)
}

export async function usedMemory (admin: Redis): Promise<number> {
  const info = await admin.info('memory')
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0)
}

export interface ProbeResult {
  requests: number
  roundTripsPerRequest: number
  /** Commands Redis ran per request, those inside Lua scripts included. */
  commandsPerRequest: number
  /** Per command name, calls per request. */
  commands: Record<string, number>
  /** Answers that were not what the route must return (wrong status, body or cookie). */
  invalid: number
  firstInvalid?: string
}

/**
 * Send `count` requests of a scenario one at a time (after `warm` unmeasured ones) and count what
 * each cost. Checks every answer: the right user for the cookie, the counter exactly one higher,
 * a working cookie after login, 200 from the public route.
 */
export async function probe (contender: ContenderProcess, admin: Redis, scenario: Scenario, sessions: Sessions, count: number, warm = 10): Promise<ProbeResult> {
  const { method, path } = ROUTE_OF[scenario]
  let invalid = 0
  let firstInvalid: string | undefined
  const fail = (what: string): void => {
    invalid++
    firstInvalid ??= what
  }
  const newCookies: Array<[string, string]> = []
  let cursor = 0
  const one = async (): Promise<void> => {
    const i = cursor++ % sessions.cookies.length
    if (scenario === 'login') {
      const username = usernameFor(900_000 + (cursor % 1000))
      const reply = await request(contender.port, method, path, { json: { username } })
      const cookie = cookiePair(reply.setCookie, COOKIE_NAME)
      if (reply.status !== 200 || cookie === undefined) fail(`login: ${reply.status} ${reply.body.slice(0, 100)}`)
      else newCookies.push([cookie, username])
      return
    }
    const reply = await request(contender.port, method, path, { cookie: sessions.cookies[i] })
    if (reply.status !== 200) {
      fail(`${scenario}: ${reply.status} ${reply.body.slice(0, 100)}`)
      return
    }
    const body = JSON.parse(reply.body) as { username?: string, counter?: number, ok?: boolean }
    if (scenario === 'read' && body.username !== sessions.usernames[i]) fail(`read: expected ${sessions.usernames[i]}, got ${reply.body}`)
    if (scenario === 'write' || scenario === 'lazy') {
      const expected = sessions.counters[i] + 1
      if (body.counter !== expected) fail(`${scenario}: expected counter ${expected}, got ${reply.body}`)
      sessions.counters[i] = expected
    }
    if (scenario === 'public' && body.ok !== true) fail(`public: ${reply.body}`)
  }

  for (let n = 0; n < warm; n++) await one()
  newCookies.length = 0
  const stats0 = await contender.stats()
  const commands0 = await commandCounts(admin)
  for (let n = 0; n < count; n++) await one()
  const stats1 = await contender.stats()
  const commands1 = await commandCounts(admin)

  // A new session's cookie must work on the next request (checked after counting).
  for (const [cookie, username] of newCookies.slice(0, 5)) {
    const reply = await request(contender.port, 'GET', '/read', { cookie })
    if (reply.status !== 200 || (JSON.parse(reply.body) as { username?: string }).username !== username) {
      fail(`login: the new cookie did not read back (${reply.status} ${reply.body.slice(0, 100)})`)
    }
  }

  const delta = commandDelta(commands0, commands1)
  const commands: Record<string, number> = {}
  for (const [name, calls] of [...delta].sort((a, b) => b[1] - a[1])) commands[name] = calls / count
  return {
    requests: count,
    roundTripsPerRequest: (stats1.roundTrips - stats0.roundTrips) / count,
    commandsPerRequest: sum(delta) / count,
    commands,
    invalid,
    firstInvalid
  }
}

export interface MemoryResult {
  sessions: number
  /** Median MEMORY USAGE (SAMPLES 0) of the session keys, bytes. */
  memoryUsage: number
  /** used_memory growth per session while most of them were created (keys, expiry entries, allocator). */
  usedMemoryPerSession: number
  type: string
  encoding: string
  /** The key and value bytes of one typical session, for the report. */
  keyBytes: number
}

/** What the sessions in an otherwise empty database cost. */
export async function measureMemory (admin: Redis, usedBefore: number, usedAfter: number, counted: number): Promise<MemoryResult> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await admin.scan(cursor, 'COUNT', 1000)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  if (keys.length === 0) throw new Error('no session keys to measure')
  const pipeline = admin.pipeline()
  for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0)
  const usages = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n)).sort((a, b) => a - b)
  return {
    sessions: keys.length,
    memoryUsage: usages[Math.floor(usages.length / 2)],
    usedMemoryPerSession: Math.round((usedAfter - usedBefore) / counted),
    type: await admin.type(keys[0]),
    encoding: String(await admin.object('ENCODING', keys[0])),
    keyBytes: Buffer.byteLength(keys[0])
  }
}

/** Busy and total CPU time of the whole machine so far, µs (from /proc/stat; zeros where there is none). */
export function machineCpu (): { busy: number, total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal; guest time is already counted in user.
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
    const idle = fields[3] + fields[4]
    const tick = 1e6 / 100 // USER_HZ is 100 on Linux
    return { busy: (total - idle) * tick, total: total * tick }
  } catch {
    return { busy: 0, total: 0 }
  }
}
