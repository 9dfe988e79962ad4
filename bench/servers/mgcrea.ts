// Contender "mgcrea": @mgcrea/fastify-session (declares fastify >=4.x, runs on Fastify 5) with
// @mgcrea/fastify-session-redis-store on ioredis. Stateful sessions with an HMAC-signed cookie.
// Its store keeps { data: JSON, expiry } in a hash; loading a session also "touches" it (a second
// round trip), and a change is saved in onSend (a third). Typed locally, as in fastify-session.ts.
import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyPluginAsync } from 'fastify'
import { Redis } from 'ioredis'
import { SECRET, TTL, countRedisRoundTrips, serve, settings, getSetSessionRoutes } from '../lib/server-kit'

const fastifySession = (require('@mgcrea/fastify-session') as { default: FastifyPluginAsync<Record<string, unknown>> }).default
const { RedisStore } = require('@mgcrea/fastify-session-redis-store') as { RedisStore: new (options: { client: Redis, ttl: number }) => object }

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

  getSetSessionRoutes(app)

  await serve(app, port, () => { redis.disconnect() })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
