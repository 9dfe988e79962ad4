// Used to go wrong: with a client on ioredis defaults (offline queue on), commands sent while the
// connection was down waited in the client and ran when it came back: a request answered 503
// "retry shortly" still incremented, logged out or created a session seconds later, and a retried
// increment counted twice. Now a command is sent only while the client is ready: refused means not
// applied, ever.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../../plugin'
import { Agent, sessionRoutes, uniquePrefix } from '../helpers/build'
import { startRedisServer } from '../helpers/redis-server'

t.test('what a request was refused while Redis was down is not applied when it returns', async (t) => {
  // A data directory of its own, so the server comes back with what it held (SAVE before the stop).
  const dir = await mkdtemp(join(tmpdir(), 'no-queue-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const server = await startRedisServer(t, ['--dir', dir])
  const redis = new Redis(server.url) // ioredis defaults: offline queue on, resend on reconnect
  redis.on('error', () => {}) // connection errors while the server is down are expected here
  t.teardown(() => { redis.disconnect() })
  const prefix = uniquePrefix()
  const app = Fastify()
  await app.register(redisSession, { redis, prefix, timeout: 500 })
  sessionRoutes(app)
  // Handlers that wait, after their session is loaded, until the test has stopped Redis.
  let arrived = 0
  let bothIn!: () => void
  const both = new Promise<void>((resolve) => { bothIn = resolve })
  const arrive = (): void => { if (++arrived === 2) bothIn() }
  let open!: () => void
  const gate = new Promise<void>((resolve) => { open = resolve })
  app.post('/gated/increment', async (request) => {
    arrive()
    await gate
    return { value: await request.session.increment('n') }
  })
  app.post('/gated/destroy', async (request) => {
    arrive()
    await gate
    await request.session.destroy()
    return { ok: true }
  })
  t.teardown(() => app.close())

  const counter = new Agent(app)
  t.same((await counter.post('/increment/n')).json(), { value: 1 })
  const other = new Agent(app)
  await other.post('/create', { data: { username: 'bob' } })
  const a = counter.sid as string
  const b = other.sid as string

  const incremented = counter.post('/gated/increment')
  const destroyed = other.post('/gated/destroy')
  await both
  const admin = new Redis(server.url)
  await admin.save()
  admin.disconnect()
  await server.stop()
  // The client has seen the connection go (nothing of ours is on the wire any more).
  if (redis.status === 'ready') await new Promise((resolve) => redis.once('close', resolve))
  open()
  const created = app.inject({ method: 'POST', url: '/create', payload: { data: { username: 'eve' } } })

  for (const [what, res] of [['increment', await incremented], ['destroy', await destroyed], ['create', await created]] as const) {
    t.equal(res.statusCode, 503, `${what} while Redis is down: 503`)
    t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  }

  await server.start()
  // Wait for the client to reconnect, then long enough for any queued command to be flushed.
  const deadline = Date.now() + 10_000
  while (redis.status !== 'ready' && Date.now() < deadline) await sleep(50)
  t.equal(redis.status, 'ready', 'the client reconnected by itself')
  await sleep(1000)

  const check = new Redis(server.url)
  t.teardown(() => { check.disconnect() })
  t.equal(await check.hget(prefix + a, 'n'), '1', 'the refused increment was never applied')
  t.equal(await check.hget(prefix + b, 'username'), 'bob', 'the refused destroy did not log the user out')
  t.same((await check.keys(prefix + '*')).sort(), [a, b].map((id) => prefix + id).sort(), 'the refused create left no key')
  t.same((await counter.post('/increment/n')).json(), { value: 2 }, 'and a retry counts once')
})
