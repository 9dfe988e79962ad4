// Used to go wrong: a login (create() over a live session) while Redis was out of memory under
// noeviction answered 503 "Nothing was written", but the old session had been replaced by its
// rotation marker (Redis refuses a script's first HSET under OOM, never a DEL, and the marker's HSET
// came after the DEL): the user was logged out. Now the marker's HSET comes first, so OOM refuses
// the whole step and the 503 tells the truth.
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../../plugin'
import { Agent, sessionRoutes, uniquePrefix } from '../helpers/build'
import { startRedisServer } from '../helpers/redis-server'

for (const route of ['/create', '/regenerate']) {
  t.test(`${route} under OOM leaves the old session as it was`, async (t) => {
    const server = await startRedisServer(t)
    const redis = new Redis(server.url)
    const admin = new Redis(server.url)
    t.teardown(() => { redis.disconnect(); admin.disconnect() })
    const prefix = uniquePrefix()
    const app = Fastify()
    await app.register(redisSession, { redis, prefix })
    sessionRoutes(app)
    t.teardown(() => app.close())
    const agent = new Agent(app)
    const { id } = (await agent.post('/create', { data: { username: 'ann' } })).json()
    const before = await admin.hgetall(prefix + id)
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.config('SET', 'maxmemory', '1')
    const res = await agent.post(route, { data: { username: 'bob' } })
    // Nothing else may reach Redis before we look.
    const after = await admin.hgetall(prefix + id)
    await admin.config('SET', 'maxmemory', '0')
    t.equal(res.statusCode, 503)
    t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
    t.match(res.json().message, /Nothing was written/)
    t.equal(res.headers['set-cookie'], undefined)
    t.same(after, before, 'the old session is untouched')
    t.same(await admin.keys(prefix + '*'), [prefix + id], 'and no other key exists')
    t.same((await agent.get('/session')).json().data, { username: 'ann' }, 'the browser is still logged in')
  })
}
