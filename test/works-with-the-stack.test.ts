// The typical stack on this plugin, over real HTTP: @fastify/passport (passport-local) logging in
// through a form that carries a @fastify/csrf-protection token, with @fastify/flash messages (which
// passport.initialize() registers itself) for a failed login, a successful one, and the logout.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import fastifyCsrfProtection from '@fastify/csrf-protection'
import fastifyFormbody from '@fastify/formbody'
import { Authenticator } from '@fastify/passport'
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { Strategy as LocalStrategy } from 'passport-local'
import { assertRetired, uniquePrefix } from './helpers/build'
import { Browser, csrfField, flashes, serve } from './helpers/http'
import { redisUrl } from './helpers/redis-server'

const run = promisify(execFile)
const root = join(__dirname, '..')

interface User { id: number, username: string, password: string }
const users = [{ id: 42, username: 'ann', password: 'correct horse' }]

function escape (s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A page with the session's flash messages, taken only when there are some. */
function page (request: FastifyRequest, reply: FastifyReply, html: string): FastifyReply {
  const all = (request.session.get('flash') === undefined ? {} : reply.flash()) as Record<string, string[]>
  const messages = Object.entries(all).flatMap(([type, list]) => list.map((m) => `<p class="flash ${type}">${escape(m)}</p>`))
  return reply.type('text/html').send(messages.join('') + html)
}

/** The README's stack, in its order: session, body parser, CSRF, passport (which brings flash). */
async function stack (app: FastifyInstance): Promise<void> {
  // serve() has registered the plugin first, as the README's first line does:
  // README: await app.register(redisSession, { redis })
  await app.register(fastifyFormbody)
  await app.register(fastifyCsrfProtection, { sessionPlugin: '@fastify/secure-session' })

  // 'flash' survives the login's clearing of the session, so successFlash reaches the next page.
  const passport = new Authenticator({ clearSessionIgnoreFields: ['flash'] })
  passport.use('local', new LocalStrategy((username, password, done) => {
    const user = users.find((u) => u.username === username)
    done(null, user !== undefined && user.password === password ? user : false)
  }))
  passport.registerUserSerializer(async (user: User) => user.id)
  passport.registerUserDeserializer(async (id: number) => users.find((u) => u.id === id) ?? null)
  await app.register(passport.initialize())
  await app.register(passport.secureSession())

  app.get('/login', async (request, reply) => page(request, reply,
    `<form method="post" action="/login"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}">` +
    '<input name="username"><input name="password" type="password"></form>'))
  app.post('/login', {
    preValidation: [app.csrfProtection, passport.authenticate('local', {
      successRedirect: '/',
      successFlash: 'Welcome back!',
      failureRedirect: '/login',
      failureFlash: 'Wrong username or password'
    })]
  }, async () => {})
  app.get('/', async (request, reply) => {
    if (!request.isAuthenticated()) return reply.redirect('/login')
    return page(request, reply, `<h1>Hello, ${escape((request.user as User).username)}</h1>` +
      `<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${reply.generateCsrf()}"></form>`)
  })
  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    await request.logout()
    request.flash('info', 'You are logged out')
    return reply.redirect('/login', 303)
  })
}

t.test('log in through a CSRF-protected form, with flash messages, then log out', async (t) => {
  const { origin, redis, key, keys } = await serve(t, stack)
  const browser = new Browser(origin)

  const home = await browser.get('/')
  t.equal(home.status, 302, 'not logged in: to the login page')
  t.equal(home.location, '/login')
  t.same(await keys(), [], 'no session for a redirect')

  // The login form: its CSRF secret starts the session.
  let form = await browser.get('/login')
  t.same(flashes(form.body), [])
  const anonymous = browser.sid as string
  const preLoginToken = csrfField(form.body)
  const preLoginSecret = await redis.hget(key(anonymous), '_csrf')
  t.ok(preLoginSecret)

  // No token: 403, nothing changes.
  const forged = await browser.form('/login', { username: 'ann', password: 'correct horse' })
  t.equal(forged.status, 403)
  t.equal(forged.json().code, 'FST_CSRF_INVALID_TOKEN')
  t.equal(browser.sid, anonymous)
  t.equal(await redis.hget(key(anonymous), 'passport'), null, 'not logged in')

  // A wrong password: back to the form, with the message shown once.
  const failed = await browser.form('/login', { _csrf: preLoginToken, username: 'ann', password: 'wrong' })
  t.equal(failed.status, 302)
  t.equal(failed.location, '/login')
  t.equal(browser.sid, anonymous, 'no rotation for a failed login')
  t.equal(await redis.hget(key(anonymous), 'flash'), '{"error":["Wrong username or password"]}', 'the message waits in Redis')
  t.equal(await redis.hget(key(anonymous), 'passport'), null)
  form = await browser.follow(failed)
  t.same(flashes(form.body), ['error: Wrong username or password'])
  t.equal(csrfField(form.body) !== preLoginToken, true, 'a new token...')
  t.equal(await redis.hget(key(anonymous), '_csrf'), preLoginSecret, '...for the same secret')
  form = await browser.get('/login')
  t.same(flashes(form.body), [], 'shown once')
  const token = csrfField(form.body)

  // The right password: a new session ID, the user and the welcome message in it.
  const ok = await browser.form('/login', { _csrf: token, username: 'ann', password: 'correct horse' })
  t.equal(ok.status, 302)
  t.equal(ok.location, '/')
  const loggedIn = browser.sid as string
  t.not(loggedIn, anonymous, 'the login rotated the ID')
  await assertRetired(t, redis, key(anonymous))
  const hash = await redis.hgetall(key(loggedIn))
  t.same({ passport: hash.passport, flash: hash.flash, _csrf: hash._csrf }, {
    passport: '42',
    flash: '{"success":["Welcome back!"]}',
    _csrf: undefined
  }, 'the user id and the message; the CSRF secret went with the rest of the pre-login session')

  const welcome = await browser.follow(ok)
  t.equal(welcome.status, 200)
  t.match(welcome.body, '<h1>Hello, ann</h1>')
  t.same(flashes(welcome.body), ['success: Welcome back!'])
  const loggedInSecret = await redis.hget(key(loggedIn), '_csrf')
  t.ok(loggedInSecret !== null && loggedInSecret !== preLoginSecret, 'a new CSRF secret after login')
  const again = await browser.get('/')
  t.same(flashes(again.body), [], 'the welcome is shown once')
  const logoutToken = csrfField(again.body)

  // A form from before the login (another tab) no longer posts.
  const stale = await browser.form('/logout', { _csrf: preLoginToken })
  t.equal(stale.status, 403)
  t.equal(await redis.hget(key(loggedIn), 'passport'), '42', 'still logged in')

  // Log out: the passport field goes, the ID rotates, the message shows on the login page.
  const out = await browser.form('/logout', { _csrf: logoutToken })
  t.equal(out.status, 303)
  t.equal(out.location, '/login')
  const loggedOut = browser.sid as string
  t.not(loggedOut, loggedIn)
  await assertRetired(t, redis, key(loggedIn))
  t.equal(await redis.hget(key(loggedOut), 'passport'), null)
  t.equal(await redis.hget(key(loggedOut), '_csrf'), loggedInSecret, 'logout keeps the rest of the session (passport regenerates without clearing)')
  const bye = await browser.follow(out)
  t.same(flashes(bye.body), ['info: You are logged out'])
  t.equal((await browser.get('/')).status, 302, 'logged out')

  const replay = new Browser(origin)
  replay.sid = loggedIn
  t.equal((await replay.get('/')).status, 302, 'the logged-in ID opens nothing any more')
})

for (const order of ['flash-first', 'passport-first']) {
  t.test(`passport.initialize() registers @fastify/flash itself: registering it too (${order}) crashes the app at boot`, async (t) => {
    // A plugin's synchronous throw escapes avvio as an uncaught exception, not a ready() rejection:
    // hence a process of its own, on the built package.
    if (!existsSync(join(root, 'dist/plugin/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
    const result = await run(process.execPath, [join(__dirname, 'fixtures', 'passport-and-flash.cjs'), order], {
      cwd: root,
      env: { ...process.env, TEST_REDIS_URL: await redisUrl(), TEST_PREFIX: uniquePrefix(), NODE_OPTIONS: '' },
      timeout: 20_000
    }).then(() => ({ code: 0, stdout: 'booted', stderr: '' }), (err: { code: number, stdout: string, stderr: string }) => err)
    t.not(result.code, 0)
    t.notMatch(result.stdout, 'booted')
    t.match(result.stderr, "The decorator 'flash' has already been added!")
  })
}
