// The contender "plugin": this plugin on an ioredis client of the server's own. Shared by the
// plugin, plugin-autopipe and plugin-touch servers, which differ only in the client's or the
// plugin's options.
import Fastify from 'fastify'
import { Redis, type RedisOptions } from 'ioredis'
import redisSession, { type RedisSessionOptions } from '../../plugin'
import { TTL, countRedisRoundTrips, readUsername, serve, settings, statsRoute } from './server-kit'

export async function startPluginServer (clientOptions: RedisOptions = {}, pluginOptions: Partial<RedisSessionOptions> = {}): Promise<void> {
  const { port, redisUrl, redisPort } = settings()
  countRedisRoundTrips(redisPort)
  const redis = new Redis(redisUrl, clientOptions)
  const app = Fastify()
  await app.register(redisSession, { ...pluginOptions, redis, ttl: TTL })

  app.post('/login', async (request, reply) => {
    const username = readUsername(request.body)
    if (username === undefined) return await reply.code(400).send({ error: 'username required' })
    await request.session.create({ username, counter: 0 })
    return { ok: true }
  })

  app.get('/read', async (request, reply) => {
    const username = request.session.get('username')
    if (username === undefined) return await reply.code(401).send({ error: 'no session' })
    return { username }
  })

  app.post('/increment', async (request, reply) => {
    // increment() would create a session when there is none: check first, as an app would.
    if (request.session.id === undefined) return await reply.code(401).send({ error: 'no session' })
    return { counter: await request.session.increment('counter') }
  })

  // The counter on a lazy route: no load, one round trip (increment + slide); an ID that names no
  // live session is GONE, which is this route's "no session".
  app.post('/increment-lazy', { config: { session: 'lazy' } }, async (request, reply) => {
    try {
      return { counter: await request.session.increment('counter') }
    } catch (err) {
      if ((err as { code?: string }).code === 'FST_REDIS_SESSION_GONE') return await reply.code(401).send({ error: 'no session' })
      throw err
    }
  })

  app.get('/public', { config: { session: false } }, async () => ({ ok: true }))
  statsRoute(app, { session: false })

  await serve(app, port, () => { redis.disconnect() })
}
