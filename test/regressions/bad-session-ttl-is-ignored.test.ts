// Used to go wrong: the load script took any session_ttl Lua's tonumber() accepted, so a stored `1.5`
// made EXPIRE fail and every request of that session a 500 forever, `0x10` slid by 16 s, and
// regenerate() with `-5` deleted the session behind a 200. Now a session_ttl that is not a whole
// number from 1 to 2147483647 counts as missing: the default TTL slides, and session.ttl says so.
import t from 'tap'
import { Agent, build, sessionRoutes } from '../helpers/build'

const BAD = ['1.5', '99999999999', '2147483648', 'inf', 'nan', '-5', '0x10', '', '0', ' 60', '1e3']

for (const bad of BAD) {
  t.test(`session_ttl ${JSON.stringify(bad)} is treated as missing`, async (t) => {
    const { app, redis, key } = await build(t, { ttl: 900 }, sessionRoutes)
    const agent = new Agent(app)
    const id = (await agent.post('/create', { data: { username: 'ann' } })).json().id
    await redis.hset(key(id), 'session_ttl', bad)
    await redis.expire(key(id), 50)
    const res = await agent.get('/session')
    t.equal(res.statusCode, 200)
    t.equal(res.json().id, id)
    t.equal(res.json().ttl, 900, 'session.ttl reports the default it slid by')
    const ttl = await redis.ttl(key(id))
    t.ok(ttl > 890 && ttl <= 900, `slid by the default TTL (${ttl} s)`)
    t.equal(await redis.hget(key(id), 'session_ttl'), bad, 'the stored value is left as it is')
    const regenerated = await agent.post('/regenerate')
    t.equal(regenerated.statusCode, 200)
    const newId = regenerated.json().id
    t.equal(await redis.hget(key(newId), 'username'), 'ann', 'regenerate() keeps the session')
    const newTtl = await redis.ttl(key(newId))
    t.ok(newTtl > 890 && newTtl <= 900, `under the default TTL (${newTtl} s)`)
  })
}
