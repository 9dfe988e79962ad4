// Used to go wrong: when regenerate()'s write of the new key timed out, the request then waited for
// the restore of the old session as well, with a fresh budget: a request could wait about twice
// `timeout`. Now the restore is sent and the request answers at its one deadline; the restore still
// puts the session back.
import t from 'tap'
import { Redis } from 'ioredis'
import { Agent, build, sessionRoutes } from '../helpers/build'
import { redisUrl } from '../helpers/redis-server'

type Hooked = Redis & { fastifySessionWrite: (key: string, mode: string, ...rest: unknown[]) => Promise<unknown> }

t.test('a regenerate() whose write times out answers within timeout, and the session is put back', async (t) => {
  const client = new Redis(await redisUrl()) as Hooked
  t.teardown(() => { client.disconnect() })
  const timeout = 300
  const { app, redis, key } = await build(t, { redis: client, timeout }, sessionRoutes)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  // The new key's write never answers; the restore is slow too (but does answer).
  const write = client.fastifySessionWrite
  client.fastifySessionWrite = function (this: Hooked, key: string, mode: string, ...rest: unknown[]) {
    if (mode === 'new') return new Promise(() => {})
    return new Promise((resolve, reject) => setTimeout(() => { write.call(this, key, mode, ...rest).then(resolve, reject) }, timeout - 50))
  }
  const started = Date.now()
  const res = await agent.post('/regenerate')
  const took = Date.now() - started
  t.equal(res.statusCode, 503)
  t.ok(took < timeout + 150, `answered after ${took} ms (timeout ${timeout} ms)`)
  await new Promise((resolve) => setTimeout(resolve, timeout))
  client.fastifySessionWrite = write
  t.equal(await redis.hget(key(id), 'username'), 'ann', 'the restore put the session back')
  t.same((await agent.get('/session')).json().data, { username: 'ann' })
})
