// POST /login: validation (400 saying what was wrong), a cross-site refusal (403), and a fresh
// session with a fresh ID that replaces any earlier one.
import t from 'tap'
import { Browser, buildDemo, textOf, sessionKeys } from './helpers'

t.test('a valid login creates the hash with its TTL, sets sid and redirects 303 to /', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const res = await browser.form('/login', { username: 'ann', ttl: '15' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/')
  const cookie = res.cookies.find((c) => c.name === 'sid') as { value: string, httpOnly?: boolean, sameSite?: string, path?: string }
  t.ok(cookie, 'the plugin\'s default cookie name')
  t.same({ httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path }, { httpOnly: true, sameSite: 'Lax', path: '/' })
  const hash = await redis.hgetall(key(cookie.value))
  t.equal(hash.username, 'ann')
  t.equal(hash.page_views, '0')
  t.equal(hash.session_ttl, '15')
  t.match(hash.csrf_token, /^[A-Za-z0-9_-]{43}$/, '256-bit random CSRF token')
  const ttl = await redis.ttl(key(cookie.value))
  t.ok(ttl > 12 && ttl <= 15, `Redis TTL ${ttl}`)
})

t.test('every TTL choice is accepted, and the username is trimmed', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  for (const ttl of ['15', '60', '300', '1800']) {
    const browser = new Browser(app)
    const id = await browser.login('  bob  ', ttl)
    t.equal(await redis.hget(key(id), 'session_ttl'), ttl)
    t.equal(await redis.hget(key(id), 'username'), 'bob')
  }
})

t.test('64 characters are fine (counted as characters, not bytes); 65 are not', async (t) => {
  const { app, redis, key, prefix } = await buildDemo(t)
  const ok = new Browser(app)
  const id = await ok.login('é'.repeat(60) + '😀😀😀😀')
  t.equal([...(await redis.hget(key(id), 'username'))!].length, 64)
  const tooLong = new Browser(app)
  const res = await tooLong.form('/login', { username: 'x'.repeat(65), ttl: '60' })
  t.equal(res.statusCode, 400)
  t.match(res.body, 'The username is 65 characters long; use at most 64.')
  t.equal((await sessionKeys(redis, prefix)).length, 1, 'no session for the rejected one')
})

t.test('invalid input gets a 400 page that says what was wrong, and creates nothing', async (t) => {
  const { app, redis, prefix } = await buildDemo(t)
  const cases: Array<{ fields: Record<string, string>, says: string[] }> = [
    { fields: { username: '', ttl: '60' }, says: ['Enter a username.'] },
    { fields: { username: '   ', ttl: '60' }, says: ['Enter a username.'] },
    { fields: { ttl: '60' }, says: ['Enter a username.'] },
    { fields: { username: 'ann', ttl: '16' }, says: ['Pick a session TTL: one of 15 seconds, 1 minute, 5 minutes, 30 minutes.'] },
    { fields: { username: 'ann', ttl: '15.0' }, says: ['Pick a session TTL'] },
    { fields: { username: 'ann', ttl: '' }, says: ['Pick a session TTL'] },
    { fields: { username: 'ann' }, says: ['Pick a session TTL'] },
    { fields: { username: 'a\u0000b', ttl: '60' }, says: ['control characters'] },
    { fields: {}, says: ['Enter a username.', 'Pick a session TTL'] }
  ]
  for (const { fields, says } of cases) {
    const browser = new Browser(app)
    const res = await browser.form('/login', fields)
    const label = JSON.stringify(fields)
    t.equal(res.statusCode, 400, label)
    t.match(res.headers['content-type'], /text\/html/)
    t.match(res.body, /id="errors"[^>]*><strong>Could not log in.<\/strong>/, label)
    for (const text of says) t.match(res.body, text, `${label} says ${text}`)
    t.match(res.body, /action="\/login"/, 'the form again')
    t.equal(browser.sid, undefined, 'no cookie')
  }
  // Repeated fields arrive as an array: not a username.
  const res = await app.inject({ method: 'POST', url: '/login', payload: 'username=a&username=b&ttl=60', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(res.statusCode, 400)
  t.same(await sessionKeys(redis, prefix), [], 'nothing in Redis')
})

t.test('the rejected username is kept in the form, escaped', async (t) => {
  const { app } = await buildDemo(t)
  const res = await new Browser(app).form('/login', { username: '"><b>x', ttl: '7' })
  t.equal(res.statusCode, 400)
  t.match(res.body, 'value="&quot;&gt;&lt;b&gt;x"')
  t.notMatch(res.body, '"><b>x')
})

t.test('a cross-site login is refused with 403; a same-origin one goes through', async (t) => {
  const { app, redis, prefix } = await buildDemo(t)
  for (const origin of ['https://evil.example', 'http://localhost:9999', 'null', 'not a url']) {
    const browser = new Browser(app)
    const res = await browser.form('/login', { username: 'ann', ttl: '60' }, { origin, host: 'localhost:8080' })
    t.equal(res.statusCode, 403, origin)
    t.match(res.body, 'sent from another site')
    t.equal(browser.sid, undefined)
  }
  t.same(await sessionKeys(redis, prefix), [], 'no session created')
  const browser = new Browser(app)
  const res = await browser.form('/login', { username: 'ann', ttl: '60' }, { origin: 'http://localhost:8080', host: 'localhost:8080' })
  t.equal(res.statusCode, 303, 'same origin')
  t.ok(browser.sid)
})

t.test('logging in again replaces the session: new ID, old key gone, count back to 0', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const first = await browser.login('ann')
  await browser.form('/increment', { _csrf: await browser.csrf() })
  t.equal(await redis.hget(key(first), 'page_views'), '1')
  const second = await browser.login('bob', '15')
  t.not(second, first)
  t.same(Object.keys(await redis.hgetall(key(first))), ['rotated_at'], 'the old session is gone: only its short-lived rotation marker is left')
  const hash = await redis.hgetall(key(second))
  t.same({ username: hash.username, page_views: hash.page_views, session_ttl: hash.session_ttl }, { username: 'bob', page_views: '0', session_ttl: '15' })
  t.equal(textOf((await browser.get('/')).body, 'username'), 'bob')
})

t.test('a session ID that the server did not issue is never adopted', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const planted = 'A'.repeat(43)
  const browser = new Browser(app)
  browser.sid = planted
  const id = await browser.login('ann')
  t.not(id, planted)
  t.equal(await redis.exists(key(planted)), 0)
})
