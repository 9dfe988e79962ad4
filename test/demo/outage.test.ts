// Redis goes away while the demo runs: HTML pages get a 503 page, /api and /healthz get 503 JSON,
// nothing hangs; when Redis is back the demo works again by itself. Uses the server's own client
// (connectRedis: reconnects, no offline queue) against a redis-server this test starts and stops.
import t from 'tap'
import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { sameOriginPath } from '../../demo/app'
import { connectRedis } from '../../demo/server'
import { startRedisServer } from '../helpers/redis-server'
import { Browser, buildDemo, decode } from './helpers'

/** The href of the error page's "Back to the demo" button, entities decoded. */
function backLink (page: string): string | undefined {
  const href = /<a class="button primary" href="([^"]*)">Back to the demo<\/a>/.exec(page)?.[1]
  return href === undefined ? undefined : decode(href)
}

/** GET over real HTTP with the path sent as is: inject parses the URL first (`/\\host/x` arrives as `/x`), a socket does not. */
function rawGet (port: number, path: string, cookie: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { cookie } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('503 while Redis is down, recovery when it is back', async (t) => {
  const server = await startRedisServer(t)
  const client = await connectRedis(server.url)
  t.teardown(() => { client.disconnect() })
  const { app, redis, key } = await buildDemo(t, { url: server.url, redis: client, timeout: 500 })

  t.same((await app.inject('/healthz')).json(), { redis: 'ok' })
  const browser = new Browser(app)
  const id = await browser.login('ann', '300')
  const token = await browser.csrf()
  t.equal(await redis.exists(key(id)), 1)

  await server.stop()

  const started = Date.now()
  const page = await browser.get('/')
  t.equal(page.statusCode, 503, 'the session page')
  t.match(page.headers['content-type'], /text\/html/)
  t.equal(page.headers['retry-after'], '5')
  t.match(page.body, /<h1>Redis is not answering<\/h1>/)
  // Honest about what an outage means: the compose Redis keeps nothing on disk, so a restart loses every session.
  t.match(page.body, 'The page works again as soon as Redis answers')
  t.match(page.body, 'Sessions last only as long as Redis keeps running')
  t.notMatch(page.body, /safe in Redis/, 'no promise that the session survives')
  t.match(page.headers['content-security-policy'], /default-src 'self'/, 'security headers on error pages too')

  const api = await browser.get('/api/session')
  t.equal(api.statusCode, 503)
  t.match(api.headers['content-type'], /^application\/json/)
  t.match(api.json(), { statusCode: 503, code: 'FST_REDIS_SESSION_UNAVAILABLE' })

  const health = await app.inject('/healthz')
  t.equal(health.statusCode, 503)
  t.match(health.json(), { redis: 'unavailable' })

  t.equal((await browser.form('/increment', { _csrf: token })).statusCode, 503, 'POST /increment')
  t.equal((await new Browser(app).form('/login', { username: 'bob', ttl: '60' })).statusCode, 503, 'POST /login')
  t.ok(Date.now() - started < 3000, `answers come fast (${Date.now() - started} ms for five requests)`)

  // Pages that need no session still work.
  t.equal((await app.inject('/')).statusCode, 200, 'the login form without a cookie')
  t.equal((await app.inject('/static/app.css')).statusCode, 200)
  t.equal(browser.sid, id, 'the cookie is kept through the outage')

  await server.start() // same port, empty: the old session did not survive (no persistence)
  const deadline = Date.now() + 10_000
  while ((await app.inject('/healthz')).statusCode !== 200) {
    if (Date.now() > deadline) throw new Error('the demo did not reconnect within 10 s')
    await sleep(100)
  }
  t.pass(`reconnected ${Date.now() - started} ms after the outage began`)

  const after = await browser.get('/')
  t.equal(after.statusCode, 200)
  t.match(after.body, /Your session expired/, 'the lost session is reported as expired')
  const newId = await browser.login('ann', '60')
  t.equal((await browser.get('/')).statusCode, 200)
  t.equal(await client.hget(key(newId), 'username'), 'ann', 'written to the new Redis')
})

t.test('a session survives an outage when Redis keeps its data', async (t) => {
  // Same server, paused instead of stopped: the client times out, then carries on.
  const server = await startRedisServer(t)
  const client = await connectRedis(server.url)
  t.teardown(() => { client.disconnect() })
  const { app, redis, key } = await buildDemo(t, { url: server.url, redis: client, timeout: 300 })
  const browser = new Browser(app)
  const id = await browser.login('ann', '60')
  const token = await browser.csrf()
  process.kill(server.pid!, 'SIGSTOP')
  try {
    t.equal((await browser.form('/increment', { _csrf: token })).statusCode, 503)
  } finally {
    process.kill(server.pid!, 'SIGCONT')
  }
  const res = await browser.form('/increment', { _csrf: token })
  t.equal(res.statusCode, 303)
  t.equal(await redis.hget(key(id), 'page_views'), '1', 'counted once: the timed-out request wrote nothing')
})

t.test('the 503 page links back to a path on this site, never to another host', async (t) => {
  const server = await startRedisServer(t)
  const client = await connectRedis(server.url)
  t.teardown(() => { client.disconnect() })
  const { app } = await buildDemo(t, { url: server.url, redis: client, timeout: 500 })
  const browser = new Browser(app)
  const id = await browser.login('ann', '300')
  await server.stop()

  // Over inject: the URL reaches the app as given when it starts with `//`.
  const cases: Array<[string, string]> = [
    ['/', '/'],
    ['/?tab=hash', '/?tab=hash'],
    ['/some/page?a=1&b=2', '/some/page?a=1&b=2'],
    ['//evil.example/x', '/'],
    ['//evil.example', '/'],
    ['///evil.example/x', '/']
  ]
  for (const [url, back] of cases) {
    const res = await browser.get(url)
    t.equal(res.statusCode, 503, url)
    t.equal(backLink(res.body), back, `GET ${url} links back to ${back}`)
    t.notMatch(res.body, 'evil.example', `${url}: the other host appears nowhere in the page`)
  }

  // Over real HTTP, where a backslash arrives as sent; browsers read `/\\host` as `//host`.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const raw: Array<[string, string]> = [
    ['//evil.example/x', '/'],
    ['/\\evil.example', '/'],
    ['/\\/evil.example', '/'],
    ['/\\\\evil.example/x', '/'],
    ['/%5Cevil.example', '/%5Cevil.example'], // percent-encoded: a path segment, not a separator
    ['/ok\\page', '/ok\\page'] // a backslash later on stays in the path
  ]
  for (const [path, back] of raw) {
    const res = await rawGet(port, path, `sid=${id}`)
    t.equal(res.status, 503, path)
    t.equal(backLink(res.body), back, `GET ${path} over HTTP links back to ${back}`)
  }
})

t.test('sameOriginPath keeps only paths that resolve to this origin', async (t) => {
  // Also what no socket carries: browsers drop tabs and newlines from a URL before parsing it.
  const kept = ['/', '/x', '/x?y=//z', '/x//y', '/%2F%2Fevil.example', '/a\\b']
  for (const path of kept) t.equal(sameOriginPath(path), path, JSON.stringify(path))
  const refused = ['', 'x', '//evil.example', '/\\evil.example', '/\t/evil.example', '/\n/evil.example', '/\r\\evil.example',
    'http://evil.example/', 'javascript:alert(1)', ' /x', '\\\\evil.example']
  for (const path of refused) t.equal(sameOriginPath(path), '/', JSON.stringify(path))
})
