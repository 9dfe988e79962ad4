// Used to go wrong: data() copied fields into a plain object by assignment, so a field named
// __proto__ (a route that sets user-chosen field names) became the copy's prototype: data() then
// seemed to hold properties nobody stored. Now data() defines own properties only.
import t from 'tap'
import { Agent, build, sessionRoutes } from '../helpers/build'

t.test('a field named __proto__ is an own field of data(), never its prototype', async (t) => {
  const { app, redis, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.get('/inspect', async (request) => {
      const data = request.session.data()
      return {
        prototypeIsObject: Object.getPrototypeOf(data) === Object.prototype,
        isAdmin: (data as { isAdmin?: unknown }).isAdmin ?? null,
        own: Object.getOwnPropertyNames(data)
      }
    })
  })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  await agent.post('/set/__proto__', { value: { isAdmin: true } })
  t.equal(await redis.hget(key(id), '__proto__'), '{"isAdmin":true}')
  t.same((await agent.get('/inspect')).json(), { prototypeIsObject: true, isAdmin: null, own: ['__proto__'] })
})
