// Used to go wrong: with a session change pending, onSend called done() inside a promise callback,
// so when Fastify's final write threw (a header Node refuses, a redirect to a URL with CR/LF or
// non-Latin-1 characters) the exception became an unhandled rejection and the process exited.
// Without a pending change the same request was a plain 500. Over real HTTP, our hook last and not last.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import redisSession from '../../plugin'
import { newClient, uniquePrefix } from '../helpers/build'

const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => { unhandled.push(reason) })

async function serve (t: Test, order: 'plugin last' | 'hook after plugin' | 'hook before plugin'): Promise<string> {
  const redis = await newClient(t)
  const app: FastifyInstance = Fastify()
  const extraHook = (_request: unknown, _reply: unknown, payload: unknown, done: (err: null, payload: unknown) => void): void => { done(null, payload) }
  if (order === 'hook before plugin') app.addHook('onSend', extraHook)
  await app.register(redisSession, { redis, prefix: uniquePrefix() })
  if (order === 'hook after plugin') app.addHook('onSend', extraHook)
  app.post('/header', async (request, reply) => {
    request.session.set('name', 'café')
    reply.header('x-name', 'caf€')
    return { ok: true }
  })
  app.post('/redirect', async (request, reply) => {
    request.session.set('step', '2')
    return reply.redirect((request.query as { to: string }).to)
  })
  app.get('/ok', async () => ({ ok: true }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address() as { port: number }
  return `http://127.0.0.1:${address.port}`
}

for (const order of ['plugin last', 'hook after plugin', 'hook before plugin'] as const) {
  t.test(`a reply that fails to serialize is a 500 and the process lives on (${order})`, async (t) => {
    const base = await serve(t, order)
    const header = await fetch(`${base}/header`, { method: 'POST' })
    t.equal(header.status, 500, 'a header Node refuses: 500')
    await header.arrayBuffer()
    for (const to of ['/next\r\nx-injected: 1', '/caf€']) {
      const res = await fetch(`${base}/redirect?to=${encodeURIComponent(to)}`, { method: 'POST', redirect: 'manual' })
      t.equal(res.status, 500, `a redirect to ${JSON.stringify(to)}: 500`)
      t.equal(res.headers.get('x-injected'), null, 'and no header was injected')
      await res.arrayBuffer()
    }
    const after = await fetch(`${base}/ok`)
    t.equal(after.status, 200, 'the server still answers')
    t.same(unhandled, [], 'no unhandled rejection')
  })
}
