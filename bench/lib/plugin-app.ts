// The contender "plugin": this plugin on an ioredis client of the server's own. Shared by the
// plugin and plugin-autopipe servers, which differ only in the client's options.
import Fastify from 'fastify'
import { Redis, type RedisOptions } from 'ioredis'
import redisSession from '../../plugin'
import { TTL, countRedisRoundTrips, readUsername, serve, settings, statsRoute } from './server-kit'

export async function startPluginServer (clientOptions: RedisOptions = {}): Promise<void> {
  const { port, redisUrl, redisPort } = settings()
  countRedisRoundTrips(redisPort)
  const redis = new Redis(redisUrl, clientOptions)
  const app = Fastify()
  await app.register(redisSession, { redis, ttl: TTL })

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

  app.get('/public', { config: { session: false } }, async () => ({ ok: true }))
  statsRoute(app, { session: false })

  await serve(app, port, () => { redis.disconnect() })
}
