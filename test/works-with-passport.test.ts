// @fastify/passport (with passport-local) on this plugin, unchanged, over real HTTP. What it calls on
// request.session (its dist/session-managers/secure-session-manager.js and strategies/session-strategy.js):
//   every request  get('passport')                        -> deserializeUser(value) -> request.user
//   logIn          regenerate(['passport', 'session', ...clearSessionIgnoreFields]), then set('passport', serializeUser(user))
//                  (clearSessionOnLogin: false: data(), regenerate(), set() of each field back, set('passport', ...))
//   logOut         set('passport', undefined) (a delete), then regenerate()
//   flash options  request.flash() (@fastify/flash: get/set('flash')); successReturnToOrRedirect get/set('returnTo')
import t, { type Test } from 'tap'
import fastifyFormbody from '@fastify/formbody'
import { Authenticator } from '@fastify/passport'
import { Strategy as LocalStrategy } from 'passport-local'
import { assertRetired } from './helpers/build'
import { Browser, serve, type Served } from './helpers/http'

interface User { id: number, username: string, password: string, role: string }
const users = new Map<string, User>([
  ['ann', { id: 42, username: 'ann', password: 'correct horse', role: 'admin' }],
  ['42', { id: 7, username: '42', password: 'digits', role: 'user' }]
])

interface Options {
  serialize?: (user: User) => Promise<unknown>
  deserialize?: (stored: any) => Promise<User | null>
  authenticator?: ConstructorParameters<typeof Authenticator>[0]
  authenticate?: Record<string, unknown>
}

/**
 * The README's registration (each line of its snippet is here, see readme-snippets.test.ts), with the
 * test's own serializers in front of the README's when given, and a recorder of what deserializeUser receives.
 */
async function passportApp (t: Test, options: Options = {}): Promise<Served & { deserialized: unknown[] }> {
  const deserialized: unknown[] = []
  const served = await serve(t, async (app) => {
    // serve() has registered the plugin first, as the README's first line does:
    // README: await app.register(redisSession, { redis })
    await app.register(fastifyFormbody)

    const passport = new Authenticator(options.authenticator) // README: const passport = new Authenticator()
    passport.use('local', new LocalStrategy((username, password, done) => {
      const user = users.get(username)
      done(null, user !== undefined && user.password === password ? user : false)
    }))
    if (options.serialize !== undefined) passport.registerUserSerializer(options.serialize)
    passport.registerUserSerializer(async (user: User) => user.username)
    passport.registerUserDeserializer(async (stored: unknown) => {
      deserialized.push(stored)
      // passport's way for a deserializer to hand over to the next one
      // eslint-disable-next-line no-throw-literal
      throw 'pass'
    })
    if (options.deserialize !== undefined) passport.registerUserDeserializer(options.deserialize)
    passport.registerUserDeserializer(async (username: string) => users.get(username) ?? null)
    await app.register(passport.initialize())
    await app.register(passport.secureSession())

    const authenticate = { successRedirect: '/me', ...options.authenticate }
    app.post('/login', { preValidation: passport.authenticate('local', authenticate) }, async () => {}) // README: app.post('/login', { preValidation: passport.authenticate('local', { successRedirect: '/me' }) }, async () => {})
    app.get('/me', async (request, reply) => {
      if (!request.isAuthenticated()) return reply.code(401).send({ error: 'log in first' })
      const { id, username, role } = request.user as User
      return { id, username, role }
    })
    app.post('/logout', async (request) => {
      if (request.isAuthenticated()) await request.logout()
      return { ok: true }
    })
    app.post('/logout-unguarded', async (request) => {
      await request.logout()
      return { ok: true }
    })
    // Something a visitor keeps in the session before and after logging in.
    app.post('/theme', async (request) => {
      request.session.set('theme', (request.body as { theme: string }).theme)
      return { ok: true }
    })
  })
  return { ...served, deserialized }
}

async function login (browser: Browser, username = 'ann', password = users.get(username)?.password ?? ''): Promise<void> {
  const res = await browser.form('/login', { username, password })
  if (res.status !== 302 || res.location !== '/me') throw new Error(`login failed: ${res.status} ${res.body}`)
}

t.test('a first-time visitor logs in: a new session holds the serialized user, and the protected route sees request.user', async (t) => {
  const { origin, redis, key, keys, deserialized } = await passportApp(t)
  const browser = new Browser(origin)
  t.equal((await browser.get('/me')).status, 401, 'not logged in yet')
  t.same(await keys(), [], 'and nothing in Redis')

  const res = await browser.form('/login', { username: 'ann', password: 'correct horse' })
  t.equal(res.status, 302)
  t.equal(res.location, '/me')
  t.match(res.setCookies, [/^sid=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/], 'one session cookie')
  const sid = browser.sid as string
  const hash = await redis.hgetall(key(sid))
  t.equal(hash.passport, 'ann', 'Redis holds the serialized user as it is')
  t.same(Object.keys(hash).sort(), ['created_at', 'last_accessed_at', 'passport', 'session_ttl'])
  t.same(await keys(), [key(sid)], 'one key: no rotation marker without a session before')

  const me = await browser.follow(res)
  t.equal(me.status, 200)
  t.same(me.json(), { id: 42, username: 'ann', role: 'admin' }, 'request.user, from the deserializer')
  t.same(deserialized, ['ann'], 'deserializeUser received the string it stored')
  t.same(me.setCookies, [], 'a logged-in request does not touch the cookie')
})

t.test('login rotates the session ID: the pre-login ID is dead, only a rotation marker remains (no fixation)', async (t) => {
  const { origin, redis, key } = await passportApp(t)
  const browser = new Browser(origin)
  await browser.form('/theme', { theme: 'dark' })
  const before = browser.sid as string
  t.equal(await redis.hget(key(before), 'theme'), 'dark', 'an anonymous session')

  await login(browser)
  const after = browser.sid as string
  t.not(after, before, 'a new ID at login')
  await assertRetired(t, redis, key(before))
  const hash = await redis.hgetall(key(after))
  t.equal(hash.passport, 'ann')
  t.equal(hash.theme, undefined, 'passport clears the rest of the session at login by default (clearSessionOnLogin)')

  // An attacker who planted or saw the pre-login ID gets nothing with it.
  const attacker = new Browser(origin)
  attacker.sid = before
  const res = await attacker.get('/me')
  t.equal(res.status, 401, 'the pre-login ID opens no login')
  t.same(res.setCookies, [], 'and is not handed the new cookie')
  t.equal((await browser.get('/me')).status, 200, 'the user is logged in under the new ID')
})

t.test('clearSessionIgnoreFields keeps the listed fields across the login rotation', async (t) => {
  const { origin, redis, key } = await passportApp(t, { authenticator: { clearSessionIgnoreFields: ['theme'] } })
  const browser = new Browser(origin)
  await browser.form('/theme', { theme: 'dark' })
  const before = browser.sid as string
  await login(browser)
  t.not(browser.sid, before)
  const hash = await redis.hgetall(key(browser.sid as string))
  t.same({ passport: hash.passport, theme: hash.theme }, { passport: 'ann', theme: 'dark' })
  await assertRetired(t, redis, key(before))
})

t.test('clearSessionOnLogin: false keeps the whole session, and still rotates the ID', async (t) => {
  const { origin, redis, key } = await passportApp(t, { authenticator: { clearSessionOnLogin: false } })
  const browser = new Browser(origin)
  await browser.form('/theme', { theme: 'dark' })
  const before = browser.sid as string
  await login(browser)
  t.not(browser.sid, before)
  const hash = await redis.hgetall(key(browser.sid as string))
  t.same({ passport: hash.passport, theme: hash.theme }, { passport: 'ann', theme: 'dark' })
  await assertRetired(t, redis, key(before))
})

t.test('serializeUser with an object: Redis holds readable JSON, and deserializeUser gets the object back with its types', async (t) => {
  const { origin, redis, key, deserialized } = await passportApp(t, {
    serialize: async (user) => ({ id: user.id, role: user.role }),
    deserialize: async (stored: { id: number, role: string }) => [...users.values()].find((u) => u.id === stored.id) ?? null
  })
  const browser = new Browser(origin)
  await login(browser)
  t.equal(await redis.hget(key(browser.sid as string), 'passport'), '{"id":42,"role":"admin"}')
  const me = await browser.get('/me')
  t.same(me.json(), { id: 42, username: 'ann', role: 'admin' })
  t.same(deserialized, [{ id: 42, role: 'admin' }])
  t.equal(typeof (deserialized[0] as { id: unknown }).id, 'number', 'the id is still a number')
})

t.test('serializeUser with a string that looks like a number: stored quoted, and it comes back a string', async (t) => {
  const { origin, redis, key, deserialized } = await passportApp(t)
  const browser = new Browser(origin)
  await login(browser, '42')
  t.equal(await redis.hget(key(browser.sid as string), 'passport'), '"42"', 'quoted, so it cannot read back as the number 42')
  t.same((await browser.get('/me')).json(), { id: 7, username: '42', role: 'user' })
  t.same(deserialized, ['42'])
  t.equal(typeof deserialized[0], 'string')
})

t.test('serializeUser with a number id: it comes back a number', async (t) => {
  const { origin, redis, key, deserialized } = await passportApp(t, {
    serialize: async (user) => user.id,
    deserialize: async (id: number) => [...users.values()].find((u) => u.id === id) ?? null
  })
  const browser = new Browser(origin)
  await login(browser)
  t.equal(await redis.hget(key(browser.sid as string), 'passport'), '42')
  t.same((await browser.get('/me')).json(), { id: 42, username: 'ann', role: 'admin' })
  t.same(deserialized, [42])
})

t.test('logout ends the login: request.user gone, the passport field removed from Redis, the ID rotated, other fields kept', async (t) => {
  const { origin, redis, key } = await passportApp(t)
  const browser = new Browser(origin)
  await login(browser)
  await browser.form('/theme', { theme: 'dark' })
  const loggedIn = browser.sid as string

  const res = await browser.request('POST', '/logout')
  t.equal(res.status, 200)
  const after = browser.sid as string
  t.not(after, loggedIn, 'passport regenerates at logout: a new ID')
  await assertRetired(t, redis, key(loggedIn))
  const hash = await redis.hgetall(key(after))
  t.equal(hash.passport, undefined, 'no passport field')
  t.equal(hash.theme, 'dark', 'the rest of the session stays')
  t.equal((await browser.get('/me')).status, 401, 'request.user is gone')

  const old = new Browser(origin)
  old.sid = loggedIn
  t.equal((await old.get('/me')).status, 401, 'the logged-in ID is dead too')
})

t.test('a failed login sets nothing', async (t) => {
  const { origin, redis, key, keys } = await passportApp(t)

  const stranger = new Browser(origin)
  const wrong = await stranger.form('/login', { username: 'ann', password: 'wrong' })
  t.equal(wrong.status, 401)
  t.same(wrong.setCookies, [], 'no cookie')
  const missing = await stranger.form('/login', { username: 'ann' })
  t.equal(missing.status, 400, 'missing credentials')
  t.same(missing.setCookies, [])
  t.same(await keys(), [], 'no key in Redis')

  const visitor = new Browser(origin)
  await visitor.form('/theme', { theme: 'dark' })
  const sid = visitor.sid as string
  const before = await redis.hgetall(key(sid))
  const res = await visitor.form('/login', { username: 'nobody', password: 'x' })
  t.equal(res.status, 401)
  t.same(res.setCookies, [], 'the cookie is left alone')
  t.equal(visitor.sid, sid, 'no rotation')
  const after = await redis.hgetall(key(sid))
  t.same({ ...after, last_accessed_at: undefined }, { ...before, last_accessed_at: undefined }, 'the session is unchanged')
  t.same(await keys(), [key(sid)], 'and no other key')
})

t.test('a deserializer that no longer finds the user logs the session out', async (t) => {
  let exists = true
  const { origin, redis, key } = await passportApp(t, { deserialize: async (username: string) => exists ? users.get(username) ?? null : null })
  const browser = new Browser(origin)
  await login(browser)
  exists = false
  const sid = browser.sid as string
  t.equal((await browser.get('/me')).status, 401)
  t.not(browser.sid, sid, 'passport logs out: set(passport, undefined) and regenerate()')
  t.equal(await redis.hget(key(browser.sid as string), 'passport'), null)
})

t.test('caveat: keepSessionInfo: true keeps nothing extra (passport reads Object.keys(request.session)); use clearSessionIgnoreFields', async (t) => {
  const { origin, redis, key } = await passportApp(t, { authenticate: { keepSessionInfo: true } })
  const browser = new Browser(origin)
  await browser.form('/theme', { theme: 'dark' })
  await login(browser)
  const hash = await redis.hgetall(key(browser.sid as string))
  t.same({ passport: hash.passport, theme: hash.theme }, { passport: 'ann', theme: undefined })
})

t.test('caveat: a logout without a session starts an empty one (passport calls regenerate()); the guard with isAuthenticated() does not', async (t) => {
  const { origin, redis, key, keys } = await passportApp(t)
  const unguarded = new Browser(origin)
  const res = await unguarded.request('POST', '/logout-unguarded')
  t.equal(res.status, 200)
  t.match(res.setCookies, [/^sid=/])
  t.same(Object.keys(await redis.hgetall(key(unguarded.sid as string))).sort(), ['created_at', 'last_accessed_at', 'session_ttl'])
  await redis.del(...await keys())

  const guarded = await new Browser(origin).request('POST', '/logout')
  t.equal(guarded.status, 200)
  t.same(guarded.setCookies, [])
  t.same(await keys(), [])
})

t.test('caveat: failureFlash: true flashes nothing for passport-local (its { message } has no type): give the message as a string', async (t) => {
  const { origin, keys } = await passportApp(t, { authenticate: { failureRedirect: '/login', failureFlash: true } })
  const browser = new Browser(origin)
  const res = await browser.form('/login', { username: 'ann', password: 'wrong' })
  t.equal(res.status, 302)
  t.equal(res.location, '/login')
  t.same(res.setCookies, [])
  t.same(await keys(), [], 'no flash, so no session')
})

t.test("caveat: successFlash is set before the login clears the session: lost unless 'flash' is in clearSessionIgnoreFields", async (t) => {
  for (const [ignore, expected] of [[[], null], [['flash'], '{"success":["Welcome"]}']] as const) {
    const { origin, redis, key } = await passportApp(t, { authenticator: { clearSessionIgnoreFields: [...ignore] }, authenticate: { successFlash: 'Welcome' } })
    const browser = new Browser(origin)
    await login(browser)
    t.equal(await redis.hget(key(browser.sid as string), 'flash'), expected, `clearSessionIgnoreFields: ${JSON.stringify(ignore)}`)
  }
})
