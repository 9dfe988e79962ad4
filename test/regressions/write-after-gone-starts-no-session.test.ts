// A request whose session ends while it runs (a logout or a login in another request) must not
// start a fresh session by a later call: its cookie would replace the racing login's new cookie,
// or answer a logout with a new anonymous session. Here the handler's increment() finds the session
// gone, and a set() after it (or made before it) must not be written by onSend.
import t from 'tap'
import { build, Agent } from '../helpers/build'

t.test('after increment() is GONE, a set() in the same request starts no session', async (t) => {
  for (const ending of ['logout', 'login'] as const) {
    const built = await build(t, {}, (app) => {
      app.post('/create', async (request) => ({ id: await request.session.create({ username: 'ann', n: 0 }) }))
      app.post('/race', async (request) => {
        const id = request.session.id as string
        request.session.set('cart', 'x')
        // What another request did meanwhile.
        if (ending === 'logout') await built.redis.del(built.key(id))
        else await built.redis.eval("redis.call('DEL', KEYS[1]); redis.call('HSET', KEYS[1], 'rotated_at', 'now')", 1, built.key(id))
        try {
          await request.session.increment('n')
        } catch (err) {
          request.session.set('after', 'y')
          return { code: (err as { code?: string }).code }
        }
        return { code: null }
      })
    })
    const agent = new Agent(built.app)
    const id = (await agent.post('/create')).json().id as string
    const res = await agent.post('/race')
    t.equal(res.json().code, 'FST_REDIS_SESSION_GONE', `${ending}: the increment is GONE`)
    t.equal(res.headers['set-cookie'], undefined, `${ending}: no cookie for a fresh session`)
    const keys = await built.redis.keys(built.prefix + '*')
    t.same(keys, ending === 'logout' ? [] : [built.key(id)], `${ending}: no key written (only the marker stays)`)
  }
})
