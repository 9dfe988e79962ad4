// An ES-module TypeScript application (module nodenext) uses the named export.
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { redisSession, RedisSessionStore } from 'fastify-redis-hash-session'

const app = Fastify()
await app.register(redisSession, { redis: new Redis(), ttl: 60 })
const store: RedisSessionStore = app.sessionStore
export { store }
