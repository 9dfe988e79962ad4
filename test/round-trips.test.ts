// The round-trip budget: no cookie 0, read-only 1, a write at most 2, an opted-out route 0.
import t, { type Test } from 'tap'
import { Agent, build, countRoundTrips, newClient } from './helpers/build'

async function setup (t: Test) {
  const client = await newClient(t)
  const built = await build(t, { redis: client })
  const agent = new Agent(built.app)
  // Warm up: the first call of each script may cost an extra EVAL after NOSCRIPT.
  await agent.post('/create', { data: { n: 0 } })
  await agent.get('/session')
  await agent.post('/set', { a: 1 })
  await agent.post('/increment/n')
  await agent.post('/ttl', { ttl: 1800 })
  const counter = countRoundTrips(client)
  return { ...built, agent, counter }
}

t.test('round trips per request', async (t) => {
  const { app, agent, counter } = await setup(t)
  const measure = async (name: string, run: () => Promise<unknown>, expected: number) => {
    counter.reset()
    await run()
    t.equal(counter.roundTrips, expected, `${name}: ${expected} round trip(s) [${counter.commands.join(', ')}]`)
  }
  await measure('no cookie, read', () => app.inject('/session'), 0)
  await measure('opted-out route with a session cookie', () => agent.get('/public'), 0)
  await measure('read-only', () => agent.get('/session'), 1)
  await measure('set fields', () => agent.post('/set', { a: 2, b: 3 }), 2)
  await measure('increment', () => agent.post('/increment/n'), 2)
  await measure('setTtl', () => agent.post('/ttl', { ttl: 600 }), 2)
  await measure('create over a live session (old deleted, new written together)', () => agent.post('/create', { data: { n: 0 } }), 2)
  await measure('create without a session', () => app.inject({ method: 'POST', url: '/create' }), 1)
  await measure('lazy creation by set()', () => app.inject({ method: 'POST', url: '/set', payload: { a: 1 } }), 1)
  await measure('increment without a session creates it with the count', () => app.inject({ method: 'POST', url: '/increment/n' }), 1)
  await measure('destroy', () => agent.post('/destroy'), 2)
})

t.test('a read-only load is one script call: EVALSHA', async (t) => {
  const { agent, counter } = await setup(t)
  counter.reset()
  await agent.get('/session')
  t.same(counter.commands, ['evalsha'])
})
