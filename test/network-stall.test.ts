// A network stall: the plugin reaches Redis through a loopback TCP proxy that stops forwarding (the
// connection stays open, nothing moves: a switch that drops packets, a frozen VM). Every request during
// the stall answers within the timeout, a coded 503 that says what became of it (a read: retry; a
// write: sent but not confirmed). When forwarding resumes, requests succeed again and the counter
// holds the confirmed increments plus at most the unconfirmed ones (which Redis may apply late: that
// is what "may or may not have been applied" means).
import { createConnection, createServer, type Socket } from 'node:net'
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import redisSession from '../plugin'
import { Agent, sessionRoutes, uniquePrefix } from './helpers/build'
import { startRedisServer } from './helpers/redis-server'

const TIMEOUT = 400

/** A TCP proxy to `port` that can stop forwarding (holding what arrives) and start again. */
async function stallableProxy (t: { teardown: (fn: () => Promise<void> | void) => void }, port: number): Promise<{ port: number, stall: () => void, resume: () => void }> {
  let stalled = false
  const held: Array<() => void> = []
  const sockets = new Set<Socket>()
  const forward = (from: Socket, to: Socket): void => {
    from.on('data', (chunk) => {
      if (stalled) held.push(() => to.write(chunk))
      else to.write(chunk)
    })
  }
  const server = createServer((client) => {
    const upstream = createConnection(port, '127.0.0.1')
    sockets.add(client).add(upstream)
    forward(client, upstream)
    forward(upstream, client)
    const close = (): void => { client.destroy(); upstream.destroy() }
    client.on('close', close).on('error', close)
    upstream.on('close', close).on('error', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return {
    port: (server.address() as { port: number }).port,
    stall: () => { stalled = true },
    resume: () => {
      stalled = false
      for (const send of held.splice(0)) send()
    }
  }
}

t.test('a network stall: every request answers within the timeout, and recovers', async (t) => {
  const server = await startRedisServer(t)
  const proxy = await stallableProxy(t, server.port)
  const redis = new Redis(proxy.port, '127.0.0.1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false })
  const admin = new Redis(server.url)
  t.teardown(() => { redis.disconnect(); admin.disconnect() })
  const prefix = uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { redis, prefix, timeout: TIMEOUT })
  sessionRoutes(app)
  await app.ready()
  t.teardown(() => app.close())

  const agent = new Agent(app)
  await agent.post('/create', { data: { username: 'noa' } })
  let ok = 0
  for (let i = 0; i < 5; i++) if ((await agent.post('/increment/n')).statusCode === 200) ok++
  t.equal(ok, 5)

  proxy.stall()
  let unknown = 0
  const during: Array<{ status: number, ms: number, message: string }> = []
  const timed = async (request: () => Promise<{ statusCode: number, json: () => { message?: string, code?: string } }>): Promise<void> => {
    const started = Date.now()
    const res = await request()
    during.push({ status: res.statusCode, ms: Date.now() - started, message: res.json().message ?? '' })
  }
  // One after another, and several at once.
  for (let i = 0; i < 3; i++) await timed(() => agent.post('/increment/n'))
  await Promise.all([
    timed(() => agent.get('/session')),
    timed(() => agent.post('/increment/n')),
    timed(() => agent.post('/set', { color: 'blue' })),
    timed(() => new Agent(app).post('/create'))
  ])
  for (const d of during) {
    t.equal(d.status, 503, 'a 503')
    t.ok(d.ms <= TIMEOUT + 300, `within the timeout (${d.ms} ms)`)
    if (/may or may not have been applied/.test(d.message)) unknown++
  }
  // The requests with a cookie stall in their load (a read: nothing to doubt); the new session's write
  // was sent and not confirmed.
  t.equal(unknown, 1, 'the write (a new session) says its outcome is unknown')
  t.equal(during.filter((d) => /^The session store is unavailable \(.*\)\. Retry shortly\.$/.test(d.message)).length, during.length - 1, 'the loads say retry')

  await sleep(100)
  proxy.resume()
  // Recovered: the held commands drain, then requests succeed again.
  let back = false
  for (let i = 0; i < 20 && !back; i++) {
    const res = await agent.post('/increment/n')
    if (res.statusCode === 200) {
      ok++
      back = true
    } else {
      await sleep(100)
    }
  }
  t.ok(back, 'requests succeed again once the network moves')
  const stored = Number(await admin.hget(prefix + (agent.sid as string), 'n'))
  t.ok(stored >= ok && stored <= ok + unknown, `the counter holds the confirmed increments, plus at most the unconfirmed (${stored}: ${ok} confirmed, ${unknown} unknown)`)
})
