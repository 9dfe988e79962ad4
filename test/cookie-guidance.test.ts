// The cookie guidance of 2026: __Host- and __Secure- names are enforced at register time (browsers
// silently drop such a cookie without its attributes); a response that sets or clears the session
// cookie is never stored by a shared cache; destroy() can send Clear-Site-Data (opt-in).
import t from 'tap'
import Fastify from 'fastify'
import redisSession from '../plugin'
import { Agent, build, newClient, uniquePrefix } from './helpers/build'

t.test('__Host- and __Secure- names need their attributes, or register fails with a coded error', async (t) => {
  const cases: Array<[string, object, string | null]> = [
    ['__Host-sid', { secure: true }, null],
    ['__host-sid', { secure: true }, null],
    ['__Host-sid', {}, 'cookie.secure'],
    ['__Host-sid', { secure: 'auto' }, 'cookie.secure'],
    ['__Host-sid', { secure: true, path: '/app' }, 'cookie.path'],
    ['__Host-sid', { secure: true, domain: 'example.com' }, 'cookie.domain'],
    ['__Secure-sid', { secure: true, domain: 'example.com', path: '/app' }, null],
    ['__Secure-sid', { secure: false }, 'cookie.secure'],
    ['__SECURE-sid', {}, 'cookie.secure']
  ]
  for (const [cookieName, cookie, failing] of cases) {
    const redis = await newClient(t)
    const app = Fastify()
    app.register(redisSession, { redis, prefix: uniquePrefix(), cookieName, cookie })
    if (failing === null) {
      await t.resolves(async () => { await app.ready() }, `${cookieName} ${JSON.stringify(cookie)}`)
    } else {
      await t.rejects(async () => { await app.ready() }, { code: 'FST_REDIS_SESSION_INVALID_OPTION', message: new RegExp(`^Invalid option "${failing.replace('.', '\\.')}"`) }, `${cookieName} ${JSON.stringify(cookie)}: ${failing}`)
    }
    await app.close()
  }

  // The recommended setting, end to end: the cookie browsers accept for __Host-.
  const { app } = await build(t, { cookieName: '__Host-sid', cookie: { secure: true } })
  const res = await app.inject({ method: 'POST', url: '/create' })
  t.match(res.headers['set-cookie'], /^__Host-sid=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
})

t.test('a response that sets or clears the session cookie says Cache-Control: no-store', async (t) => {
  const { app } = await build(t, {}, (app) => {
    app.post('/create', async (request) => ({ id: await request.session.create() }))
    app.post('/create-private', async (request, reply) => {
      reply.header('cache-control', 'private, max-age=60')
      return { id: await request.session.create() }
    })
    app.post('/create-public', async (request, reply) => {
      reply.header('cache-control', 'public, max-age=600')
      return { id: await request.session.create() }
    })
    app.get('/read', async (request, reply) => {
      reply.header('cache-control', 'public, max-age=600')
      return { id: request.session.id ?? null }
    })
    app.post('/destroy', async (request) => { await request.session.destroy(); return { ok: true } })
  })
  const agent = new Agent(app)
  const created = await agent.post('/create')
  t.ok(created.headers['set-cookie'])
  t.equal(created.headers['cache-control'], 'no-store', 'a new cookie: no-store')
  t.equal((await agent.post('/create-private')).headers['cache-control'], 'private, max-age=60', 'a route\'s private is kept')
  t.equal((await agent.post('/create-public')).headers['cache-control'], 'no-store', 'a route\'s public is overridden: the Set-Cookie must not be cached')
  const read = await agent.get('/read')
  t.equal(read.headers['set-cookie'], undefined)
  t.equal(read.headers['cache-control'], 'public, max-age=600', 'no cookie sent: the route\'s caching stands')
  const destroyed = await agent.post('/destroy')
  t.match(destroyed.headers['set-cookie'], /Max-Age=0/)
  t.equal(destroyed.headers['cache-control'], 'no-store', 'clearing the cookie: no-store too')
  t.equal(destroyed.headers['clear-site-data'], undefined, 'no Clear-Site-Data unless asked for')
})

t.test('clearSiteData: destroy() also sends Clear-Site-Data: "cookies"', async (t) => {
  const { app } = await build(t, { clearSiteData: true })
  const agent = new Agent(app)
  const created = await agent.post('/create')
  t.equal(created.headers['clear-site-data'], undefined, 'not on a login')
  const destroyed = await agent.post('/destroy')
  t.match(destroyed.headers['set-cookie'], /Max-Age=0/)
  t.equal(destroyed.headers['clear-site-data'], '"cookies"')
  await t.rejects(build(t, { clearSiteData: 'yes' as unknown as boolean }), { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
})
