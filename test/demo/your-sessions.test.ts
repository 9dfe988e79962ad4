// The demo's "Your sessions": every browser logged in as the same username is listed (label,
// times, this one marked) with a "Log out" per other session and "Log out everywhere else", both
// behind the session's CSRF token. Two cookie jars as two devices, through real forms (inject).
import t from 'tap'
import { Browser, buildDemo } from './helpers'

function listed (page: string): Array<{ handle: string, label: string, current: boolean }> {
  return [...page.matchAll(/<li class="session-item( current)?" data-handle="([A-Za-z0-9_-]{22})">\s*<div class="session-label">([^<]*)/g)]
    .map((m) => ({ handle: m[2], label: m[3].trim(), current: m[1] !== undefined }))
}

t.test('two devices: listed, one logs the other out, CSRF required', async (t) => {
  const { app, redis, key, prefix } = await buildDemo(t)
  const laptop = new Browser(app)
  const phone = new Browser(app)
  const other = new Browser(app)
  const ua = (b: Browser, name: string): void => {
    const inject = b.inject.bind(b)
    b.inject = (o) => inject(typeof o === 'string' ? { url: o, headers: { 'user-agent': name } } : { ...o, headers: { ...o.headers, 'user-agent': name } })
  }
  ua(laptop, 'Laptop <b>UA</b>')
  ua(phone, 'Phone UA')
  await laptop.login('ann')
  const phoneSid = await phone.login('ann')
  await other.login('bob')

  const page = (await laptop.get('/')).body
  const sessions = listed(page)
  t.same(sessions.map((s) => [s.label, s.current]).sort(), [['Laptop &lt;b&gt;UA&lt;/b&gt;', true], ['Phone UA', false]], 'both of ann\'s, escaped, this one marked; not bob\'s')
  t.equal(await redis.zcard(prefix + 'user:ann'), 2)
  const phoneHandle = sessions.find((s) => !s.current)!.handle

  const token = await laptop.csrf()
  t.equal((await laptop.form('/sessions/end', { handle: phoneHandle, _csrf: 'wrong' })).statusCode, 403, 'no CSRF token, nothing ended')
  t.equal(await redis.exists(key(phoneSid)), 1)
  const bobsHandle = listed((await other.get('/')).body)[0].handle
  await laptop.form('/sessions/end', { handle: bobsHandle, _csrf: token })
  t.equal(listed((await other.get('/')).body).length, 1, 'another user\'s handle ends nothing')
  const ended = await laptop.form('/sessions/end', { handle: phoneHandle, _csrf: token })
  t.equal(ended.statusCode, 303)
  t.equal(await redis.exists(key(phoneSid)), 0, 'the phone\'s session is gone')
  t.match((await phone.get('/')).body, /Your session expired/, 'the phone is logged out')
  t.same(listed((await laptop.get('/')).body).map((s) => s.current), [true])

  await phone.login('ann')
  await new Browser(app).login('ann')
  const phoneToken = await phone.csrf()
  t.equal((await phone.form('/sessions/end-others', { _csrf: 'nope' })).statusCode, 403)
  t.equal((await phone.form('/sessions/end-others', { _csrf: phoneToken })).statusCode, 303)
  t.same(listed((await phone.get('/')).body).map((s) => s.label), ['Phone UA'], 'everywhere else logged out')
  t.match((await laptop.get('/')).body, /Your session expired/)
})
