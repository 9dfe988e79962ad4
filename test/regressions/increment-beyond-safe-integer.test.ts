// Used to go wrong: Redis counts to 2^63, a JavaScript number exactly only to 2^53, so increment()
// past 2^53 returned a number that differed from what Redis held. Now it is refused before anything
// is written, with FST_REDIS_SESSION_UNSAFE_INTEGER.
import t from 'tap'
import { Agent, build, sessionRoutes } from '../helpers/build'

t.test('an increment past Number.MAX_SAFE_INTEGER is refused and writes nothing', async (t) => {
  const { app, redis, key } = await build(t, {}, sessionRoutes)
  const agent = new Agent(app)
  const id = (await agent.post('/create', { data: { n: Number.MAX_SAFE_INTEGER - 1 } })).json().id
  const ok = await agent.post('/increment/n')
  t.equal(ok.json().value, Number.MAX_SAFE_INTEGER, 'up to the limit it counts, exactly')
  const refused = await agent.post('/increment/n')
  t.equal(refused.statusCode, 500)
  t.equal(refused.json().code, 'FST_REDIS_SESSION_UNSAFE_INTEGER')
  t.equal(await redis.hget(key(id), 'n'), String(Number.MAX_SAFE_INTEGER), 'Redis holds the last exact value')
  await redis.hset(key(id), 'm', '9007199254740993')
  const beyond = await agent.post('/increment/m?by=-1')
  t.equal(beyond.json().code, 'FST_REDIS_SESSION_UNSAFE_INTEGER', 'a stored value past the limit is refused too')
  t.equal(await redis.hget(key(id), 'm'), '9007199254740993')
  t.equal((await agent.post(`/increment/n?by=${-Number.MAX_SAFE_INTEGER}`)).json().value, 0)
  const down = await agent.post(`/increment/n?by=${-Number.MAX_SAFE_INTEGER}`)
  t.equal(down.json().value, -Number.MAX_SAFE_INTEGER, 'down to the negative limit it counts')
  const store = app.sessionStore
  await t.rejects(store.incrementField(id, 'n', -1), { code: 'FST_REDIS_SESSION_UNSAFE_INTEGER' }, 'the store refuses the same way')
})
