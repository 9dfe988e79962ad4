// npm run load: many concurrent clients against a minimal app (bench/servers/plugin.ts) for a bounded
// time, then a check of what Redis holds: every session's counter equals the successful increments its
// client got (no lost update, none counted twice; plus at most the one request still in flight when
// the load stopped), and no session key lacks a TTL.
//   npm run load -- [--clients 100] [--duration 20] [--route increment|increment-lazy]
//   npm run load -- --demo [--clients 100] [--duration 20]   the demo instead (dist/demo/server.js):
//                  each client logs in through its form, then posts "Count a page view" (POST
//                  /increment with its CSRF token); its page_views must equal the 303s it got.
//   npm run load -- --soak [--minutes 3] [--interval 5]   also samples the app's heap and RSS and
//                  Redis used_memory, writes bench/results/soak.json and soak.svg, and checks that
//                  none of them grows once the session count is steady.
// A private redis-server on a free loopback port, the app as a child process, both stopped by PID;
// everything stops by itself. Exit code 1 when a check fails.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { ContenderProcess } from './lib/contender'
import { closeAgent } from './lib/http'
import { createSessions } from './lib/probe'
import { BenchRedis, freePort } from './lib/redis-server'
import { PREFIX } from './lib/server-kit'
import { soakChart, type Sample } from './lib/soak-chart'

interface AutocannonClient {
  setHeaders: (headers: Record<string, string>) => void
  setHeadersAndBody: (headers: Record<string, string>, body: string) => void
}
interface AutocannonResult {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  '2xx': number
  latency: { p50: number, p99: number }
}
type Instance = Promise<AutocannonResult> & { on: (event: 'response', listener: (client: AutocannonClient, status: number) => void) => void }
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Instance

const RESULTS = resolve(__dirname, '..', '..', 'bench', 'results')

function positive (name: string, value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} expects a positive number, got ${value}`)
  return n
}

async function sample (app: ContenderProcess, admin: Redis, started: number): Promise<Sample> {
  const stats = await app.stats()
  const info = await admin.info('memory')
  return {
    seconds: Math.round((Date.now() - started) / 100) / 10,
    heapUsed: stats.heapUsed,
    rss: stats.rss,
    redisUsedMemory: Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN)
  }
}

/** The demo as a child process on a free loopback port, with its Redis; stopped by PID. */
async function startDemo (redisUrl: string): Promise<{ port: number, stop: () => Promise<void> }> {
  const port = await freePort()
  const child = spawn(process.execPath, [join(__dirname, '..', 'demo', 'server.js'), '--port', String(port), '--host', '127.0.0.1'], {
    env: { ...process.env, REDIS_URL: redisUrl, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  const reap = (): void => { try { if (child.exitCode === null) child.kill('SIGKILL') } catch {} }
  process.once('exit', reap)
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    if (await Promise.race([exited, sleep(5000, 'timeout')]) === 'timeout') child.kill('SIGKILL')
  }
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    if (child.exitCode !== null) throw new Error(`the demo exited with code ${child.exitCode} before listening`)
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return { port, stop }
    } catch {}
    await sleep(100)
  }
  await stop()
  throw new Error(`the demo did not listen on port ${port} within 15 s`)
}

/** A demo login through its form: the session cookie, and the CSRF token its forms carry (read back from Redis). */
async function demoLogin (port: number, admin: Redis, i: number): Promise<{ cookie: string, id: string, csrf: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `username=load-${i}&ttl=1800`
  })
  const pair = res.headers.getSetCookie().map((c) => c.split(';', 1)[0]).find((c) => c.startsWith('sid='))
  if (res.status !== 303 || pair === undefined) throw new Error(`demo login ${i} answered ${res.status} without a session cookie`)
  const id = pair.slice(4)
  const csrf = await admin.hget(PREFIX + id, 'csrf_token')
  if (csrf === null) throw new Error(`demo login ${i}: no csrf_token in its session`)
  return { cookie: pair, id, csrf }
}

/** Growth of a series once steady: the median of its last third against the median of its middle third. */
function growth (values: number[]): number {
  const third = Math.floor(values.length / 3)
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  return median(values.slice(values.length - third)) / median(values.slice(third, 2 * third)) - 1
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '100' },
      duration: { type: 'string', default: '20' },
      route: { type: 'string', default: 'increment' },
      soak: { type: 'boolean', default: false },
      demo: { type: 'boolean', default: false },
      minutes: { type: 'string', default: '3' },
      interval: { type: 'string', default: '5' }
    }
  })
  const clients = positive('clients', values.clients)
  const seconds = values.soak ? Math.round(positive('minutes', values.minutes) * 60) : positive('duration', values.duration)
  const intervalMs = positive('interval', values.interval) * 1000
  if (values.route !== 'increment' && values.route !== 'increment-lazy') throw new Error('--route expects increment or increment-lazy')
  const demo = values.demo
  if (demo && (values.soak || values.route !== 'increment')) throw new Error('--demo drives the demo\'s own POST /increment; it takes neither --soak nor --route')

  const redis = await BenchRedis.start()
  const admin = new Redis(redis.url)
  let app: ContenderProcess | undefined
  let stopDemo: (() => Promise<void>) | undefined
  const failures: string[] = []
  try {
    // One session per client, each starting at 0: its client's successful increments are what it must hold.
    let port: number
    let cookies: string[]
    let ids: string[]
    let bodies: string[] = []
    if (demo) {
      const started = await startDemo(redis.url)
      stopDemo = started.stop
      port = started.port
      const logins = []
      for (let i = 0; i < clients; i++) logins.push(await demoLogin(port, admin, i))
      cookies = logins.map((l) => l.cookie)
      ids = logins.map((l) => l.id)
      bodies = logins.map((l) => '_csrf=' + encodeURIComponent(l.csrf))
    } else {
      app = await ContenderProcess.start('plugin', join(__dirname, 'servers', 'plugin.js'), redis.url)
      port = app.port
      cookies = (await createSessions(app.port, clients)).cookies
      ids = cookies.map((cookie) => cookie.slice(cookie.indexOf('=') + 1))
    }
    // The demo answers a counted page view with its 303 back to the page.
    const success = demo ? (status: number) => status === 303 : (status: number) => status >= 200 && status < 300
    const field = demo ? 'page_views' : 'counter'
    const route = demo ? 'increment' : values.route
    const okByClient = new Array<number>(clients).fill(0)
    const indexOf = new WeakMap<AutocannonClient, number>()
    let nextClient = 0

    console.error(`load: ${clients} clients, POST /${route}${demo ? ' (the demo)' : ''} for ${seconds} s${values.soak ? `, sampling every ${intervalMs / 1000} s` : ''}`)
    const started = Date.now()
    const samples: Sample[] = values.soak ? [await sample(app as ContenderProcess, admin, started)] : []
    const sampler = values.soak
      ? setInterval(() => { sample(app as ContenderProcess, admin, started).then((s) => samples.push(s), () => {}) }, intervalMs)
      : undefined
    const instance = autocannon({
      url: `http://127.0.0.1:${port}/${route}`,
      connections: clients,
      pipelining: 1,
      duration: seconds,
      timeout: 10,
      method: 'POST',
      // Each connection is one browser with its own session; setupClient runs again on a reconnect.
      setupClient (client: AutocannonClient) {
        let i = indexOf.get(client)
        if (i === undefined) indexOf.set(client, i = nextClient++ % clients)
        if (demo) client.setHeadersAndBody({ cookie: cookies[i], 'content-type': 'application/x-www-form-urlencoded' }, bodies[i])
        else client.setHeaders({ cookie: cookies[i] })
      }
    })
    const statuses = new Map<number, number>()
    instance.on('response', (client, status) => {
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      if (success(status)) okByClient[indexOf.get(client) as number]++
    })
    const result = await instance
    clearInterval(sampler)
    if (values.soak) samples.push(await sample(app as ContenderProcess, admin, started))

    const total = result['2xx'] + result.non2xx
    const failed = [...statuses].filter(([status]) => !success(status)).reduce((n, [, count]) => n + count, 0)
    console.log(`throughput: ${(total / result.duration).toFixed(0)} req/s over ${result.duration.toFixed(1)} s; ` +
      `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; ${result['2xx']} 2xx, ${result.non2xx} non-2xx, ${result.errors} errors (${result.timeouts} timeouts); statuses ${[...statuses].map(([code, n]) => `${code}: ${n}`).join(', ')}`)
    if (failed + result.errors > 0) failures.push(`${failed} unsuccessful responses and ${result.errors} errors under load`)

    // What Redis holds.
    const counters = await Promise.all(ids.map((id) => admin.hget(PREFIX + id, field)))
    // autocannon stops with each connection's last request still in flight (pipelining 1): the
    // server applies it, autocannon never counts its answer. So a counter holds the successful increments
    // its client counted, or one more: anything else is a lost or a doubled update.
    const wrong = counters.filter((value, i) => Number(value) !== okByClient[i] && Number(value) !== okByClient[i] + 1).length
    const inFlight = counters.filter((value, i) => Number(value) === okByClient[i] + 1).length
    const counted = okByClient.reduce((a, b) => a + b, 0)
    const stored = counters.reduce((a, value) => a + Number(value), 0)
    console.log(`counters: ${clients - wrong} of ${clients} sessions hold exactly the increments their client was answered ` +
      `(${inFlight} of them plus the one request in flight when the load stopped; ${counted} increments answered, ${stored} stored)`)
    if (wrong > 0) failures.push(`${wrong} sessions whose counter differs from the increments their client was told of`)
    let keys = 0
    let withoutTtl = 0
    let cursor = '0'
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', PREFIX + '*', 'COUNT', 500)
      cursor = next
      keys += batch.length
      const ttls = await Promise.all(batch.map((key) => admin.ttl(key)))
      withoutTtl += ttls.filter((ttl) => ttl < 0).length
    } while (cursor !== '0')
    console.log(`keys: ${keys} session keys, ${withoutTtl} without a TTL`)
    if (withoutTtl > 0) failures.push(`${withoutTtl} session keys without a TTL`)

    if (values.soak) {
      const limits = { heapUsed: 0.1, rss: 0.1, redisUsedMemory: 0.05 } as const
      const growths = Object.fromEntries(Object.keys(limits).map((k) => [k, growth(samples.map((s) => s[k as keyof typeof limits]))]))
      for (const [k, limit] of Object.entries(limits)) {
        const g = growths[k]
        console.log(`soak: ${k} ${(g * 100).toFixed(1)} % from the middle to the last third of the run (limit ${(limit * 100).toFixed(0)} %)`)
        if (!(g <= limit)) failures.push(`${k} grew ${(g * 100).toFixed(1)} % while the session count was steady`)
      }
      mkdirSync(RESULTS, { recursive: true })
      const json = { date: new Date().toISOString(), node: process.version, clients, seconds, route, result, growths, samples, failures }
      writeFileSync(join(RESULTS, 'soak.json'), JSON.stringify(json, null, 2) + '\n')
      writeFileSync(join(RESULTS, 'soak.svg'), soakChart(samples, `${clients} clients, POST /${route}, ${Math.round(seconds / 60)} min, Node ${process.version}`))
      console.log(`soak: wrote ${join(RESULTS, 'soak.json')} and soak.svg`)
    }
  } finally {
    await app?.stop()
    await stopDemo?.()
    admin.disconnect()
    await redis.stop()
    closeAgent()
  }
  if (failures.length > 0) {
    for (const failure of failures) console.error(`load: FAIL ${failure}`)
    process.exitCode = 1
  } else {
    console.log('load: PASS')
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
