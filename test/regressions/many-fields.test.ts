// Used to go wrong: every write passed all its fields to one HSET through Lua's unpack(), which fails
// beyond about 8,000 values, so create() with about 4,000 fields (or a save of as many changes) was a
// 500 and wrote nothing. The scripts now write in chunks.
import t from 'tap'
import { Agent, build, sessionRoutes } from '../helpers/build'

const N = 6000
const record = (value: string): Record<string, string> => Object.fromEntries(Array.from({ length: N }, (_, i) => [`f${i}`, `${value}${i}`]))

t.test(`create(), set() + onSend, delete() and regenerate() with ${N} fields`, async (t) => {
  const { app, redis, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/delete-all', async (request) => {
      for (let i = 0; i < N; i++) request.session.delete(`f${i}`)
      return { ok: true }
    })
  })
  const agent = new Agent(app)
  const created = await agent.post('/create', { data: record('a') })
  t.equal(created.statusCode, 200)
  const id = created.json().id
  t.equal(await redis.hlen(key(id)), N + 3, 'every field and the three reserved ones')
  t.equal((await agent.post('/set', record('b'))).statusCode, 200)
  t.equal(await redis.hget(key(id), `f${N - 1}`), `b${N - 1}`)
  const regenerated = await agent.post('/regenerate')
  t.equal(regenerated.statusCode, 200)
  const newId = regenerated.json().id
  t.equal(await redis.hlen(key(newId)), N + 3, 'regenerate() copies them all')
  t.equal((await agent.post('/delete-all')).statusCode, 200)
  t.same(Object.keys(await redis.hgetall(key(newId))).sort(), ['created_at', 'last_accessed_at', 'session_ttl'])
})
