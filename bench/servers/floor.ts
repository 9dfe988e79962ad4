// Contender "floor": no session library. Fastify and ioredis, the `sid` cookie read and written by
// hand, and exactly one pipelined round trip per request. It does the same Redis work a session
// needs and nothing else, so no library can beat it by much: it is the bar the others are held to.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { PREFIX, TTL, countRedisRoundTrips, readUsername, serve, sessionKey, settings, statsRoute } from '../lib/server-kit'

const SET_COOKIE_ATTRIBUTES = '; Path=/; HttpOnly; SameSite=Lax'

async function main (): Promise<void> {
  const { port, redisUrl, redisPort } = settings()
  countRedisRoundTrips(redisPort)
  const redis = new Redis(redisUrl)
  const app = Fastify()

  app.post('/login', async (request, reply) => {
    const username = readUsername(request.body)
    if (username === undefined) return await reply.code(400).send({ error: 'username required' })
    const id = randomBytes(32).toString('base64url')
    const key = PREFIX + id
    const now = new Date().toISOString()
    // The same logical session as the plugin stores: username, counter and three bookkeeping fields.
    const results = await redis.pipeline()
      .hset(key, 'username', username, 'counter', '0', 'created_at', now, 'last_accessed_at', now, 'session_ttl', String(TTL))
      .expire(key, TTL)
      .exec()
    if (results === null || results.some(([err]) => err !== null)) throw new Error('login write failed')
    reply.header('set-cookie', 'sid=' + id + SET_COOKIE_ATTRIBUTES)
    return { ok: true }
  })

  app.get('/read', async (request, reply) => {
    const key = sessionKey(request)
    if (key === undefined) return await reply.code(401).send({ error: 'no session' })
    const results = await redis.pipeline().hgetall(key).expire(key, TTL).exec()
    const hash = results?.[0][1] as Record<string, string> | undefined
    if (hash?.username === undefined) return await reply.code(401).send({ error: 'no session' })
    return { username: hash.username }
  })

  app.post('/increment', async (request, reply) => {
    const key = sessionKey(request)
    if (key === undefined) return await reply.code(401).send({ error: 'no session' })
    const results = await redis.pipeline().hincrby(key, 'counter', 1).expire(key, TTL).hgetall(key).exec()
    const hash = results?.[2][1] as Record<string, string> | undefined
    if (hash?.username === undefined) {
      // HINCRBY made a key for an unknown ID: remove it (only on this error path).
      await redis.del(key)
      return await reply.code(401).send({ error: 'no session' })
    }
    return { counter: Number(hash.counter) }
  })

  app.get('/public', async () => ({ ok: true }))
  statsRoute(app)

  await serve(app, port, () => { redis.disconnect() })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
