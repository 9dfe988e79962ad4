// Used to go wrong: with a URL (the client the plugin owns), app.close() while Redis was down, after
// requests had been made during the outage, sent QUIT into ioredis's offline queue behind their
// commands: it waited for a connection that was not there (about 73 s of reconnect attempts) and
// then rejected with an uncoded error, holding up a graceful shutdown. Now the plugin's client never
// queues, quits politely only when connected, within `timeout`, and otherwise drops the connection.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../../plugin'
import { Agent, sessionRoutes, uniquePrefix } from '../helpers/build'
import { startRedisServer } from '../helpers/redis-server'

t.test('app.close() resolves within timeout while Redis is down', async (t) => {
  const server = await startRedisServer(t)
  const timeout = 500
  const app = Fastify()
  await app.register(redisSession, { redis: server.url, prefix: uniquePrefix(), timeout })
  sessionRoutes(app)
  await app.ready()
  const client = app.sessionStore.redis
  // If close() hangs, drop the plugin's client ourselves so the test fails now instead of in 73 s.
  t.teardown(() => { client.disconnect() })
  const agent = new Agent(app)
  t.equal((await agent.post('/create', { data: { username: 'ann' } })).statusCode, 200, 'the app worked while Redis was up')

  await server.stop()
  const during = await agent.get('/session')
  t.equal(during.statusCode, 503, 'a request during the outage gets 503')
  t.equal(during.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')

  const started = Date.now()
  let bound: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    app.close().then(() => 'closed', (err: { code?: string }) => `rejected (${err.code ?? 'no code'})`),
    new Promise<string>((resolve) => { bound = setTimeout(() => resolve('still closing after 5 s'), 5000) })
  ])
  clearTimeout(bound)
  const took = Date.now() - started
  t.equal(outcome, 'closed', 'close() resolved')
  t.ok(took < timeout + 1500, `within timeout + slack: ${took} ms (timeout ${timeout} ms)`)

  // Closed for good: when Redis comes back, the plugin's client does not reconnect to it.
  await server.start()
  await sleep(2500) // longer than ioredis's longest wait between reconnect attempts (2 s)
  const admin = new Redis(server.url)
  t.teardown(() => { admin.disconnect() })
  const clients = String(await admin.call('CLIENT', 'LIST')).trim().split('\n')
  t.equal(clients.length, 1, 'Redis sees only our own connection once it is back')
})
