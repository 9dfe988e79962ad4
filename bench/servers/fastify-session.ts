// Contender "fastify-session": the Fastify ecosystem's usual pick. @fastify/session + @fastify/cookie
// with connect-redis 9 on the node-redis client, rolling sessions on, saveUninitialized off.
// Their types are loaded with require() and typed locally: their `request.session` augmentation
// would clash with this package's in one TypeScript program.
import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyPluginCallback, type FastifyRequest } from 'fastify'
import { createClient } from 'redis'
import { SECRET, TTL, countRedisRoundTrips, readUsername, serve, settings, statsRoute } from '../lib/server-kit'

interface FastifySession {
  get: (key: string) => unknown
  set: (key: string, value: unknown) => void
}
interface ConnectRedisModule { RedisStore: new (options: { client: unknown, ttl: number, prefix?: string }) => object }

const fastifySession = require('@fastify/session') as FastifyPluginCallback<Record<string, unknown>>
const { RedisStore } = require('connect-redis') as ConnectRedisModule

function sessionOf (request: FastifyRequest): FastifySession {
  return (request as unknown as { session: FastifySession }).session
}

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
    // Read-modify-write of the whole session, saved in onSend: concurrent increments can be lost.
    const counter = Number(session.get('counter')) + 1
    session.set('counter', counter)
    return { counter }
  })

  // @fastify/session has no per-route opt-out: a request with a cookie loads (and, rolling, saves).
  app.get('/public', async () => ({ ok: true }))
  statsRoute(app)

  await serve(app, port, async () => { await client.quit() })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
