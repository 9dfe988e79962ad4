// Used to go wrong: a first set() starts a session (written in onSend), but isNew stayed false until
// then, so a handler could not tell that this request had just started one.
import t from 'tap'
import { build } from '../helpers/build'

t.test('isNew is true as soon as set() starts a session', async (t) => {
  const { app, redis, prefix } = await build(t, {}, (app) => {
    app.post('/first', async (request) => {
      const before = request.session.isNew
      request.session.set('theme', 'dark')
      return { before, after: request.session.isNew, id: request.session.id ?? null }
    })
    app.post('/noop', async (request) => {
      request.session.set({})
      request.session.delete('x')
      return { isNew: request.session.isNew }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/first' })
  t.same(res.json(), { before: false, after: true, id: null }, 'new before the write, without an ID yet')
  t.equal((await redis.keys(prefix + '*')).length, 1, 'and onSend wrote it')
  t.same((await app.inject({ method: 'POST', url: '/noop' })).json(), { isNew: false }, 'changing nothing starts nothing')
})
