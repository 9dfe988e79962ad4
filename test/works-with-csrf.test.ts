// @fastify/csrf-protection on this plugin, unchanged, over real HTTP, with
// `sessionPlugin: '@fastify/secure-session'`: the mode that goes through session.get()/set() (the
// '@fastify/session' mode reads and writes request.session._csrf as a property, which this Session
// does not have). What it calls (index.js):
//   reply.generateCsrf()    get('_csrf'); when missing, set('_csrf', a new secret)   -> a token for it
//   app.csrfProtection      get('_csrf'), then checks the request's token against it  (403 otherwise)
//   reply.generateCsrf(opts) also session.options(opts), a secure-session method this Session lacks
import t from 'tap'
import fastifyCsrfProtection from '@fastify/csrf-protection'
import fastifyFormbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import { assertRetired } from './helpers/build'
import { Browser, csrfField, serve } from './helpers/http'

/** The README's registration, and a form that posts with its token. */
async function routes (app: FastifyInstance): Promise<void> {
  // serve() has registered the plugin first, as the README's first line does:
  // README: await app.register(redisSession, { redis })
  await app.register(fastifyFormbody)
  await app.register(fastifyCsrfProtection, { sessionPlugin: '@fastify/secure-session' })

  app.get('/transfer', async (_request, reply) => {
    const token = reply.generateCsrf()
    return reply.type('text/html').send(`<form method="post" action="/transfer"><input type="hidden" name="_csrf" value="${token}"><input name="amount"></form>`)
  })
  // A token in the body is there from preValidation on; one in a header (x-csrf-token) from onRequest on.
  app.post('/transfer', { preHandler: app.csrfProtection }, async (request) => ({ ok: true, amount: (request.body as { amount: string }).amount }))
  app.post('/api/transfer', { onRequest: app.csrfProtection }, async () => ({ ok: true }))

  app.post('/login', { preHandler: app.csrfProtection }, async (request) => {
    await request.session.regenerate()
    request.session.set('user', 'ann')
    return { ok: true }
  })
  // A login that keeps only some fields (as @fastify/passport's does by default): the secret goes too.
  app.post('/login-clearing', { preHandler: app.csrfProtection }, async (request) => {
    await request.session.regenerate(['user'])
    request.session.set('user', 'ann')
    return { ok: true }
  })
  app.get('/bound', async (_request, reply) => ({ token: reply.generateCsrf({ userInfo: 'ann' }) }))
}

t.test('a form flow: the token from reply.generateCsrf() passes, none or a wrong one is 403; the secret lives in the session hash', async (t) => {
  const { origin, redis, key } = await serve(t, routes)
  const browser = new Browser(origin)

  const form = await browser.get('/transfer')
  t.equal(form.status, 200)
  t.match(form.setCookies, [/^sid=/], 'the secret started a session')
  const token = csrfField(form.body)
  const sid = browser.sid as string
  const hash = await redis.hgetall(key(sid))
  t.match(hash._csrf, /^[A-Za-z0-9_-]{24}$/, 'the secret, as a plain string in the hash')
  t.same(Object.keys(hash).sort(), ['_csrf', 'created_at', 'last_accessed_at', 'session_ttl'])
  t.not(token, hash._csrf, 'the page carries a token, never the secret')

  const ok = await browser.form('/transfer', { _csrf: token, amount: '5' })
  t.equal(ok.status, 200)
  t.same(ok.json(), { ok: true, amount: '5' })

  const none = await browser.form('/transfer', { amount: '6' })
  t.equal(none.status, 403)
  t.equal(none.json().code, 'FST_CSRF_INVALID_TOKEN')
  const wrong = await browser.form('/transfer', { _csrf: token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA'), amount: '7' })
  t.equal(wrong.status, 403)
  t.equal(wrong.json().code, 'FST_CSRF_INVALID_TOKEN')

  const second = csrfField((await browser.get('/transfer')).body)
  t.not(second, token, 'every page gets a fresh token...')
  t.equal(await redis.hget(key(sid), '_csrf'), hash._csrf, '...for the same secret')
  t.equal((await browser.form('/transfer', { _csrf: token, amount: '8' })).status, 200, 'so an older page still posts')
  t.equal((await browser.request('POST', '/api/transfer', { headers: { 'x-csrf-token': second } })).status, 200, 'a header token, checked in onRequest')
  t.equal(browser.sid, sid, 'one session all along')
})

t.test('a POST without a session, or with a token of another session, is 403', async (t) => {
  const { origin, keys } = await serve(t, routes)
  const victim = new Browser(origin)
  const token = csrfField((await victim.get('/transfer')).body)

  const attacker = new Browser(origin)
  const missing = await attacker.form('/transfer', { _csrf: token, amount: '5' })
  t.equal(missing.status, 403)
  t.equal(missing.json().code, 'FST_CSRF_MISSING_SECRET')
  t.same(missing.setCookies, [])
  await attacker.get('/transfer')
  const foreign = await attacker.form('/transfer', { _csrf: token, amount: '5' })
  t.equal(foreign.status, 403, "another session's token does not pass")
  t.equal(foreign.json().code, 'FST_CSRF_INVALID_TOKEN')
  t.equal((await keys()).length, 2, 'one session per browser, nothing else')
})

t.test('after regenerate() (a login) the secret moves to the new ID and the flow keeps working', async (t) => {
  const { origin, redis, key } = await serve(t, routes)
  const browser = new Browser(origin)
  const token = csrfField((await browser.get('/transfer')).body)
  const before = browser.sid as string
  const secret = await redis.hget(key(before), '_csrf')

  t.equal((await browser.form('/login', { _csrf: token })).status, 200)
  const after = browser.sid as string
  t.not(after, before)
  await assertRetired(t, redis, key(before))
  t.equal(await redis.hget(key(after), '_csrf'), secret, 'the secret moved with the session')
  t.equal(await redis.hget(key(after), 'user'), 'ann')

  t.equal((await browser.form('/transfer', { _csrf: token, amount: '1' })).status, 200, 'the token from before the login still posts')
  const fresh = csrfField((await browser.get('/transfer')).body)
  t.equal((await browser.form('/transfer', { _csrf: fresh, amount: '2' })).status, 200)

  const old = new Browser(origin)
  old.sid = before
  const res = await old.form('/transfer', { _csrf: token, amount: '3' })
  t.equal(res.status, 403, 'the retired ID has no secret')
  t.equal(res.json().code, 'FST_CSRF_MISSING_SECRET')
})

t.test('after regenerate(keep) without _csrf (a login that clears the session) a new secret comes with the next page', async (t) => {
  const { origin, redis, key } = await serve(t, routes)
  const browser = new Browser(origin)
  const token = csrfField((await browser.get('/transfer')).body)
  const secret = await redis.hget(key(browser.sid as string), '_csrf')

  t.equal((await browser.form('/login-clearing', { _csrf: token })).status, 200)
  t.equal(await redis.hget(key(browser.sid as string), '_csrf'), null, 'the secret went with the cleared fields')
  const stale = await browser.form('/transfer', { _csrf: token, amount: '1' })
  t.equal(stale.status, 403, 'a form from before the login no longer posts')
  t.equal(stale.json().code, 'FST_CSRF_MISSING_SECRET')

  const fresh = csrfField((await browser.get('/transfer')).body)
  const newSecret = await redis.hget(key(browser.sid as string), '_csrf')
  t.ok(newSecret !== null && newSecret !== secret, 'a new secret')
  t.equal((await browser.form('/transfer', { _csrf: fresh, amount: '2' })).status, 200)
})

t.test('caveat: reply.generateCsrf(options) calls secure-session\'s session.options(), which this session does not have', async (t) => {
  const { origin } = await serve(t, routes)
  const res = await new Browser(origin).get('/bound')
  t.equal(res.status, 500)
  t.match(res.json().message, /options is not a function/)
})

t.test("sessionPlugin: '@fastify/session' does not work here: it keeps the secret as a property of request.session, never stored", async (t) => {
  const { origin, keys } = await serve(t, async (app) => {
    await app.register(fastifyFormbody)
    await app.register(fastifyCsrfProtection, { sessionPlugin: '@fastify/session' })
    app.get('/transfer', async (_request, reply) => ({ token: reply.generateCsrf() }))
    app.post('/transfer', { preHandler: app.csrfProtection }, async () => ({ ok: true }))
  })
  const browser = new Browser(origin)
  const { token } = (await browser.get('/transfer')).json()
  t.same(await keys(), [], 'nothing in Redis')
  const res = await browser.form('/transfer', { _csrf: token })
  t.equal(res.status, 403)
  t.equal(res.json().code, 'FST_CSRF_MISSING_SECRET')
})
