// Used to go wrong: @fastify/cookie merges its own parseOptions into every reply.setCookie() call, so
// an app that registered it with `parseOptions: { signed: true, maxAge, domain }` got a session cookie
// that was signed (and so never matched an ID again), persistent, and scoped to another domain.
import t from 'tap'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import redisSession from '../../plugin'
import { newClient, uniquePrefix } from '../helpers/build'

t.test("@fastify/cookie's parseOptions do not reach the session cookie", async (t) => {
  const redis = await newClient(t)
  const app = Fastify()
  await app.register(fastifyCookie, {
    secret: 'a-secret-of-the-application-32chars!',
    parseOptions: { signed: true, maxAge: 5, domain: 'other.example', path: '/elsewhere', httpOnly: false, sameSite: 'none', secure: true }
  })
  await app.register(redisSession, { redis, prefix: uniquePrefix() })
  app.post('/login', async (request, reply) => {
    reply.setCookie('theme', 'dark') // the application's own cookie still gets them
    return { id: await request.session.create({ username: 'ann' }) }
  })
  app.get('/me', async (request) => ({ id: request.session.id ?? null, username: request.session.get('username') ?? null }))
  t.teardown(() => app.close())
  const login = await app.inject({ method: 'POST', url: '/login' })
  const id = login.json().id as string
  const cookies = login.headers['set-cookie'] as string[]
  const session = cookies.find((c) => c.startsWith('sid='))
  t.equal(session, `sid=${id}; Path=/; HttpOnly; SameSite=Lax`, 'only the attributes the plugin sets, the ID unsigned')
  t.ok(cookies.some((c) => c.startsWith('theme=') && c.includes('Max-Age=5')), "the app's own cookie keeps parseOptions")
  const me = await app.inject({ url: '/me', headers: { cookie: `sid=${id}` } })
  t.same(me.json(), { id, username: 'ann' }, 'and the cookie opens the session')
  t.equal(await redis.hget(app.sessionStore.key(id), 'username'), 'ann')
})
