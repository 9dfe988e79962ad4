// Used to go wrong: a set() made while regenerate() was writing the new key (the application kept
// working on request.session without awaiting, or another hook did) was silently dropped, because
// regenerate() cleared every pending change after its write. Now the changes regenerate() takes
// are taken before its write, and anything set meanwhile is written in onSend to the new ID.
import t from 'tap'
import { Redis } from 'ioredis'
import { Agent, build, sessionRoutes } from '../helpers/build'
import { redisUrl } from '../helpers/redis-server'

type Hooked = Redis & { fastifySessionWrite: (...args: unknown[]) => Promise<unknown> }

t.test('a set() during regenerate()\'s write lands in the new session', async (t) => {
  const client = new Redis(await redisUrl()) as Hooked
  t.teardown(() => { client.disconnect() })
  let duringWrite: (() => void) | undefined
  const { app, redis, key } = await build(t, { redis: client }, (app) => {
    sessionRoutes(app)
    app.post('/login', async (request) => {
      request.session.set('before', 'kept')
      duringWrite = () => { request.session.set('during', 'kept too') }
      const id = await request.session.regenerate()
      duringWrite = undefined
      return { id }
    })
  })
  // Call the hook when the plugin sends its write script, i.e. while regenerate() awaits it.
  const write = client.fastifySessionWrite
  client.fastifySessionWrite = function (this: Hooked, ...args: unknown[]) {
    duringWrite?.()
    return write.apply(this, args)
  }
  const agent = new Agent(app)
  const { id: old } = (await agent.post('/create', { data: { username: 'ann' } })).json()
  const res = await agent.post('/login')
  t.equal(res.statusCode, 200)
  const { id } = res.json()
  t.not(id, old)
  t.equal(agent.sid, id)
  const hash = await redis.hgetall(key(id))
  t.same({ username: hash.username, before: hash.before, during: hash.during }, { username: 'ann', before: 'kept', during: 'kept too' })
  t.same((await agent.get('/session')).json().data, { username: 'ann', before: 'kept', during: 'kept too' })
})

t.test('a set() during the write of a fresh session (no session before) lands in it too', async (t) => {
  const client = new Redis(await redisUrl()) as Hooked
  t.teardown(() => { client.disconnect() })
  let duringWrite: (() => void) | undefined
  const { app, redis, key } = await build(t, { redis: client }, (app) => {
    sessionRoutes(app)
    app.post('/login', async (request) => {
      duringWrite = () => { request.session.set('during', 'kept') }
      const id = await request.session.regenerate()
      duringWrite = undefined
      return { id }
    })
  })
  const write = client.fastifySessionWrite
  client.fastifySessionWrite = function (this: Hooked, ...args: unknown[]) {
    duringWrite?.()
    return write.apply(this, args)
  }
  const agent = new Agent(app)
  const { id } = (await agent.post('/login')).json()
  t.equal(await redis.hget(key(id), 'during'), 'kept')
})
