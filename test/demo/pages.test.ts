// GET /: the login form without a session, the session page with one; neither creates a session
// nor counts a page view. Plus the static files, the security headers and the 404 page.
import t from 'tap'
import { Browser, buildDemo, csrfToken, hashTable, textOf, sessionKeys } from './helpers'

t.test('GET / without a session shows the login form and creates nothing', async (t) => {
  const { app, redis, prefix } = await buildDemo(t)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(res.headers['set-cookie'], undefined, 'no cookie')
  t.equal(res.headers['cache-control'], 'no-store')
  t.match(res.body, /<form class="login-form" method="post" action="\/login">/)
  t.match(res.body, /name="username"[^>]*maxlength="64"/)
  for (const ttl of ['15', '60', '300', '1800']) t.match(res.body, new RegExp(`name="ttl" value="${ttl}"`), `TTL choice ${ttl}`)
  t.notMatch(res.body, /name="_csrf"/, 'no CSRF token without a session')
  t.same(await sessionKeys(redis, prefix), [], 'no key in Redis')
})

t.test('GET / with a session shows the user, the counter, the TTL, the raw hash and the redis-cli commands', async (t) => {
  const { app, redis, key, prefix } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '300')
  const res = await browser.get('/')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['set-cookie'], undefined, 'the cookie is not sent again')
  const page = res.body
  t.equal(textOf(page, 'username'), 'ann')
  t.equal(textOf(page, 'page-views'), '0')
  t.match(page, /id="session-ttl" data-seconds="300">5 minutes</)
  const expiresIn = Number(textOf(page, 'expires-in'))
  t.ok(expiresIn > 295 && expiresIn <= 300, `expires in ${expiresIn} s`)
  t.match(page, new RegExp(`id="session-view" data-expires-in="${expiresIn}" data-session-ttl="300"`))

  // The table is HGETALL of the key, exactly.
  const hash = await redis.hgetall(key(id))
  t.same(hashTable(page), hash)
  t.same(Object.keys(hash).sort(), ['created_at', 'csrf_token', 'last_accessed_at', 'page_views', 'session_label', 'session_ttl', 'session_user', 'username'], 'filed under the username (the user agent as its label)')
  t.equal(hash.session_user, 'ann')
  t.equal(csrfToken(page), hash.csrf_token, 'forms carry the session token')
  t.equal((page.match(/name="_csrf"/g) ?? []).length, 3, 'increment, TTL and logout forms each carry it')

  // The commands name the real key.
  t.match(page, `redis-cli HGETALL ${prefix}${id}`)
  t.match(page, `redis-cli TTL ${prefix}${id}`)
  t.match(page, `redis-cli --scan --pattern &#39;${prefix}*&#39;`)
  t.match(page, /<script src="\/static\/session.js" defer><\/script>/)
  t.match(page, /id="expired-view" hidden/, 'the expired panel waits hidden')
})

t.test('GET / slides the TTL once and counts no page view; reading the hash changes nothing more', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '60')
  await redis.expire(key(id), 30)
  await new Promise((resolve) => setTimeout(resolve, 20))
  const res = await browser.get('/')
  const after = await redis.hgetall(key(id))
  t.equal(after.page_views, '0', 'not counted')
  t.ok(await redis.ttl(key(id)) > 55, 'loading slid the TTL back to the session TTL')
  // The page shows the hash as the load left it: the HGETALL for the table did not write again.
  t.equal(hashTable(res.body).last_accessed_at, after.last_accessed_at)
  for (let i = 0; i < 3; i++) await browser.get('/')
  t.equal(await redis.hget(key(id), 'page_views'), '0')
  t.equal(await redis.exists(key(id)), 1)
})

t.test('a username is shown as text, never as markup', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const name = '<script>alert("x")</script>&\''
  const id = await browser.login(name)
  t.equal(await redis.hget(key(id), 'username'), name, 'stored as typed')
  const page = (await browser.get('/')).body
  t.notMatch(page, '<script>alert', 'no raw script tag')
  t.match(page, '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;')
  t.equal(hashTable(page).username, name)
  t.equal(page.match(/<script/g)?.length, 1, 'the only script is the page script')
})

t.test('a cookie whose session expired: the login form says so and the cookie is cleared', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login()
  await redis.del(key(id)) // what expiry does
  const res = await browser.get('/')
  t.equal(res.statusCode, 200)
  t.match(res.body, /id="notice"[^>]*>Your session expired/)
  t.match(res.body, /action="\/login"/)
  const cookie = res.cookies.find((c) => c.name === 'sid')
  t.equal(cookie?.maxAge, 0, 'stale cookie cleared')
  t.equal(browser.sid, undefined)
  t.equal(await redis.exists(key(id)), 0, 'nothing recreated')
  t.notMatch((await browser.get('/')).body, /id="notice"/, 'said once')
})

t.test('security headers: a strict CSP with no inline script or style', async (t) => {
  const { app } = await buildDemo(t)
  const res = await app.inject('/')
  const csp = String(res.headers['content-security-policy'])
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/)
  t.match(csp, /style-src 'self'(;|$)/)
  t.match(csp, /form-action 'self'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.notMatch(csp, /unsafe-inline/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['referrer-policy'], 'same-origin')
  t.notMatch(res.body, /<script>|<style|style="/, 'no inline script or style in the page')
})

t.test('static files come from demo/public, with no session work', async (t) => {
  const { app } = await buildDemo(t)
  const js = await app.inject('/static/session.js')
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /^text\/javascript/)
  t.match(js.body, /\/api\/session/)
  const css = await app.inject('/static/app.css')
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], /^text\/css/)
  const again = await app.inject({ url: '/static/app.css', headers: { 'if-none-match': String(css.headers.etag) } })
  t.equal(again.statusCode, 304)
  t.equal((await app.inject('/static/favicon.svg')).headers['content-type'], 'image/svg+xml')
  t.equal((await app.inject('/static/..%2Fapp.ts')).statusCode, 404)
  t.equal((await app.inject('/static/nope.js')).statusCode, 404)
})

t.test('unknown pages get a 404 page, unknown API paths a JSON 404', async (t) => {
  const { app } = await buildDemo(t)
  const page = await app.inject('/nope?a=1&b=2')
  t.equal(page.statusCode, 404)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, 'There is nothing at /nope?a=1&amp;b=2.')
  const api = await app.inject('/api/nope')
  t.equal(api.statusCode, 404)
  t.equal(api.json().statusCode, 404)
})
