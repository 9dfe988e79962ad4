// Used to go wrong: requests from one browser that raced a login (create()) or regenerate() logged the
// user out. A racing write found the old key gone and answered `Set-Cookie: sid=; Max-Age=0`, which
// deleted the new cookie the login response had just set (cookies are cleared by name, not value);
// and a racing set() that loaded after the rotation created a fresh empty session whose cookie
// replaced the new one. Two app servers on one Redis: the protection lives in Redis, not in a process.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import redisSession from '../../plugin'
import { assertRetired, newClient, uniquePrefix } from '../helpers/build'

/** One browser's cookie jar: applies each response's Set-Cookie in the order responses arrive. */
class Browser {
  sid: string | undefined
  apply (setCookie: string | string[] | undefined): void {
    for (const c of [setCookie ?? []].flat()) {
      const [pair] = c.split(';')
      const value = pair.slice(pair.indexOf('=') + 1)
      if (pair.startsWith('sid=')) this.sid = /Max-Age=0/.test(c) ? undefined : value
    }
  }
}

async function server (t: Test, prefix: string, gate?: Promise<void>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(redisSession, { redis: await newClient(t), prefix })
  app.post('/login', async (request) => ({ id: await request.session.create({ username: 'ann' }) }))
  app.post('/regenerate', async (request) => ({ id: await request.session.regenerate() }))
  app.post('/track', async (request) => {
    await gate // held open while the login goes through
    request.session.set('last_page', '/cart')
    return { id: request.session.id ?? null, isNew: request.session.isNew }
  })
  app.post('/count', async (request) => {
    await gate
    return { n: await request.session.increment('n').catch((err: { code: string }) => err.code) }
  })
  app.post('/logout', async (request) => { await gate; await request.session.destroy(); return {} })
  app.get('/me', async (request) => ({ id: request.session.id ?? null, username: request.session.get('username') ?? null }))
  t.teardown(() => app.close())
  return app
}

for (const rotation of ['/login', '/regenerate'] as const) {
  t.test(`${rotation} racing requests that carry the old cookie: the browser keeps the new session`, async (t) => {
    const prefix = uniquePrefix()
    const redis = await newClient(t)
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    const a = await server(t, prefix) // the server that handles the login
    const b = await server(t, prefix, gate) // another app server behind the load balancer
    const browser = new Browser()
    browser.apply((await a.inject({ method: 'POST', url: '/login' })).headers['set-cookie'])
    const oldId = browser.sid as string
    const cookie = { cookie: `sid=${oldId}` }

    // Loaded before the rotation, answered after it: a write, a counter, a logout of the old session.
    const early = [
      b.inject({ method: 'POST', url: '/track', headers: cookie }),
      b.inject({ method: 'POST', url: '/count', headers: cookie })
    ]
    await new Promise((resolve) => setTimeout(resolve, 50))
    const rotated = await a.inject({ method: 'POST', url: rotation, headers: cookie })
    browser.apply(rotated.headers['set-cookie'])
    const newId = rotated.json().id as string
    t.equal(browser.sid, newId)
    // Loaded after the rotation, still with the old cookie.
    const late = b.inject({ method: 'POST', url: '/track', headers: cookie })
    await new Promise((resolve) => setTimeout(resolve, 50))
    release()
    const responses = [...await Promise.all(early), await late]
    for (const res of responses) {
      t.equal(res.headers['set-cookie'], undefined, `${res.statusCode}: the racing response leaves the cookie alone`)
      browser.apply(res.headers['set-cookie'])
    }
    t.equal(responses[1].json().n, 'FST_REDIS_SESSION_GONE', 'the counter of the retired session is refused, not created anew')
    t.same(responses[2].json(), { id: null, isNew: false }, 'a set() with a retired ID starts no session')

    t.equal(browser.sid, newId, 'the browser still holds the new session')
    const me = await b.inject({ url: '/me', headers: { cookie: `sid=${browser.sid as string}` } })
    t.same(me.json(), { id: newId, username: 'ann' })
    const old = await b.inject({ url: '/me', headers: cookie })
    t.same(old.json(), { id: null, username: null }, 'the old ID opens nothing')
    await assertRetired(t, redis, prefix + oldId)
    t.same((await redis.keys(prefix + '*')).sort(), [prefix + oldId, prefix + newId].sort(), 'no other session was made')
    t.equal(await redis.hget(prefix + newId, 'last_page'), null, 'the racing writes did not reach the new session')
  })
}

t.test('a logout with the retired ID does not clear the new cookie either', async (t) => {
  const prefix = uniquePrefix()
  const redis = await newClient(t)
  const app = await server(t, prefix)
  const oldId = (await app.inject({ method: 'POST', url: '/login' })).json().id as string
  const newId = (await app.inject({ method: 'POST', url: '/login', headers: { cookie: `sid=${oldId}` } })).json().id as string
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: `sid=${oldId}` } })
  t.equal(logout.statusCode, 200)
  t.equal(logout.headers['set-cookie'], undefined)
  t.equal(await redis.hget(prefix + newId, 'username'), 'ann', 'the new session lives on')
})
