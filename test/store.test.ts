// RedisSessionStore on its own, outside HTTP: the same data model, and no call but createSession()
// ever creates a key.
import t, { type Test } from 'tap'
import { RedisSessionStore, generateId, isValidId } from '../plugin'
import { newClient, uniquePrefix } from './helpers/build'

async function setup (t: Test, ttl = 1800) {
  const redis = await newClient(t)
  const prefix = uniquePrefix()
  t.teardown(async () => {
    const keys = await redis.keys(prefix + '*')
    if (keys.length > 0) await redis.del(...keys)
  })
  return { redis, prefix, store: new RedisSessionStore({ redis, prefix, ttl }) }
}

const MISSING = 'A'.repeat(42) + 'E'

t.test('createSession() writes the hash and its TTL atomically', async (t) => {
  const { redis, prefix, store } = await setup(t)
  const id = await store.createSession({ username: 'andrew', page_views: 0 }, 15)
  const hash = await redis.hgetall(prefix + id)
  t.same(Object.keys(hash).sort(), ['created_at', 'last_accessed_at', 'page_views', 'session_ttl', 'username'])
  t.equal(hash.session_ttl, '15')
  t.equal(hash.created_at, hash.last_accessed_at)
  t.ok(await redis.ttl(prefix + id) <= 15)
  const defaults = await store.createSession()
  t.equal(await redis.hget(prefix + defaults, 'session_ttl'), '1800')
})

t.test('getSession() returns every field and slides the TTL', async (t) => {
  const { redis, prefix, store } = await setup(t)
  const id = await store.createSession({ username: 'andrew' }, 100)
  await redis.expire(prefix + id, 10)
  const session = await store.getSession(id)
  t.equal(session?.username, 'andrew')
  t.equal(session?.session_ttl, '100')
  t.ok(await redis.ttl(prefix + id) > 95)
})

t.test('getSession(id, { refreshTtl: false }) changes nothing, not even last_accessed_at', async (t) => {
  const { redis, prefix, store } = await setup(t)
  const id = await store.createSession({ username: 'andrew' }, 100)
  await redis.hset(prefix + id, 'last_accessed_at', '2000-01-01T00:00:00.000Z')
  await redis.expire(prefix + id, 10)
  const session = await store.getSession(id, { refreshTtl: false })
  t.equal(session?.last_accessed_at, '2000-01-01T00:00:00.000Z')
  t.equal(await redis.hget(prefix + id, 'last_accessed_at'), '2000-01-01T00:00:00.000Z')
  t.ok(await redis.ttl(prefix + id) <= 10)
})

t.test('incrementField() is atomic and returns the new value', async (t) => {
  const { redis, prefix, store } = await setup(t)
  const id = await store.createSession({ n: 0 })
  const results = await Promise.all(Array.from({ length: 100 }, () => store.incrementField(id, 'n')))
  t.equal(Math.max(...(results as number[])), 100)
  t.equal(await store.incrementField(id, 'n', -50), 50)
  t.equal(await redis.hget(prefix + id, 'n'), '50')
})

t.test('setTtl() and getConfiguredTtl()', async (t) => {
  const { redis, prefix, store } = await setup(t)
  const id = await store.createSession()
  t.equal(await store.getConfiguredTtl(id), 1800)
  t.equal(await store.setTtl(id, 30), true)
  t.equal(await store.getConfiguredTtl(id), 30)
  t.ok(await redis.ttl(prefix + id) <= 30)
  await t.rejects(store.setTtl(id, 0), { code: 'FST_REDIS_SESSION_INVALID_TTL' })
})

t.test('deleteSession()', async (t) => {
  const { redis, prefix, store } = await setup(t)
  const id = await store.createSession()
  t.equal(await store.deleteSession(id), true)
  t.equal(await redis.exists(prefix + id), 0)
  t.equal(await store.deleteSession(id), false)
  t.equal(await store.getSession(id), null)
})

t.test('no operation but createSession() creates a key for an ID that does not exist', async (t) => {
  const { redis, prefix, store } = await setup(t)
  t.equal(await store.getSession(MISSING), null)
  t.equal(await store.getSession(MISSING, { refreshTtl: false }), null)
  t.equal(await store.incrementField(MISSING, 'n', 1), null)
  t.equal(await store.setTtl(MISSING, 60), false)
  t.equal(await store.getConfiguredTtl(MISSING), null)
  t.equal(await store.remainingTtl(MISSING), -2)
  t.equal(await store.deleteSession(MISSING), false)
  t.same(await redis.keys(prefix + '*'), [])
})

t.test('IDs of the wrong shape never reach Redis', async (t) => {
  const { store } = await setup(t)
  for (const id of ['*', '', 'x'.repeat(43), '../etc', 'a b']) {
    t.equal(await store.getSession(id), null, JSON.stringify(id))
    t.equal(await store.deleteSession(id), false)
  }
})

t.test('createSession() refuses reserved and oversized fields and writes nothing', async (t) => {
  const { redis, prefix, store } = await setup(t)
  await t.rejects(store.createSession({ a: '1', created_at: 'x' }), { code: 'FST_REDIS_SESSION_RESERVED_FIELD' })
  await t.rejects(store.createSession({ a: 'x'.repeat(70000) }), { code: 'FST_REDIS_SESSION_FIELD_TOO_LARGE' })
  await t.rejects(store.createSession({}, 0), { code: 'FST_REDIS_SESSION_INVALID_TTL' })
  t.same(await redis.keys(prefix + '*'), [])
})

t.test('the constructor validates its options', async (t) => {
  const redis = await newClient(t)
  t.throws(() => new RedisSessionStore({ redis, ttl: -1 }), { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
  t.throws(() => new RedisSessionStore({ redis: 'redis://x' as never }), { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
  t.throws(() => new RedisSessionStore({ redis, cookieName: 'x' } as never), { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
})

t.test('generateId() gives well-formed, distinct IDs across refills of its random-byte pool', async (t) => {
  const ids = Array.from({ length: 1000 }, generateId)
  t.equal(new Set(ids).size, ids.length, 'no repeats')
  t.ok(ids.every(isValidId), 'every ID has the exact shape the plugin accepts')
  t.notOk(ids.includes('A'.repeat(42) + 'A'), 'used pool bytes are never handed out as zeros')
})
