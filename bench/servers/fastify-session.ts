// Contender "fastify-session": the Fastify ecosystem's usual pick. @fastify/session + @fastify/cookie
// with connect-redis 9 on the node-redis client, rolling sessions on, saveUninitialized off.
// Their types are loaded with require() and typed locally: their `request.session` augmentation
// would clash with this package's in one TypeScript program.
import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyPluginCallback } from 'fastify'
import { createClient } from 'redis'
import { SECRET, TTL, countRedisRoundTrips, serve, settings, getSetSessionRoutes } from '../lib/server-kit'

interface ConnectRedisModule { RedisStore: new (options: { client: unknown, ttl: number, prefix?: string }) => object }

const fastifySession = require('@fastify/session') as FastifyPluginCallback<Record<string, unknown>>
const { RedisStore } = require('connect-redis') as ConnectRedisModule

async function main (): Promise<void> {
  const { port, redisUrl, redisPort } = settings()
  countRedisRoundTrips(redisPort)
  const client = createClient({ url: redisUrl })
  await client.connect()
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: SECRET,
    store: new RedisStore({ client, ttl: TTL }),
    cookieName: 'sid',
    rolling: true,
    saveUninitialized: false,
    // 'auto': Secure over https only, like the plugin's default; a browser-session cookie.
    cookie: { secure: 'auto', httpOnly: true, sameSite: 'lax', path: '/' }
  })

  getSetSessionRoutes(app)

  await serve(app, port, async () => { await client.quit() })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
