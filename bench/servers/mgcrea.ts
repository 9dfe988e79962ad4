// Contender "mgcrea": @mgcrea/fastify-session (declares fastify >=4.x, runs on Fastify 5) with
// @mgcrea/fastify-session-redis-store on ioredis. Stateful sessions with an HMAC-signed cookie.
// Its store keeps { data: JSON, expiry } in a hash; loading a session also "touches" it (a second
// round trip), and a change is saved in onSend (a third). Typed locally, as in fastify-session.ts.
import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyPluginAsync, type FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { SECRET, TTL, countRedisRoundTrips, readUsername, serve, settings, statsRoute } from '../lib/server-kit'

interface MgcreaSession {
  get: (key: string) => unknown
  set: (key: string, value: unknown) => void
}

const fastifySession = (require('@mgcrea/fastify-session') as { default: FastifyPluginAsync<Record<string, unknown>> }).default
const { RedisStore } = require('@mgcrea/fastify-session-redis-store') as { RedisStore: new (options: { client: Redis, ttl: number }) => object }

function sessionOf (request: FastifyRequest): MgcreaSession {
  return (request as unknown as { session: MgcreaSession }).session
}

async function main (): Promise<void> {
  const { port, redisUrl, redisPort } = settings()
  countRedisRoundTrips(redisPort)
  const redis = new Redis(redisUrl)
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: SECRET,
    store: new RedisStore({ client: redis, ttl: TTL }),
    cookieName: 'sid',
    saveUninitialized: false,
    cookie: { secure: false, httpOnly: true, sameSite: 'lax', path: '/' }
  })

  app.post('/login', async (request, reply) => {
    const username = readUsername(request.body)
    if (username === undefined) return await reply.code(400).send({ error: 'username required' })
    const session = sessionOf(request)
    session.set('username', username)
    session.set('counter', 0)
    return { ok: true }
  })

  app.get('/read', async (request, reply) => {
    const username = sessionOf(request).get('username')
    if (username === undefined) return await reply.code(401).send({ error: 'no session' })
    return { username }
  })

  app.post('/increment', async (request, reply) => {
    const session = sessionOf(request)
    if (session.get('username') === undefined) return await reply.code(401).send({ error: 'no session' })
    const counter = Number(session.get('counter')) + 1
    session.set('counter', counter)
    return { counter }
  })

  // No per-route opt-out either.
  app.get('/public', async () => ({ ok: true }))
  statsRoute(app)

  await serve(app, port, () => { redis.disconnect() })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
