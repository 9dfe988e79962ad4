// Signed cookies (`secret`): the cookie is `<id>.<HMAC>` by @fastify/cookie's signer; Redis holds the
// bare ID. An unsigned, tampered or wrongly signed cookie is no session and costs no Redis command.
// Secrets rotate: with [new, old], a cookie signed with the old one is served and re-signed with the
// new one on its response; once the old one is dropped, such a cookie is no session.
import t from 'tap'
import { Signer } from '@fastify/cookie'
import Fastify from 'fastify'
import redisSession from '../plugin'
import { Agent, countRoundTrips, newClient, sessionRoutes, uniquePrefix } from './helpers/build'

const OLD = 'an-old-secret-of-at-least-32-characters'
const NEW = 'a-new-secret-that-is-also-32-characters-long'

interface Tap { teardown: (fn: () => Promise<void> | void) => void }

async function app (t: Tap, prefix: string, secret: string | string[] | undefined): Promise<{ app: ReturnType<typeof Fastify>, counter: ReturnType<typeof countRoundTrips> }> {
  const redis = await newClient(t)
  const counter = countRoundTrips(redis)
  const app = Fastify()
  await app.register(redisSession, { redis, prefix, ...(secret === undefined ? {} : { secret }) })
  sessionRoutes(app)
  app.post('/lazy', { config: { session: 'lazy' } }, async (request) => ({ n: await request.session.increment('n') }))
  await app.ready()
  t.teardown(() => app.close())
  return { app, counter }
}

function cookieValue (header: unknown): string | undefined {
  const line = ([] as string[]).concat(header as string | string[] ?? []).find((c) => c.startsWith('sid='))
  return line === undefined ? undefined : decodeURIComponent(line.slice(4, line.indexOf(';')))
}

t.test('the cookie carries the ID and its signature; Redis the bare ID', async (t) => {
  const prefix = uniquePrefix()
  const admin = await newClient(t)
  const { app: signed, counter } = await app(t, prefix, OLD)
  const created = await signed.inject({ method: 'POST', url: '/create', payload: { data: { username: 'ann' } } })
  const value = cookieValue(created.headers['set-cookie']) as string
  const id = created.json().id as string
  t.match(value, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}$/, 'id.signature')
  t.equal(value.split('.')[0], id)
  t.same(new Signer(OLD).unsign(value), { valid: true, renew: false, value: id }, 'signed with the secret by @fastify/cookie\'s signer')
  t.equal(await admin.exists(prefix + id), 1)
  t.equal(await admin.exists(prefix + value), 0, 'the key is the bare ID')

  const agent = new Agent(signed)
  agent.sid = encodeURIComponent(value)
  t.same((await agent.get('/session')).json().data, { username: 'ann' }, 'the signed cookie is the session')

  // Not a session, and not a Redis command: a bare ID, a bad signature, a changed ID, another secret.
  const forged = [
    id,
    value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A'),
    (id[0] === 'A' ? 'B' : 'A') + value.slice(1),
    new Signer('some-other-secret-of-32-characters-or-more').sign(id),
    `${id}.`,
    'garbage'
  ]
  for (const cookie of forged) {
    counter.reset()
    const res = await signed.inject({ url: '/session', headers: { cookie: `sid=${encodeURIComponent(cookie)}` } })
    t.equal(res.json().id, null, `${cookie.slice(0, 12)}…: no session`)
    t.equal(counter.commands.length, 0, 'and no Redis command')
    t.equal(res.headers['set-cookie'], undefined, 'and no new cookie for a read')
  }
})

t.test('rotation: an old secret\'s cookie is served and re-signed, until the old secret is dropped', async (t) => {
  const prefix = uniquePrefix()
  const { app: before } = await app(t, prefix, OLD)
  const old = cookieValue((await before.inject({ method: 'POST', url: '/create', payload: { data: { n: 1 } } })).headers['set-cookie']) as string

  const { app: rotated, counter } = await app(t, prefix, [NEW, OLD])
  const res = await rotated.inject({ url: '/session', headers: { cookie: `sid=${encodeURIComponent(old)}` } })
  t.same(res.json().data, { n: 1 }, 'the old secret still verifies')
  const resigned = cookieValue(res.headers['set-cookie']) as string
  t.ok(resigned, 'the response re-signs the cookie')
  t.same(new Signer(NEW).unsign(resigned), { valid: true, renew: false, value: old.split('.')[0] }, 'with the first secret, same ID')
  const again = await rotated.inject({ url: '/session', headers: { cookie: `sid=${encodeURIComponent(resigned)}` } })
  t.equal(again.headers['set-cookie'], undefined, 'a current cookie is not sent again')

  const lazy = await rotated.inject({ method: 'POST', url: '/lazy', headers: { cookie: `sid=${encodeURIComponent(old)}` } })
  t.equal(lazy.json().n, 2)
  t.same(new Signer(NEW).unsign(cookieValue(lazy.headers['set-cookie']) as string).valid, true, 'a lazy route re-signs it too')

  const { app: after, counter: afterCounter } = await app(t, prefix, NEW)
  afterCounter.reset()
  const dropped = await after.inject({ url: '/session', headers: { cookie: `sid=${encodeURIComponent(old)}` } })
  t.equal(dropped.json().id, null, 'once the old secret is dropped, its cookies are no session')
  t.equal(afterCounter.commands.length, 0, 'and cost no Redis command')
  t.ok(counter.commands.length > 0)
})

t.test('secret is checked at register time', async (t) => {
  for (const secret of ['short', [], [NEW, 'short'], 42, [NEW, 7]]) {
    const redis = await newClient(t)
    const app = Fastify()
    app.register(redisSession, { redis, prefix: uniquePrefix(), secret: secret as string })
    await t.rejects(async () => { await app.ready() }, { code: 'FST_REDIS_SESSION_INVALID_OPTION' }, JSON.stringify(secret))
    await app.close()
  }
})
