// The favicon and the static files are routes with `config: { session: false }`: a browser that
// holds a live session cookie fetches them on every page, and none of those requests may load the
// session (which would slide its TTL and rewrite last_accessed_at) or send Redis anything at all.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { startRedisServer } from '../helpers/redis-server'
import { Browser, buildDemo } from './helpers'

/** Calls per command as this Redis counts them (INFO commandstats), the INFO calls themselves left out. */
async function commandCalls (redis: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {}
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== 'info') calls[m[1]] = Number(m[2])
  }
  return calls
}

function diff (before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const changed: Record<string, number> = {}
  for (const [name, calls] of Object.entries(after)) if (calls !== (before[name] ?? 0)) changed[name] = calls - (before[name] ?? 0)
  return changed
}

t.test('/favicon.ico and /static/* with a live session cookie: no session load, no Redis command', async (t) => {
  // A Redis of this test's own, so its command counts are ours alone.
  const server = await startRedisServer(t)
  const { app, redis, key } = await buildDemo(t, { url: server.url })
  const browser = new Browser(app)
  const id = await browser.login('ann', '60')
  const css = await browser.get('/static/app.css')
  // Shorten the key's TTL: a load would slide it back to 60 s.
  await redis.expire(key(id), 30)
  const before = await redis.hgetall(key(id))
  await sleep(20) // a load now would write a later last_accessed_at
  const callsBefore = await commandCalls(redis)

  const requests: Array<{ method: 'GET' | 'HEAD', url: string, headers?: Record<string, string>, status: number }> = [
    { method: 'GET', url: '/favicon.ico', status: 301 },
    { method: 'HEAD', url: '/favicon.ico', status: 301 },
    { method: 'GET', url: '/static/favicon.svg', status: 200 },
    { method: 'GET', url: '/static/app.css', status: 200 },
    { method: 'GET', url: '/static/app.css', headers: { 'if-none-match': String(css.headers.etag) }, status: 304 },
    { method: 'GET', url: '/static/session.js', status: 200 },
    { method: 'GET', url: '/static/nope.css', status: 404 }
  ]
  for (const { method, url, headers, status } of requests) {
    const res = await browser.inject({ method, url, headers })
    t.equal(res.statusCode, status, `${method} ${url}${headers === undefined ? '' : ' (conditional)'}`)
    t.equal(res.headers['set-cookie'], undefined, `${method} ${url}: the cookie is left alone`)
  }

  t.same(diff(callsBefore, await commandCalls(redis)), {}, 'Redis received no command from these requests')
  const after = await redis.hgetall(key(id))
  t.equal(after.last_accessed_at, before.last_accessed_at, 'last_accessed_at unchanged')
  t.same(after, before, 'the whole hash unchanged')
  const ttl = await redis.ttl(key(id))
  t.ok(ttl > 0 && ttl <= 30, `the TTL did not slide (${ttl} s left of the 30 set)`)
  t.equal(browser.sid, id, 'the browser keeps its session')

  // The control: a page that loads the session does all of that, so the checks above can fail.
  const callsBeforePage = await commandCalls(redis)
  await browser.get('/')
  t.not(Object.keys(diff(callsBeforePage, await commandCalls(redis))).length, 0, 'GET / sends Redis commands')
  t.not(await redis.hget(key(id), 'last_accessed_at'), before.last_accessed_at, 'GET / moves last_accessed_at')
  t.ok(await redis.ttl(key(id)) > 30, 'GET / slides the TTL')
})

t.test('/favicon.ico points at the SVG icon the layout links to', async (t) => {
  const { app } = await buildDemo(t)
  const res = await app.inject('/favicon.ico')
  t.equal(res.statusCode, 301)
  t.equal(res.headers.location, '/static/favicon.svg')
  t.match(res.headers['cache-control'], /max-age=86400/)
  const icon = await app.inject(res.headers.location as string)
  t.equal(icon.statusCode, 200)
  t.equal(icon.headers['content-type'], 'image/svg+xml')
  t.match(icon.body, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.match((await app.inject('/')).body, '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">')
})
