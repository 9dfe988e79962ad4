// Used to go wrong: the plugin registered @fastify/cookie itself, so an application that registered
// @fastify/cookie after it failed at boot with Fastify's FST_ERR_DEC_ALREADY_PRESENT about
// serializeCookie. Now the plugin only uses @fastify/cookie's functions: the application registers
// it before, after, or not at all, and sessions work the same.
import t from 'tap'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import redisSession from '../../plugin'
import { Agent, newClient, uniquePrefix } from '../helpers/build'

for (const order of ['before', 'after', 'not at all'] as const) {
  t.test(`@fastify/cookie registered ${order}`, async (t) => {
    const redis = await newClient(t)
    const prefix = uniquePrefix()
    const app = Fastify()
    t.teardown(async () => {
      await app.close()
      const keys = await redis.keys(prefix + '*')
      if (keys.length > 0) await redis.del(...keys)
    })
    if (order === 'before') await app.register(fastifyCookie)
    await app.register(redisSession, { redis: await newClient(t), prefix })
    if (order === 'after') await app.register(fastifyCookie, { secret: 'x'.repeat(32), parseOptions: { signed: true } })
    app.post('/login', async (request) => ({ id: await request.session.create({ username: 'ann' }) }))
    app.get('/me', async (request, reply) => {
      // The application's own cookies work when it registered @fastify/cookie.
      if (order !== 'not at all') reply.setCookie('theme', 'dark')
      return { username: request.session.get('username') ?? null }
    })
    await app.ready()
    const agent = new Agent(app)
    const { id } = (await agent.post('/login')).json()
    t.equal(agent.sid, id)
    const me = await agent.get('/me')
    t.same(me.json(), { username: 'ann' })
    t.equal(await redis.hget(prefix + id, 'username'), 'ann')
    const cookies = [me.headers['set-cookie'] ?? []].flat()
    t.equal(cookies.some((c) => c.startsWith('theme=')), order !== 'not at all')
  })
}
