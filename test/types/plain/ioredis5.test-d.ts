// An application on ioredis 5 (installed here as the alias ioredis5): its Redis and Cluster clients
// are accepted wherever the plugin takes a client, as ioredis 6 clients are (index.test-d.ts).
import Fastify from 'fastify'
import { Cluster, Redis } from 'ioredis5'
import redisSession, { RedisSessionStore, type RedisClient, type RedisSessionOptions } from 'fastify-redis-hash-session'

const redis = new Redis({ lazyConnect: true })
const cluster = new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true })

const app = Fastify()
app.register(redisSession, { redis })
app.register(redisSession, { redis: cluster })
app.register(redisSession, { redis: new Redis(), prefix: 'session:app-a:', ttl: 1800 })

const store = new RedisSessionStore({ redis })
const clusterStore = new RedisSessionStore({ redis: cluster })
const options: RedisSessionOptions = { redis: cluster }
const client: RedisClient = redis
const clusterClient: RedisClient = cluster

// The store hands back the client it was given, still usable for the app's own commands.
store.redis.hgetall('session:x').then((fields: Record<string, string>) => fields, () => {})

// @ts-expect-error an object with a few look-alike members is not a client
app.register(redisSession, { redis: { status: 'ready' } })

export { clusterStore, options, client, clusterClient }
