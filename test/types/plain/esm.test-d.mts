// An ES-module TypeScript application (module node16, an .mts file) sees the package's ES-module entry:
// the default import and the named export are the same plugin.
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession, { redisSession as named, RedisSessionStore } from 'fastify-redis-hash-session'

const app = Fastify()
await app.register(redisSession, { redis: new Redis(), ttl: 60 })
await app.register(named, { redis: new Redis(), ttl: 60 })
// @ts-expect-error unknown option, through the default import too
await app.register(redisSession, { redis: new Redis(), tll: 60 })
const store: RedisSessionStore = app.sessionStore
export { store }
