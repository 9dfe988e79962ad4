// Used to go wrong: registering with a URL where nothing listens printed a stray
// "[ioredis] Unhandled error event" (the error listener came after connect()), and once the client
// failed fast, the reason in the message was ioredis's generic "Connection is closed." instead of
// the real cause, with a period before the message's own. Now the message names the cause
// (ECONNREFUSED), ends with a single period, never shows the URL's password, and nothing is printed.
import { inspect } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import Fastify from 'fastify'
import redisSession from '../../plugin'
import { freePort } from '../helpers/redis-server'

// Everything written to stderr while this file runs (ioredis prints its warning with console.error).
const stderr: string[] = []
const write = process.stderr.write.bind(process.stderr)
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  stderr.push(String(chunk))
  return (write as (...args: unknown[]) => boolean)(chunk, ...rest)
}) as typeof process.stderr.write
t.teardown(() => { process.stderr.write = write })

async function bootError (url: string): Promise<Error & { code?: string }> {
  const app = Fastify()
  app.register(redisSession, { redis: url, timeout: 500 })
  try {
    await app.ready()
  } catch (err) {
    return err as Error & { code?: string }
  } finally {
    await app.close().catch(() => {})
  }
  throw new Error('app.ready() did not fail')
}

for (const auth of ['', 'user:secret@']) {
  t.test(`a URL ${auth === '' ? 'without' : 'with'} a password where nothing listens fails at boot with the real cause`, async (t) => {
    const port = await freePort() // nothing listens there
    const err = await bootError(`redis://${auth}127.0.0.1:${port}`)
    t.equal(err.code, 'FST_REDIS_SESSION_CONNECT')
    // The message's content is the point here.
    t.match(err.message, /ECONNREFUSED/, `names the cause: ${err.message}`)
    t.match(err.message, /[^.]\.$/, 'ends with a single period')
    t.notMatch(err.message, /\.\./, 'and has no ".." anywhere')
    t.notMatch(inspect(err, { depth: 10 }), /secret/, 'the password is nowhere in the error')
  })
}

t.test('nothing prints "[ioredis] Unhandled error event", even after the failed client is dropped', async (t) => {
  await sleep(1000) // errors after disconnect() come asynchronously
  t.notOk(stderr.some((s) => s.includes('Unhandled error event')), 'no stray ioredis warning on stderr')
})
