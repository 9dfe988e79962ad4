// The forms on the session page: POST /increment, /ttl and /logout, each 303 to /, checked in the
// page and in Redis. Without a live session they change nothing and create nothing.
import t from 'tap'
import { buildApp } from '../../demo/app'
import { newClient, uniquePrefix } from '../helpers/build'
import { Browser, buildDemo, textOf, sessionKeys } from './helpers'

t.test('POST /increment counts one page view, atomically in the hash', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '60')
  const token = await browser.csrf()
  for (let i = 1; i <= 2; i++) {
    const res = await browser.form('/increment', { _csrf: token })
    t.equal(res.statusCode, 303)
    t.equal(res.headers.location, '/')
    t.equal(await redis.hget(key(id), 'page_views'), String(i))
  }
  t.equal(textOf((await browser.get('/')).body, 'page-views'), '2')
  // Concurrent clicks are all counted: HINCRBY, not read-modify-write.
  await Promise.all(Array.from({ length: 10 }, () => browser.form('/increment', { _csrf: token })))
  t.equal(await redis.hget(key(id), 'page_views'), '12')
  t.equal(browser.sid, id, 'same session throughout')
})

t.test('POST /ttl changes the stored session_ttl and the key expiry together', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '15')
  t.ok(await redis.ttl(key(id)) <= 15)
  const res = await browser.form('/ttl', { _csrf: await browser.csrf(), ttl: '1800' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/')
  t.equal(await redis.hget(key(id), 'session_ttl'), '1800')
  const ttl = await redis.ttl(key(id))
  t.ok(ttl > 1790 && ttl <= 1800, `Redis TTL ${ttl}`)
  const page = (await browser.get('/')).body
  t.match(page, /id="session-ttl" data-seconds="1800">30 minutes</)
  t.match(page, /<option value="1800" selected>/)
  // Every later load slides by the new TTL.
  await redis.expire(key(id), 100)
  await browser.get('/')
  t.ok(await redis.ttl(key(id)) > 1790, 'slid by the new TTL')
})

t.test('POST /ttl with a TTL that is not offered is a 400 and changes nothing', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '60')
  const token = await browser.csrf()
  for (const ttl of ['0', '-1', '61', 'abc', '99999999999']) {
    const res = await browser.form('/ttl', { _csrf: token, ttl })
    t.equal(res.statusCode, 400, ttl)
    t.match(res.body, 'Pick a session TTL')
  }
  t.equal((await browser.form('/ttl', { _csrf: token })).statusCode, 400, 'missing')
  t.equal(await redis.hget(key(id), 'session_ttl'), '60')
})

t.test('POST /logout deletes the hash, clears the cookie and the login page says so', async (t) => {
  const { app, redis, key, prefix } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann')
  const res = await browser.form('/logout', { _csrf: await browser.csrf() })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/?logged-out')
  const cookie = res.cookies.find((c) => c.name === 'sid')
  t.equal(cookie?.maxAge, 0, 'cookie cleared')
  t.equal(browser.sid, undefined)
  t.equal(await redis.exists(key(id)), 0, 'hash deleted')
  const after = await browser.get(res.headers.location as string)
  t.equal(after.statusCode, 200)
  t.match(after.body, /action="\/login"/, 'back to the login form')
  t.equal(textOf(after.body, 'notice'), 'You are logged out.')
  t.notMatch(after.body, /expired/, 'a logout is not an expiry')
  t.equal(after.headers['set-cookie'], undefined)
  t.same(await sessionKeys(redis, prefix), [], 'the notice creates no session')
  t.notMatch((await browser.get('/')).body, /id="notice"/, 'plain / has no notice')
})

t.test('the logged-out notice is fixed text: the query only selects it', async (t) => {
  const { app } = await buildDemo(t)
  for (const url of ['/?logged-out=<b>pwned</b>', '/?logged-out=1&notice=Send+your+password', '/?notice=Send+your+password&logged-out']) {
    const page = (await app.inject(url)).body
    t.equal(textOf(page, 'notice'), 'You are logged out.', url)
    t.notMatch(page, /pwned|password/i, `${url}: nothing from the query is shown`)
  }
  t.notMatch((await app.inject('/?notice=You+are+logged+out')).body, /id="notice"/, 'another key selects nothing')
  // With a live session the page is the session page, whatever the query says.
  const browser = new Browser(app)
  await browser.login('ann')
  const page = (await browser.get('/?logged-out')).body
  t.equal(textOf(page, 'username'), 'ann')
  t.notMatch(page, /id="notice"/)
})

t.test('without a live session the forms change nothing and create no session', async (t) => {
  const { app, redis, key, prefix } = await buildDemo(t)
  for (const [url, fields, location] of [['/increment', {}, '/'], ['/ttl', { ttl: '60' }, '/'], ['/logout', {}, '/?logged-out']] as const) {
    const res = await new Browser(app).form(url, fields)
    t.equal(res.statusCode, 303, `${url} without a cookie`)
    t.equal(res.headers.location, location)
  }
  t.same(await sessionKeys(redis, prefix), [], 'nothing created')

  // An expired session: the cookie is still there, the hash is not.
  const browser = new Browser(app)
  const id = await browser.login('ann')
  const token = await browser.csrf()
  await redis.del(key(id))
  const res = await browser.form('/increment', { _csrf: token })
  t.equal(res.statusCode, 303)
  t.equal(await redis.exists(key(id)), 0, 'increment did not bring it back')
  t.equal((await browser.form('/ttl', { _csrf: token, ttl: '60' })).statusCode, 303)
  t.equal(await redis.exists(key(id)), 0, 'TTL change did not bring it back')
  t.match((await browser.get('/')).body, /id="notice"[^>]*>Your session expired/, '/ explains')
  t.same(await sessionKeys(redis, prefix), [])
})

t.test('a session that expires while the request runs is not brought back', async (t) => {
  const redis = await newClient(t)
  const prefix = uniquePrefix()
  const app = buildApp({ redis: await newClient(t), prefix })
  // Delete the key after the session is loaded and before the handler changes it: an expiry mid-request.
  app.addHook('preHandler', async (request) => {
    if (request.method === 'POST' && request.url !== '/login' && request.session.id !== undefined) {
      await redis.del(prefix + request.session.id)
    }
  })
  await app.ready()
  t.teardown(() => app.close())
  for (const [url, fields] of [['/increment', {}], ['/ttl', { ttl: '300' }]] as const) {
    const browser = new Browser(app)
    const id = await browser.login('ann')
    const res = await browser.form(url, { ...fields, _csrf: await browser.csrf() })
    t.equal(res.statusCode, 303, url)
    t.equal(res.headers.location, '/')
    t.equal(await redis.exists(prefix + id), 0, `${url} did not recreate the hash`)
    // The write that found the session gone leaves the cookie alone (it might name a newer session
    // by now); the page it redirects to says the session expired and drops the cookie.
    t.equal(browser.sid, id, 'the failed write did not touch the cookie')
    const home = await browser.get('/')
    t.match(home.body, /expired/)
    t.equal(browser.sid, undefined, 'the home page cleared the stale cookie')
  }
  t.same(await sessionKeys(redis, prefix), [])
})
