// Session lifecycle events: fastify.sessionStore emits created, regenerated and destroyed, each exactly
// once per change, with the session's public handle and its user, never its ID; the same events are
// published on node:diagnostics_channel (fastify-redis-hash-session:<event>).
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Agent, build, sessionRoutes } from './helpers/build'

function record (t: { teardown: (fn: () => void) => void }, app: FastifyInstance): { events: Array<[string, Record<string, unknown>]>, published: Array<[string, unknown]> } {
  const events: Array<[string, Record<string, unknown>]> = []
  const published: Array<[string, unknown]> = []
  for (const name of ['created', 'regenerated', 'destroyed'] as const) {
    app.sessionStore.on(name, (event: object) => { events.push([name, { ...event }]) })
    const onMessage = (message: unknown): void => { published.push([name, message]) }
    subscribe(`fastify-redis-hash-session:${name}`, onMessage)
    t.teardown(() => { unsubscribe(`fastify-redis-hash-session:${name}`, onMessage) })
  }
  return { events, published }
}

t.test('each lifecycle change is one event, with the handle and the user, never the ID', async (t) => {
  const { app } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/login', async (request) => {
      await request.session.create({}, { user: 'ann' })
      return { handle: request.session.handle }
    })
  })
  const { events, published } = record(t, app)
  const handle = (id: string | undefined): string => app.sessionStore.handle(id as string)
  const agent = new Agent(app)
  const ids: string[] = []
  const take = (): Array<[string, Record<string, unknown>]> => events.splice(0)

  await agent.post('/set', { a: 1 }) // a first write starts a session
  ids.push(agent.sid as string)
  t.same(take(), [['created', { handle: handle(agent.sid), user: undefined }]], 'a first set(): created')
  const first = agent.sid
  await agent.post('/login')
  ids.push(agent.sid as string)
  t.same(take(), [['destroyed', { handle: handle(first), user: undefined }], ['created', { handle: handle(agent.sid), user: 'ann' }]], 'a login over a live session: the old one destroyed, the new one created')
  const before = agent.sid
  await agent.post('/regenerate')
  ids.push(agent.sid as string)
  t.same(take(), [['regenerated', { handle: handle(agent.sid), user: 'ann', previous: handle(before) }]], 'regenerate(): regenerated, from the previous handle')
  await agent.get('/session')
  await agent.post('/increment/n')
  t.same(take(), [], 'reads and writes: no event')
  const last = agent.sid
  await agent.post('/destroy')
  t.same(take(), [['destroyed', { handle: handle(last), user: 'ann' }]], 'destroy(): destroyed')
  t.equal((await agent.post('/destroy')).statusCode, 200)
  t.same(take(), [], 'a second destroy: nothing')
  const stale = new Agent(app)
  stale.sid = before // retired by regenerate(): a rotation marker, not a session
  t.equal((await stale.post('/destroy')).statusCode, 200)
  t.same(take(), [], 'a logout at a rotation marker: nothing (the session lives on under its new ID)')

  const id = await app.sessionStore.createSession({ x: 1 })
  ids.push(id)
  t.equal(await app.sessionStore.deleteSession(id), true)
  t.same(take(), [['created', { handle: handle(id), user: undefined }], ['destroyed', { handle: handle(id), user: undefined }]], 'the store API too')

  const devices = [new Agent(app), new Agent(app), new Agent(app)]
  for (const d of devices) { await d.post('/login'); ids.push(d.sid as string) }
  take()
  t.equal(await app.sessionStore.destroyUserSessions('ann', { except: handle(devices[0].sid) }), 2)
  t.same(take().map(([name, e]) => [name, e.handle]).sort(), [['destroyed', handle(devices[1].sid)], ['destroyed', handle(devices[2].sid)]].sort(), 'log out everywhere else: one destroyed per session ended')

  t.equal(published.length, 12, 'every event also on its diagnostics channel')

  // A listener that throws does not fail the change Redis already made.
  const thrower = (): void => { throw new Error('audit log down') }
  app.sessionStore.on('destroyed', thrower)
  t.teardown(() => { app.sessionStore.off('destroyed', thrower) })
  const victim = new Agent(app)
  await victim.post('/create')
  const res = await victim.post('/destroy')
  t.equal(res.statusCode, 200, 'the logout still succeeds')
  t.match(res.headers['set-cookie'], /Max-Age=0/, 'and clears the cookie')
  const all = JSON.stringify(published)
  t.notOk(ids.some((id) => all.includes(id)), 'no session ID in any event')
})
