// CSRF: POST /increment, /ttl and /logout need the session's own token in `_csrf`; anything else
// is a 403 and Redis is left exactly as it was.
import t from 'tap'
import { Browser, buildDemo } from './helpers'

const FORMS = [
  { url: '/increment', fields: {} },
  { url: '/ttl', fields: { ttl: '1800' } },
  { url: '/logout', fields: {} }
] as const

t.test('a missing, empty, wrong or other session\'s token is refused with 403 and changes nothing', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '60')
  const token = await browser.csrf()
  const other = new Browser(app)
  await other.login('mallory', '60')
  const otherToken = await other.csrf()
  t.not(otherToken, token, 'tokens are per session')

  const before = await redis.hgetall(key(id))
  const tokens: Array<[string, Record<string, string>]> = [
    ['no token', {}],
    ['empty token', { _csrf: '' }],
    ['wrong token', { _csrf: 'x'.repeat(43) }],
    ['a prefix of the token', { _csrf: token.slice(0, 20) }],
    ['the token plus one character', { _csrf: token + 'a' }],
    ['another session\'s token', { _csrf: otherToken }]
  ]
  for (const { url, fields } of FORMS) {
    for (const [label, extra] of tokens) {
      const res = await browser.form(url, { ...fields, ...extra })
      t.equal(res.statusCode, 403, `${url}: ${label}`)
      t.match(res.headers['content-type'], /text\/html/)
      t.match(res.body, 'CSRF token does not match')
      t.equal(res.headers['set-cookie'], undefined, 'the cookie stays')
    }
  }
  // A token sent in the query string or as a header is not the form field.
  t.equal((await browser.inject({ method: 'POST', url: `/increment?_csrf=${token}` })).statusCode, 403)
  t.equal((await browser.inject({ method: 'POST', url: '/increment', headers: { 'x-csrf-token': token } })).statusCode, 403)

  const after = await redis.hgetall(key(id))
  t.same({ ...after, last_accessed_at: '' }, { ...before, last_accessed_at: '' }, 'the hash is unchanged (only the load touched last_accessed_at)')
  t.equal(after.page_views, '0')
  t.equal(after.session_ttl, '60')
  t.ok(await redis.ttl(key(id)) <= 60, 'TTL not changed to 1800')
  t.equal(await redis.exists(key(id)), 1, 'not logged out')
  t.equal(browser.sid, id)
})

t.test('the right token works, as an urlencoded form or as JSON', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  const id = await browser.login('ann', '60')
  const token = await browser.csrf()
  t.equal((await browser.form('/increment', { _csrf: token })).statusCode, 303)
  t.equal((await browser.post('/increment', { _csrf: token })).statusCode, 303, 'JSON body')
  t.equal(await redis.hget(key(id), 'page_views'), '2')
  t.equal((await browser.form('/logout', { _csrf: token })).statusCode, 303)
  t.equal(await redis.exists(key(id)), 0)
})

t.test('the token changes with every login', async (t) => {
  const { app, redis, key } = await buildDemo(t)
  const browser = new Browser(app)
  await browser.login('ann')
  const first = await browser.csrf()
  const id = await browser.login('ann')
  const second = await browser.csrf()
  t.not(second, first)
  t.equal((await browser.form('/increment', { _csrf: first })).statusCode, 403, 'the old session\'s token is dead')
  t.equal(await redis.hget(key(id), 'page_views'), '0')
})
