// GET /api/session: what the page's countdown asks once its own count reaches zero.
import t from 'tap'
import { Browser, buildDemo, sessionKeys } from './helpers'

t.test('with a live session: the fields as JSON, counts and seconds as numbers', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '300')
  const token = await browser.csrf()
  await browser.form('/increment', { _csrf: token })
  const res = await browser.get('/api/session')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  t.same(Object.keys(body).sort(), ['created_at', 'csrf_token', 'expires_in', 'last_accessed_at', 'page_views', 'session_ttl', 'username'])
  const hash = await redis.hgetall(key(id))
  t.equal(body.username, 'ann')
  t.equal(body.page_views, 1)
  t.equal(body.session_ttl, 300)
  t.equal(typeof body.expires_in, 'number')
  t.ok(body.expires_in > 295 && body.expires_in <= 300, `expires_in ${body.expires_in}`)
  t.equal(body.created_at, hash.created_at)
  t.equal(body.last_accessed_at, hash.last_accessed_at, 'as the load left it')
  t.equal(body.csrf_token, token)
})

t.test('asking slides the TTL, like every load of the session (why the page asks only at zero)', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '60')
  await redis.expire(key(id), 5)
  const body = (await browser.get('/api/session')).json()
  t.ok(body.expires_in > 55, `expires_in ${body.expires_in} after the load`)
  t.ok(await redis.ttl(key(id)) > 55)
})

t.test('401 with a JSON error when there is no live session', async (t) => {
  const { app, redis, key, prefix } = await buildDemo(t)
  const none = await app.inject('/api/session')
  t.equal(none.statusCode, 401)
  t.match(none.headers['content-type'], /^application\/json/)
  t.match(none.json(), { statusCode: 401, error: 'Unauthorized', message: /No live session/ })

  const browser = new Browser(app)
  const id = await browser.login('ann', '15')
  await redis.del(key(id)) // expired
  const expired = await browser.get('/api/session')
  t.equal(expired.statusCode, 401)
  t.equal(expired.json().statusCode, 401)

  const garbage = await app.inject({ url: '/api/session', headers: { cookie: 'sid=not-an-id' } })
  t.equal(garbage.statusCode, 401)
  t.same(await sessionKeys(redis, prefix), [], 'asking never creates a session')
})

t.test('a session that expires for real is reported gone', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '15')
  await redis.pexpire(key(id), 300)
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.equal(await redis.exists(key(id)), 0, 'Redis expired it')
  t.equal((await browser.get('/api/session')).statusCode, 401)
})
