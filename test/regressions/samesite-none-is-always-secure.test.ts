// Used to go wrong: with sameSite: 'none' (or partitioned) and the default secure: 'auto', a request
// over plain HTTP got a SameSite=None cookie without Secure, which browsers drop: the session was lost
// on the next request. Chosen: such a cookie is always Secure ('auto' means true there).
import t from 'tap'
import Fastify from 'fastify'
import redisSession, { type SessionCookieOptions } from '../../plugin'
import { newClient, uniquePrefix } from '../helpers/build'

for (const cookie of [{ sameSite: 'none' }, { partitioned: true }, { sameSite: 'none', partitioned: true }] as SessionCookieOptions[]) {
  t.test(`${JSON.stringify(cookie)} with secure: 'auto' is Secure over plain HTTP`, async (t) => {
    const redis = await newClient(t)
    const app = Fastify()
    await app.register(redisSession, { redis, prefix: uniquePrefix(), cookie })
    app.post('/login', async (request) => ({ id: await request.session.create({ a: 1 }) }))
    app.post('/logout', async (request) => { await request.session.destroy(); return {} })
    t.teardown(() => app.close())
    const login = await app.inject({ method: 'POST', url: '/login' })
    const set = login.headers['set-cookie'] as string
    t.match(set, /; Secure/)
    if (cookie.sameSite === 'none') t.match(set, /SameSite=None/)
    if (cookie.partitioned === true) t.match(set, /; Partitioned/)
    const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: `sid=${login.json().id as string}` } })
    t.match(logout.headers['set-cookie'], /^sid=; Max-Age=0; .*Secure/, 'clearing it is Secure too, or browsers would ignore it')
    t.equal(await redis.exists(app.sessionStore.key(login.json().id)), 0)
  })
}

t.test("sameSite: 'none' with secure: false is refused at boot", async (t) => {
  const redis = await newClient(t)
  const app = Fastify()
  app.register(redisSession, { redis, prefix: uniquePrefix(), cookie: { sameSite: 'none', secure: false } })
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.ready() }, { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
})
