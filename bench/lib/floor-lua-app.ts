// The "floor-lua" server: no session library, and exactly the plugin's Redis work, each request one
// script call (ioredis defineCommand: EVALSHA): read = HGETALL + HSET last_accessed_at + EXPIRE by
// the session's own TTL (its session_ttl, as the plugin slides it); write = HINCRBY on a live session
// + the same slide; login = a new hash with its expiry, never over an existing key. The cookie is read
// and written by hand. It is the true floor: a library doing the plugin's job cannot do it with less
// Redis work or less client code in the way.
// With `fixedTtl` (bench/servers/floor-lua-fixed-ttl.ts, an --extra contender) every slide uses one
// TTL for all sessions instead: less work than the plugin does, which is how floor-lua was before.
// With `plainRead` (the "floor-hgetall" contender) a read is one plain HGETALL, no script and no
// write: the least Redis CPU any read of a session hash can cost, the bound for touchAfter's saving.
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { PREFIX, TTL, countRedisRoundTrips, readUsername, serve, sessionKey, settings, statsRoute } from './server-kit'

const SET_COOKIE_ATTRIBUTES = '; Path=/; HttpOnly; SameSite=Lax'

// ARGV[2] / ARGV[3]: the TTL to use when the session holds none of its own.
const LOAD = `
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
local ttl = ARGV[2]
for i = 1, #h, 2 do if h[i] == 'session_ttl' then ttl = h[i + 1] end end
redis.call('HSET', KEYS[1], 'last_accessed_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ttl)
return h
`
const INCREMENT = `
local m = redis.call('HMGET', KEYS[1], 'created_at', 'session_ttl')
if not m[1] then return false end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HSET', KEYS[1], 'last_accessed_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], m[2] or ARGV[3])
return n
`
const LOAD_FIXED_TTL = `
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
redis.call('HSET', KEYS[1], 'last_accessed_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return h
`
const INCREMENT_FIXED_TTL = `
if redis.call('HEXISTS', KEYS[1], 'created_at') == 0 then return false end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HSET', KEYS[1], 'last_accessed_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return n
`
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`

type FloorRedis = Redis & {
  floorLoad: (key: string, now: string, ttl: number) => Promise<string[] | null>
  floorIncrement: (key: string, field: string, now: string, ttl: number) => Promise<number | null>
  floorCreate: (key: string, ttl: number, ...fieldsAndValues: string[]) => Promise<number>
}

function noSession (reply: FastifyReply): FastifyReply {
  return reply.code(401).send({ error: 'no session' })
}

export async function startFloorLua ({ plainRead = false, fixedTtl = false } = {}): Promise<void> {
  const { port, redisUrl, redisPort } = settings()
  countRedisRoundTrips(redisPort)
  const redis = new Redis(redisUrl) as FloorRedis
  redis.defineCommand('floorLoad', { numberOfKeys: 1, lua: fixedTtl ? LOAD_FIXED_TTL : LOAD })
  redis.defineCommand('floorIncrement', { numberOfKeys: 1, lua: fixedTtl ? INCREMENT_FIXED_TTL : INCREMENT })
  redis.defineCommand('floorCreate', { numberOfKeys: 1, lua: CREATE })
  const app = Fastify()

  app.post('/login', async (request, reply) => {
    const username = readUsername(request.body)
    if (username === undefined) return await reply.code(400).send({ error: 'username required' })
    const id = randomBytes(32).toString('base64url')
    const now = new Date().toISOString()
    // The same hash as the plugin stores: username, counter and the three bookkeeping fields.
    const created = await redis.floorCreate(PREFIX + id, TTL,
      'username', username, 'counter', '0', 'created_at', now, 'last_accessed_at', now, 'session_ttl', String(TTL))
    if (created !== 1) throw new Error('session ID collision')
    reply.header('set-cookie', 'sid=' + id + SET_COOKIE_ATTRIBUTES)
    return { ok: true }
  })

  app.get('/read', async (request, reply) => {
    const key = sessionKey(request)
    if (key === undefined) return await noSession(reply)
    if (plainRead) {
      const hash = await redis.hgetall(key)
      return hash.username === undefined ? await noSession(reply) : { username: hash.username }
    }
    const flat = await redis.floorLoad(key, new Date().toISOString(), TTL)
    if (flat === null) return await noSession(reply)
    for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'username') return { username: flat[i + 1] }
    return await noSession(reply)
  })

  const increment = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const key = sessionKey(request)
    if (key === undefined) return await noSession(reply)
    const counter = await redis.floorIncrement(key, 'counter', new Date().toISOString(), TTL)
    if (counter === null) return await noSession(reply)
    return { counter }
  }
  app.post('/increment', increment)
  // The same work: this floor never loads before it writes.
  app.post('/increment-lazy', increment)

  app.get('/public', async () => ({ ok: true }))
  statsRoute(app)

  await serve(app, port, () => { redis.disconnect() })
}
