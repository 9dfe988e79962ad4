import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from 'fastify-redis-hash-session'

const app = Fastify({ logger: true })
app.register(redisSession, {
  redis: new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'),
  ttl: 1800 // idle seconds before a session expires; every request slides it
})

app.post('/login', async (request) => {
  // ...check the password, then start a fresh session (a new ID: no fixation)
  await request.session.create({ username: 'andrew', page_views: 0 }, { ttl: 3600 })
  return { ok: true }
})

app.get('/me', async (request, reply) => {
  if (request.session.id === undefined) return reply.code(401).send({ error: 'log in first' })
  const views = await request.session.increment('page_views') // atomic across all app servers
  return { username: request.session.get('username'), views }
})

app.post('/logout', async (request) => {
  await request.session.destroy() // deletes the key, clears the cookie
  return { ok: true }
})

app.listen({ port: 3000 })
