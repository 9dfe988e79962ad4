// Used to go wrong: save() on a new session before reply.hijack() (or after the reply was sent)
// wrote a key whose cookie never reached the browser: an orphaned session. Now save() before the
// hijack pairs with session.setCookieHeader(), and a change that would start a session after the
// reply was sent is refused with FST_REDIS_SESSION_REPLY_SENT, writing nothing.
import t from 'tap'
import { build } from '../helpers/build'

t.test('save() then hijack: setCookieHeader() gives the cookie for the raw response', async (t) => {
  const { app, redis, prefix } = await build(t, {}, (app) => {
    app.get('/stream', async (request, reply) => {
      request.session.set('started', 'yes')
      await request.session.save()
      const cookie = request.session.setCookieHeader()
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/plain', ...(cookie !== undefined && { 'set-cookie': cookie }) })
      reply.raw.end('streamed')
    })
  })
  const res = await app.inject('/stream')
  t.equal(res.body, 'streamed')
  const [k] = await redis.keys(prefix + '*')
  t.ok(k, 'the session exists')
  t.match(res.headers['set-cookie'], new RegExp(`^sid=${k.slice(prefix.length)}; Path=/; HttpOnly; SameSite=Lax$`), 'and the browser gets its cookie')
})

t.test('starting a session after the reply was sent is refused, nothing written', async (t) => {
  let settled!: (codes: Array<string | undefined>) => void
  const result = new Promise<Array<string | undefined>>((resolve) => { settled = resolve })
  const { app, redis, prefix } = await build(t, {}, (app) => {
    app.get('/late', async (request, reply) => {
      reply.hijack()
      reply.raw.end('done')
      const code = (err: { code?: string }): string | undefined => err.code
      request.session.set('x', '1')
      settled([
        await request.session.save().then(() => undefined, code),
        await request.session.create({ y: 2 }).then(() => undefined, code),
        await request.session.increment('n').then(() => undefined, code)
      ])
    })
  })
  await app.inject('/late')
  t.same(await result, ['FST_REDIS_SESSION_REPLY_SENT', 'FST_REDIS_SESSION_REPLY_SENT', 'FST_REDIS_SESSION_REPLY_SENT'])
  t.same(await redis.keys(prefix + '*'), [], 'no orphaned key')
})
