// @fastify/flash on this plugin, unchanged, over real HTTP. It needs only a `session` request decorator
// (fastify-plugin `decorators: { request: ['session'] }`, checked when it registers: so register it
// after this plugin), and calls (lib/flash.js):
//   request.flash(type, ...message)  get('flash'), set('flash', { ...flash, [type]: [...messages] })
//   reply.flash(type)                get('flash'), set('flash', the others)        (returns type's messages)
//   reply.flash()                    get('flash'), set('flash', {})                (returns all of them)
import t from 'tap'
import fastifyFlash from '@fastify/flash'
import fastifyFormbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import Fastify from 'fastify'
import redisSession from '../plugin'
import { newClient, uniquePrefix } from './helpers/build'
import { Browser, serve } from './helpers/http'

function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** The README's registration: flash after the session plugin; a POST flashes, the page it redirects to shows it once. */
async function routes (app: FastifyInstance): Promise<void> {
  // serve() has registered the plugin first, as the README's first line does:
  // README: await app.register(redisSession, { redis })
  await app.register(fastifyFormbody)
  await app.register(fastifyFlash)

  app.post('/profile', async (request, reply) => {
    request.flash('success', `Saved, ${(request.body as { name: string }).name}`)
    return reply.redirect('/profile', 303)
  })
  app.get('/profile', async (request, reply) => {
    // Only a session that holds messages is asked for them: reply.flash() writes the field back
    // (emptied), which would start a session for every visitor who has none.
    const messages = request.session.get('flash') === undefined ? [] : reply.flash('success') as string[]
    return reply.type('text/html').send(messages.map((m) => `<p class="flash success">${escapeHtml(m)}</p>`).join('') + '<h1>Profile</h1>')
  })
  app.post('/notes', async (request) => {
    request.flash('info', 'one')
    const count = request.flash('info', 'two %s', 'and more')
    request.flash('warning', ['three', 'four'])
    return { count }
  })
  app.get('/all', async (_request, reply) => reply.flash())
  app.get('/unguarded', async (_request, reply) => ({ messages: reply.flash('success') }))
}

t.test('a message flashed on a POST is shown once on the next GET, and gone after; Redis holds it while pending', async (t) => {
  const { origin, redis, key } = await serve(t, routes)
  const browser = new Browser(origin)

  const post = await browser.form('/profile', { name: 'Ann' })
  t.equal(post.status, 303)
  t.equal(post.location, '/profile')
  t.match(post.setCookies, [/^sid=/], 'the flash started a session')
  const sid = browser.sid as string
  t.equal(await redis.hget(key(sid), 'flash'), '{"success":["Saved, Ann"]}', 'pending in Redis, as readable JSON')

  const shown = await browser.follow(post)
  t.equal(shown.status, 200)
  t.match(shown.body, '<p class="flash success">Saved, Ann</p><h1>Profile</h1>', 'shown on the next GET')
  t.same(shown.setCookies, [], 'same session, no new cookie')
  t.equal(await redis.hget(key(sid), 'flash'), '{}', 'taken out of Redis once shown')

  const again = await browser.get('/profile')
  t.equal(again.body, '<h1>Profile</h1>', 'gone after')
  t.equal(browser.sid, sid)
})

t.test('several types and messages keep their order, util.format and arrays included; reply.flash() takes them all', async (t) => {
  const { origin, redis, key } = await serve(t, routes)
  const browser = new Browser(origin)
  t.same((await browser.request('POST', '/notes')).json(), { count: 2 }, 'request.flash() returns the count of its type')
  t.same(JSON.parse(await redis.hget(key(browser.sid as string), 'flash') as string), {
    info: ['one', 'two and more'],
    warning: ['three', 'four']
  })
  t.same((await browser.get('/all')).json(), { info: ['one', 'two and more'], warning: ['three', 'four'] })
  t.same((await browser.get('/all')).json(), {}, 'once')
})

t.test('messages survive across app servers: one flashes, another shows', async (t) => {
  const prefix = uniquePrefix()
  const one = await serve(t, routes, { prefix })
  const two = await serve(t, routes, { prefix })
  const browser = new Browser(one.origin)
  await browser.form('/profile', { name: 'Ann' })
  const other = new Browser(two.origin)
  other.sid = browser.sid
  t.match((await other.get('/profile')).body, 'Saved, Ann')
  t.equal((await browser.get('/profile')).body, '<h1>Profile</h1>', 'and it is gone for the first server too')
})

t.test('the page guards reply.flash(): a visitor without a session gets no cookie and no key', async (t) => {
  const { origin, keys } = await serve(t, routes)
  const browser = new Browser(origin)
  const res = await browser.get('/profile')
  t.equal(res.status, 200)
  t.same(res.setCookies, [])
  t.same(await keys(), [])
})

t.test('caveat: an unguarded reply.flash() starts a session for a visitor without one (it writes back an empty flash)', async (t) => {
  const { origin, redis, key } = await serve(t, routes)
  const browser = new Browser(origin)
  const res = await browser.get('/unguarded')
  t.same(res.json(), { messages: [] })
  t.match(res.setCookies, [/^sid=/])
  t.equal(await redis.hget(key(browser.sid as string), 'flash'), '{}')
})

t.test('registered before the session plugin, @fastify/flash fails at boot, naming the decorator it needs', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(fastifyFlash)
  app.register(redisSession, { redis: await newClient(t), prefix: uniquePrefix() })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE', message: /session/ })
})
