// Used to go wrong: a coded error kept the ioredis ReplyError as its `cause`, and ioredis puts the
// command on it (`command: { name, args }`): the full key, so the session ID, and every value being
// written. An error reporter or logger that walks `cause` wrote them all down. Now the cause keeps
// only the original's name and message.
import { inspect } from 'node:util'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../../plugin'
import { Agent, sessionRoutes, uniquePrefix } from '../helpers/build'
import { startRedisServer } from '../helpers/redis-server'

const VALUE = 'value-that-must-stay-private-1234'

/** Every object on the cause chain, with its own properties (enumerable or not), as text. */
function chainText (err: unknown): string {
  const parts: string[] = [inspect(err, { depth: Infinity, showHidden: true })]
  for (let e: unknown = err, i = 0; e !== null && typeof e === 'object' && i < 10; e = (e as { cause?: unknown }).cause, i++) {
    parts.push(JSON.stringify(e, Object.getOwnPropertyNames(e)))
    parts.push(JSON.stringify(e))
  }
  return parts.join('\n')
}

t.test('the cause chain and the logs carry no session ID and no value', async (t) => {
  const server = await startRedisServer(t)
  const redis = new Redis(server.url)
  const admin = new Redis(server.url)
  t.teardown(() => { redis.disconnect(); admin.disconnect() })
  const prefix = uniquePrefix()
  const logs: string[] = []
  const app = Fastify({ logger: { level: 'trace', stream: { write: (line: string) => { logs.push(line) } } } })
  await app.register(redisSession, { redis, prefix })
  sessionRoutes(app)
  const caught: Array<{ where: string, code?: string, text: string }> = []
  const record = (where: string, err: unknown): void => { caught.push({ where, code: (err as { code?: string }).code, text: chainText(err) }) }
  // Redis answers WRONGTYPE: the key was replaced by a string after the session was loaded.
  app.post('/wrongtype', async (request) => {
    const key = prefix + (request.session.id as string)
    await admin.del(key)
    await admin.set(key, 'not a hash')
    try {
      return { value: await request.session.increment('n') }
    } catch (err) {
      record('handler', err)
      throw err
    }
  })
  // The same, for a write carrying a value.
  app.post('/wrongtype-write', async (request) => {
    const key = prefix + (request.session.id as string)
    await admin.del(key)
    await admin.set(key, 'not a hash')
    request.session.set('note', VALUE)
    try {
      await request.session.save()
    } catch (err) {
      record('handler', err)
      throw err
    }
    return { ok: true }
  })
  // Redis answers OOM to a write carrying a value.
  app.post('/oom', async (request) => {
    request.session.set('note', VALUE)
    try {
      await request.session.save()
    } catch (err) {
      record('handler', err)
      throw err
    }
    return { ok: true }
  })
  app.setErrorHandler((err, request, reply) => {
    record('error handler', err)
    // As apps do: log the error with whatever a logger makes of its cause.
    request.log.error({ err }, 'request failed')
    reply.send(err)
  })
  t.teardown(() => app.close())

  async function check (t: Test, route: string, status: number, code: string, setup: (agent: Agent) => Promise<void> = async () => {}): Promise<void> {
    const agent = new Agent(app)
    await agent.post('/create', { data: { username: 'ann' } })
    const id = agent.sid as string
    await setup(agent)
    caught.length = 0
    logs.length = 0
    const res = await agent.post(route)
    t.equal(res.statusCode, status)
    t.equal(res.json().code, code)
    t.same(caught.map((c) => [c.where, c.code]), [['handler', code], ['error handler', code]], 'the app caught the coded error in the handler and the error handler')
    for (const c of caught) {
      t.match(c.text, /cause/, `${c.where}: the error has a cause`)
      t.notOk(c.text.includes(id), `${c.where}: no session ID anywhere on the cause chain`)
      t.notOk(c.text.includes(VALUE), `${c.where}: no stored value anywhere on the cause chain`)
    }
    t.ok(logs.some((l) => l.includes(code) && l.includes('cause')), 'the app logged the error with its cause')
    t.notOk(logs.some((l) => l.includes(id)), 'no session ID in the logs')
    t.notOk(logs.some((l) => l.includes(VALUE)), 'no value in the logs')
    t.notOk(res.body.includes(id) || res.body.includes(VALUE), 'nor in the response')
  }

  t.test('WRONGTYPE on an increment', (t) => check(t, '/wrongtype', 500, 'FST_REDIS_SESSION_REDIS_ERROR'))
  t.test('WRONGTYPE on a write', (t) => check(t, '/wrongtype-write', 500, 'FST_REDIS_SESSION_REDIS_ERROR'))
  t.test('OOM', async (t) => {
    try {
      await check(t, '/oom', 503, 'FST_REDIS_SESSION_UNAVAILABLE', async () => {
        await admin.config('SET', 'maxmemory-policy', 'noeviction')
        await admin.config('SET', 'maxmemory', '1')
      })
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
  })
})
