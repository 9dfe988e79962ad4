// Used to go wrong: a visitor without a session whose request set a field and then deleted it (or
// set it to undefined) got an empty session key and a cookie, though it stored nothing. Now the
// delete drops the pending value, and no key is written.
import t from 'tap'
import { build } from '../helpers/build'

t.test('set() then delete() without a session writes no key and sends no cookie', async (t) => {
  const { app, redis, prefix } = await build(t, {}, (app) => {
    app.post('/a', async (request) => {
      request.session.set('b', 1)
      request.session.delete('b')
      return { isNew: request.session.isNew }
    })
    app.post('/b', async (request) => {
      request.session.set({ a: undefined, b: 1 })
      request.session.set('b', undefined)
      return { isNew: request.session.isNew }
    })
    app.post('/c', async (request) => {
      request.session.set({ a: 1, b: 2 })
      request.session.delete('a')
      return { isNew: request.session.isNew }
    })
  })
  for (const url of ['/a', '/b']) {
    const res = await app.inject({ method: 'POST', url })
    t.same(res.json(), { isNew: false }, url)
    t.equal(res.headers['set-cookie'], undefined, url)
  }
  t.same(await redis.keys(prefix + '*'), [])
  const kept = await app.inject({ method: 'POST', url: '/c' })
  t.same(kept.json(), { isNew: true }, 'what is still set starts the session')
  const keys = await redis.keys(prefix + '*')
  t.equal(keys.length, 1)
  const hash = await redis.hgetall(keys[0]!)
  t.equal(hash.a, undefined)
  t.equal(hash.b, '2')
})
