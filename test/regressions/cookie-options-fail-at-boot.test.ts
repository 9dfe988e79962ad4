// Used to go wrong: cookie options that passed register-time checks could still make the cookie
// serializer throw at request time (a path or domain with characters it refuses), so every request
// that set the cookie failed with a 500; and Partitioned without Secure produced a cookie browsers drop.
import t from 'tap'
import Fastify from 'fastify'
import redisSession, { type SessionCookieOptions } from '../../plugin'
import { newClient, uniquePrefix } from '../helpers/build'

const refused: Array<[string, SessionCookieOptions]> = [
  ['a path with a character the serializer refuses', { path: '/caf\u00e9' }],
  ['a path with a control character', { path: '/a\u0007b' }],
  ['a domain with an empty label', { domain: 'example..com' }],
  ['a domain that starts with a hyphen', { domain: '-example.com' }],
  ['Partitioned without Secure', { partitioned: true, secure: false }]
]

for (const [what, cookie] of refused) {
  t.test(`${what} fails at boot with FST_REDIS_SESSION_INVALID_OPTION`, async (t) => {
    const redis = await newClient(t)
    const app = Fastify()
    app.register(redisSession, { redis, prefix: uniquePrefix(), cookie })
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.ready() }, { code: 'FST_REDIS_SESSION_INVALID_OPTION' })
  })
}

t.test('every accepted combination serializes at request time', async (t) => {
  const redis = await newClient(t)
  const accepted: SessionCookieOptions[] = [
    { path: '/app', domain: 'example.com' },
    { domain: '.example.com', maxAge: 3600, priority: 'high' },
    { sameSite: 'strict', httpOnly: false },
    { sameSite: 'none', partitioned: true },
    { sameSite: false, secure: true }
  ]
  for (const cookie of accepted) {
    const app = Fastify()
    await app.register(redisSession, { redis, prefix: uniquePrefix(), cookie })
    app.post('/', async (request) => ({ id: await request.session.create({ a: 1 }) }))
    const res = await app.inject({ method: 'POST', url: '/' })
    t.equal(res.statusCode, 200, JSON.stringify(cookie))
    t.match(res.headers['set-cookie'], /^sid=[\w-]{43}; /)
    await redis.del(app.sessionStore.key(res.json().id))
    await app.close()
  }
})
