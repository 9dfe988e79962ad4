// Used to go wrong: regenerate() read-and-deleted the old key, then wrote the new one; when that
// second step failed (Redis out of memory, say) the session was gone: the user was logged out by a
// request that answered 503. Now the session is put back under its old ID.
import t from 'tap'
import { Agent, sessionRoutes, uniquePrefix } from '../helpers/build'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from '../../plugin'
import { startRedisServer } from '../helpers/redis-server'

t.test('regenerate() whose new key is refused keeps the session under the old ID', async (t) => {
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
  const id = (await agent.post('/create', { data: { username: 'ann', n: 3 } })).json().id
  const before = await admin.hgetall(prefix + id)
  // Out of memory under noeviction: new keys are refused (freeing the old one is not).
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.config('SET', 'maxmemory', '1')
  const res = await agent.post('/regenerate')
  await admin.config('SET', 'maxmemory', '0')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_REDIS_SESSION_UNAVAILABLE')
  t.equal(res.headers['set-cookie'], undefined, 'no new cookie')
  t.same(await admin.hgetall(prefix + id), before, 'the session is back under its old ID, as it was')
  t.ok(await admin.ttl(prefix + id) > 1700, 'with its TTL')
  t.same(await admin.keys(prefix + '*'), [prefix + id], 'and no other key')
  const me = await agent.get('/session')
  t.equal(me.json().id, id, 'the browser is still logged in')
  const retry = await agent.post('/regenerate')
  t.equal(retry.statusCode, 200, 'and a retry works once Redis accepts writes')
})
