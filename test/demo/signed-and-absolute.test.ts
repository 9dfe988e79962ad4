// The demo as its server runs it: the cookie signed (SESSION_SECRET, or the development secret) and
// an absolute end (absoluteTtl) shown beside the idle countdown.
import t from 'tap'
import { Browser, buildDemo } from './helpers'

t.test('a signed cookie, and the absolute end on the page', async (t) => {
  const { app, redis, key } = await buildDemo(t, { secret: 'a-demo-secret-of-at-least-32-characters', absoluteTtl: 3600 })
  const browser = new Browser(app)
  const before = Math.floor(Date.now() / 1000)
  const res = await browser.form('/login', { username: 'ann', ttl: '60' })
  t.equal(res.statusCode, 303)
  const value = decodeURIComponent(browser.sid as string)
  t.match(value, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}$/, 'id.signature')
  const id = value.split('.')[0]
  const end = Number(await redis.hget(key(id), 'session_expires'))
  t.ok(end >= before + 3600 && end <= before + 3601, 'the session ends an hour after login')
  const page = (await browser.get('/')).body
  t.match(page, new RegExp(`<time id="ends-at" datetime="${new Date(end * 1000).toISOString()}">`), 'the page shows when')
  const forged = new Browser(app)
  forged.sid = id
  t.match((await forged.get('/')).body, /Log in/, 'the bare ID, unsigned, is no session')
})
