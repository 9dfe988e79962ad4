// The inspection CLI, run as a user runs it: the real `bin` from package.json as a child process,
// against a few hundred sessions on a single Redis and on a three-master Cluster. Each test checks
// what it printed (tables, histograms, JSON) and what Redis holds afterwards, not only the exit code.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import t from 'tap'
import { Cluster, Redis } from 'ioredis'
import { RedisSessionStore, generateId } from '../plugin'
import { uniquePrefix } from './helpers/build'
import { BIN, cli } from './helpers/cli'
import { clusterReady, startRedisCluster } from './helpers/redis-cluster'
import { startRedisSentinel } from './helpers/redis-sentinel'
import { freePort, startRedisServer } from './helpers/redis-server'

const SESSIONS = 300

t.before(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` (npm test does it first)`)
})

interface Seeded { ids: string[], short: Set<string>, withCart: number }

/** SESSIONS sessions through the store: half with a 10-minute TTL, half an hour; a third with a cart. */
async function seed (store: RedisSessionStore): Promise<Seeded> {
  const ids: string[] = []
  const short = new Set<string>()
  let withCart = 0
  for (let i = 0; i < SESSIONS; i += 50) {
    ids.push(...await Promise.all(Array.from({ length: 50 }, async (_, j) => {
      const n = i + j
      const cart = n % 3 === 0 ? { items: [n, n + 1] } : undefined
      const id = await store.createSession({ username: `user${n}`, page_views: n, ...(cart === undefined ? {} : { cart }) }, n % 2 === 0 ? 600 : 3600)
      if (n % 2 === 0) short.add(id)
      return id
    })))
  }
  withCart = Math.ceil(SESSIONS / 3)
  return { ids, short, withCart }
}

const TOPOLOGIES = ['single', 'cluster'] as const

for (const topology of TOPOLOGIES) {
  t.test(`on a ${topology === 'single' ? 'single Redis' : 'three-master Redis Cluster'}`, async (t) => {
    let redis: Redis | Cluster
    let connection: string[]
    let masters: Redis[]
    if (topology === 'single') {
      const server = await startRedisServer(t)
      redis = new Redis(server.url)
      connection = ['--url', server.url]
      masters = [redis]
    } else {
      const { startupNodes } = await startRedisCluster(t)
      redis = new Cluster(startupNodes)
      await clusterReady(redis)
      connection = ['--cluster', startupNodes.map((n) => `${n.host}:${n.port}`).join(',')]
      masters = redis.nodes('master')
    }
    t.teardown(() => { redis.disconnect() })
    const prefix = uniquePrefix()
    const store = new RedisSessionStore({ redis, prefix })
    const { ids, short, withCart } = await seed(store)
    // Beside the sessions: keys the CLI must not take for sessions.
    const marker = generateId()
    await redis.hset(prefix + marker, 'rotated_at', new Date().toISOString()) // a rotation marker: no created_at
    await redis.expire(prefix + marker, 60)
    await redis.set(prefix + generateId(), 'a string, not a hash')
    await redis.hset(prefix + 'not-an-id', 'created_at', new Date().toISOString())
    const other = await new RedisSessionStore({ redis, prefix: uniquePrefix() }).createSession({ username: 'elsewhere' })
    const base = [...connection, '--prefix', prefix]

    if (topology === 'cluster') {
      const perMaster = await Promise.all(masters.map(async (m) => (await m.keys(prefix + '*')).length))
      t.ok(perMaster.every((n) => n > 0), `sessions on every master (${perMaster.join(', ')})`)
    }

    t.test('list --json --limit 0: every session, from every master, and nothing else', async (t) => {
      const run = await cli(['list', '--json', '--limit', '0', '--show-ids', ...base])
      t.equal(run.code, 0, run.stderr)
      const listed = JSON.parse(run.stdout) as { prefix: string, more: boolean, sessions: Array<{ id: string, key: string, ttl: number, expiresIn: number, fields: Record<string, unknown>, createdAt: string }> }
      t.equal(listed.prefix, prefix)
      t.equal(listed.more, false)
      t.same(listed.sessions.map((s) => s.id).sort(), [...ids].sort(), `the ${SESSIONS} sessions, not the marker, the string, the odd key or the other prefix's session`)
      t.notOk(listed.sessions.some((s) => s.id === marker || s.id === other))
      const one = listed.sessions.find((s) => s.id === ids[5])!
      t.same(one.fields, { username: 'user5', page_views: 5 }, 'fields decoded as the plugin reads them (a number stays a number)')
      t.equal(one.key, prefix + ids[5])
      t.equal(one.ttl, 3600)
      t.ok(one.expiresIn > 3500 && one.expiresIn <= 3600)
      t.ok(listed.sessions.find((s) => s.id === ids[0])!.ttl === 600)
      t.same(listed.sessions.find((s) => s.id === ids[0])!.fields.cart, { items: [0, 1] }, 'a JSON object comes back as one')
    })

    t.test('list: an aligned table, a limit and a footer that says there are more', async (t) => {
      const run = await cli(['list', '--limit', '7', '--show-ids', ...base])
      t.equal(run.code, 0, run.stderr)
      const lines = run.stdout.trimEnd().split('\n')
      t.match(lines[0], /^ID\s+USER\s+CREATED\s+LAST SEEN\s+EXPIRES IN\s+TTL\s+FIELDS\s+SIZE$/)
      t.equal(lines.length, 1 + 7 + 1, 'header, 7 rows, footer')
      const createdAt = lines[0].indexOf('CREATED')
      for (const row of lines.slice(1, 8)) {
        t.ok(ids.includes(row.slice(0, 43)), 'a row starts with a session ID')
        t.match(row.slice(createdAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s ago\)/, 'the CREATED column is aligned')
      }
      t.equal(lines[8], '7 sessions shown; there are more (--limit 7; --limit 0 lists all).')
    })

    t.test('without --show-ids, no output carries a session ID (each is a working cookie): handles instead', async (t) => {
      const outputs = await Promise.all([
        cli(['list', '--limit', '0', ...base]),
        cli(['list', '--limit', '0', '--json', ...base]),
        cli(['show', ids[7], ...base]),
        cli(['show', ids[7], '--json', ...base]),
        cli(['stats', ...base])
      ])
      for (const run of outputs) t.equal(run.code, 0, run.stderr)
      const text = outputs.map((r) => r.stdout + r.stderr).join('\n')
      t.notOk(ids.some((id) => text.includes(id)), 'no ID in any of them')
      const lines = outputs[0].stdout.trimEnd().split('\n')
      t.match(lines[0], /^HANDLE\s+USER\s+CREATED/)
      t.ok(lines.slice(1, -1).every((row) => /^[A-Za-z0-9_-]{22} /.test(row)), 'rows start with handles')
      t.ok(lines.slice(1, -1).some((row) => row.startsWith(store.handle(ids[7]))))
      t.match(outputs[2].stdout, new RegExp(`^handle +${store.handle(ids[7])}$`, 'm'))
      t.notMatch(outputs[2].stdout, /^key /m)
    })

    t.test('show: times, expiry, size and decoded fields, without sliding the session', async (t) => {
      const id = ids[6]
      await redis.expire(prefix + id, 500)
      const before = await redis.hget(prefix + id, 'last_accessed_at')
      const run = await cli(['show', id, '--show-ids', ...base])
      t.equal(run.code, 0, run.stderr)
      t.match(run.stdout, new RegExp(`^key +${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${id}$`, 'm'))
      t.match(run.stdout, /^created +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s ago\)$/m)
      t.match(run.stdout, /^idle TTL +10 min \(600 s\)$/m)
      t.match(run.stdout, /^expires +in 8 min \d+ s \(\d{4}-.*Z\) unless used again$/m)
      t.match(run.stdout, /^size +\d+ B of fields; \d+ B in Redis \(MEMORY USAGE\)$/m)
      t.match(run.stdout, /^FIELD +VALUE\nusername +user6\npage_views +6\ncart +\{"items":\[6,7\]\}$/m)
      t.ok(await redis.ttl(prefix + id) <= 500, 'the expiry did not slide')
      t.equal(await redis.hget(prefix + id, 'last_accessed_at'), before, 'last_accessed_at unchanged')

      const json = await cli(['show', id, '--json', ...base])
      const shown = JSON.parse(json.stdout)
      t.same(shown.fields, { username: 'user6', page_views: 6, cart: { items: [6, 7] } })
      t.equal(shown.ttl, 600)
      t.ok(shown.expiresIn <= 500 && shown.expiresIn > 400)
      t.type(shown.memory, 'number')
      t.ok(shown.memory > 100, `MEMORY USAGE answered from the key's own node (${shown.memory} B)`)
    })

    t.test('stats: count, histograms, memory per session and the common fields', async (t) => {
      const json = await cli(['stats', '--json', '--sample', '50', ...base])
      t.equal(json.code, 0, json.stderr)
      const stats = JSON.parse(json.stdout)
      t.equal(stats.sessions, SESSIONS)
      t.equal(stats.withoutTtl, 0)
      const ttl = Object.fromEntries(stats.ttl.map((b: { label: string, count: number }) => [b.label, b.count]))
      // show's test set one key's expiry to 500 s: still in "< 15 min", with the 10-minute sessions.
      t.equal(ttl['< 15 min'], short.size, 'the 10-minute sessions')
      t.equal(ttl['< 1 h'] + ttl['< 6 h'], SESSIONS - short.size, 'the one-hour sessions')
      t.equal(stats.size.reduce((sum: number, b: { count: number }) => sum + b.count, 0), SESSIONS)
      t.equal(stats.memory.sampled, 50)
      t.ok(stats.memory.mean > 100 && stats.memory.mean < 1000, `memory per session ${stats.memory.mean} B`)
      t.same(stats.fields.map((f: { field: string }) => f.field), ['page_views', 'username', 'cart'])
      t.same(stats.fields.map((f: { sessions: number }) => f.sessions), [SESSIONS, SESSIONS, withCart])

      const human = await cli(['stats', '--sample', '20', ...base])
      t.equal(human.code, 0, human.stderr)
      t.match(human.stdout, new RegExp(`^sessions +${SESSIONS}$`, 'm'))
      t.match(human.stdout, /^memory +\d+ B per session on average \(median \d+ B, p95 \d+ B, max \d+ B; MEMORY USAGE of 20\)$/m)
      t.match(human.stdout, new RegExp(`^ +< 15 min  █{40}  +${short.size}  50\\.0 %$`, 'm'), 'the largest bucket has the full bar')
      t.match(human.stdout, /^ +< 1 min +0 {2}0\.0 %$/m, 'an empty bucket has none')
      t.match(human.stdout, new RegExp(`^cart +${withCart} +33\\.3 %$`, 'm'))
    })

    t.test('a progress line on stderr with --progress; stdout stays one JSON document', async (t) => {
      const run = await cli(['stats', '--json', '--progress', '--page-size', '100', ...base])
      t.equal(run.code, 0)
      t.doesNotThrow(() => JSON.parse(run.stdout))
      t.match(run.stderr, /^scanned \d+ keys…$/m)
      t.match(run.stderr, new RegExp(`^scanned ${SESSIONS + 1} keys$`, 'm'), 'the last line: every hash under the prefix named like a session ID (the marker too)')
      const quiet = await cli(['list', '--no-progress', ...base])
      t.equal(quiet.stderr, '')
    })

    t.test('--user, handles and delete-user: the per-user index', async (t) => {
      const alices = [ids[20], ids[21], ids[22]]
      for (const [i, id] of alices.entries()) t.ok(await store.setUser(id, 'alice', { label: `device ${i}` }))
      const listed = await cli(['list', '--user', 'alice', '--json', '--show-ids', ...base])
      t.equal(listed.code, 0, listed.stderr)
      const sessions = JSON.parse(listed.stdout).sessions as Array<{ id: string, user: string, label: string, handle: string }>
      t.same(sessions.map((s) => s.id).sort(), [...alices].sort(), 'exactly her three sessions, from her index')
      t.ok(sessions.every((s) => s.user === 'alice' && /^device \d$/.test(s.label)))
      const table = await cli(['list', '--user', 'alice', '--show-ids', ...base])
      t.match(table.stdout, new RegExp(`^${ids[21]}  alice  `, 'm'), 'the USER column')

      const handle = sessions.find((s) => s.id === ids[21])!.handle
      t.equal(handle, store.handle(ids[21]), 'the handle the application\'s session list shows')
      for (const args of [['--user', 'alice'], []]) {
        const shown = await cli(['show', handle, '--show-ids', ...args, ...base])
        t.equal(shown.code, 0, shown.stderr)
        t.match(shown.stdout, new RegExp(`^key +.*${ids[21]}$`, 'm'), `a handle finds the session (${args.length === 0 ? 'by a scan' : 'in the index'})`)
        t.match(shown.stdout, /^user +alice \(device 1\)$/m)
      }

      const gone = await cli(['delete-user', 'alice', ...base])
      t.equal(gone.code, 0, gone.stderr)
      t.equal(gone.stdout, 'Deleted 3 sessions of the user "alice".\n')
      for (const id of alices) t.equal(await redis.exists(prefix + id), 0)
      t.equal(await redis.exists(prefix + 'user:alice'), 0, 'and her index')
      const again = await cli(['delete-user', 'alice', ...base])
      t.equal(again.code, 3)
      t.match(again.stderr, /no sessions of the user "alice"/)
    })

    t.test('delete: the key is gone, the next delete finds nothing', async (t) => {
      const id = ids[9]
      const run = await cli(['delete', id, ...base])
      t.equal(run.code, 0, run.stderr)
      t.equal(run.stdout, 'Deleted 1 session.\n')
      t.equal(await redis.exists(prefix + id), 0)
      t.equal(await redis.exists(prefix + ids[10]), 1, 'only that one')
      const again = await cli(['delete', id, ...base])
      t.equal(again.code, 3)
      t.equal(again.stdout, '')
      t.match(again.stderr, /^fastify-redis-hash-session: no session at that ID under the prefix ".*" \(expired, ended, or the wrong --prefix\)\n$/)
      const show = await cli(['show', id, ...base])
      t.equal(show.code, 3)
    })
  })
}

t.test('--sentinel: the master found through the sentinels', async (t) => {
  const sentinel = await startRedisSentinel(t)
  const redis = new Redis({ sentinels: sentinel.sentinels, name: sentinel.name })
  t.teardown(() => { redis.disconnect() })
  const prefix = uniquePrefix()
  const store = new RedisSessionStore({ redis, prefix })
  const ids = await Promise.all(Array.from({ length: 5 }, (_, i) => store.createSession({ n: i })))
  const sentinels = sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')
  const run = await cli(['list', '--json', '--show-ids', '--sentinel', sentinels, '--sentinel-name', sentinel.name, '--prefix', prefix])
  t.equal(run.code, 0, run.stderr)
  t.same(JSON.parse(run.stdout).sessions.map((s: { id: string }) => s.id).sort(), ids.sort())
  const wrongName = await cli(['list', '--sentinel', sentinels, '--sentinel-name', 'nope', '--prefix', prefix])
  t.equal(wrongName.code, 4)
  t.match(wrongName.stderr, /^fastify-redis-hash-session: cannot reach Redis at the master "nope" of the Sentinels at /)
})

t.test('errors: one line on stderr and an exit code a script can tell apart', async (t) => {
  const server = await startRedisServer(t)
  const down = `redis://127.0.0.1:${await freePort()}`

  const unreachable = await cli(['list', '--url', down])
  t.equal(unreachable.code, 4)
  t.equal(unreachable.stdout, '')
  t.match(unreachable.stderr, /^fastify-redis-hash-session: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED [^)]+\); check --url, --cluster or --sentinel\n$/)

  const password = await cli(['list', '--url', down.replace('//', '//app:hunter2@')])
  t.notMatch(password.stderr, /hunter2/, 'no password in the message')

  const fromEnv = await cli(['list', '--json'], { REDIS_URL: server.url })
  t.equal(fromEnv.code, 0, 'REDIS_URL when there is no --url')
  t.same(JSON.parse(fromEnv.stdout).sessions, [])

  const empty = await cli(['list', '--url', server.url, '--prefix', uniquePrefix()])
  t.equal(empty.code, 0)
  t.match(empty.stdout, /^No sessions under the prefix "test:[0-9a-f]+:"\.\n$/)

  for (const [args, message] of [
    [['lst'], /unknown command "lst"/],
    [['list', '--bogus'], /Unknown option '--bogus'/],
    [['show'], /show takes one session ID or handle/],
    [['show', 'abc'], /that is neither a session ID .* nor a handle/],
    [['delete-user'], /delete-user takes one user ID/],
    [['list', '--limit', 'ten'], /--limit expects a whole number of at least 0, got "ten"/],
    [['list', '--url', server.url, '--cluster', '127.0.0.1:1'], /give one of --url, --cluster and --sentinel/],
    [['list', '--cluster', 'nohost'], /--cluster expects host:port/],
    [['list', '--url', 'http://x'], /--url expects a redis:\/\/ or rediss:\/\/ URL/]
  ] as Array<[string[], RegExp]>) {
    const run = await cli(args, { REDIS_URL: server.url })
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, message)
    t.equal(run.stderr.trimEnd().split('\n').length, 1, 'one line')
  }

  // A password-protected Redis: the password from $REDISCLI_AUTH, as for redis-cli, never the command line.
  // (Set after start: the helper's readiness probe has no password.)
  const locked = await startRedisServer(t)
  const lock = new Redis(locked.url)
  await lock.config('SET', 'requirepass', 'a-password-for-the-test')
  lock.disconnect()
  const noAuth = await cli(['list', '--url', locked.url])
  t.equal(noAuth.code, 4)
  t.match(noAuth.stderr, /^fastify-redis-hash-session: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(NOAUTH\); Redis wants a password: put it in \$REDISCLI_AUTH/)
  const wrong = await cli(['list', '--url', locked.url], { REDISCLI_AUTH: 'wrong' })
  t.match(wrong.stderr, /\(WRONGPASS\)/)
  const authed = await cli(['list', '--url', locked.url, '--prefix', uniquePrefix()], { REDISCLI_AUTH: 'a-password-for-the-test' })
  t.equal(authed.code, 0, authed.stderr)
  t.match(authed.stdout, /^No sessions under the prefix/)

  // IDs and handles are base64url: one may start with "-", and is still an ID, not an option.
  const dashed = '-' + 'A'.repeat(42)
  const direct = new Redis(server.url)
  const dashPrefix = uniquePrefix()
  const now = new Date().toISOString()
  await direct.hset(dashPrefix + dashed, { created_at: now, last_accessed_at: now, session_ttl: '60', username: 'dash' })
  await direct.expire(dashPrefix + dashed, 60)
  const dashShow = await cli(['show', dashed, '--url', server.url, '--prefix', dashPrefix])
  t.equal(dashShow.code, 0, dashShow.stderr)
  t.match(dashShow.stdout, /^username +dash$/m)
  const dashDelete = await cli(['delete', '--url', server.url, dashed, '--prefix', dashPrefix])
  t.equal(dashDelete.code, 0, dashDelete.stderr)
  t.equal(await direct.exists(dashPrefix + dashed), 0)
  direct.disconnect()

  const help = await cli(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: fastify-redis-hash-session <command> \[options\]/)
  t.match(help.stdout, /Exit codes: 0 done, 1 unexpected failure, 2 wrong usage, 3 no such session, 4 Redis unreachable\./)
})

t.test('output cut short (`| head -1`): a quiet exit, not a stack trace', async (t) => {
  const server = await startRedisServer(t)
  const redis = new Redis(server.url)
  t.teardown(() => { redis.disconnect() })
  const store = new RedisSessionStore({ redis, prefix: 'cut:' })
  await seed(store)
  for (const command of ['list', 'stats']) {
    const child = spawn(process.execPath, [BIN, command, '--url', server.url, '--prefix', 'cut:'], { env: { PATH: process.env.PATH }, timeout: 60_000 })
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += d })
    // Read the first chunk, then close the pipe, as `head -1` does.
    child.stdout.once('data', () => { child.stdout.destroy() })
    const code = await new Promise((resolve) => child.on('close', resolve))
    t.equal(stderr, '', `${command}: nothing on stderr`)
    t.equal(code, 0, `${command}: exit 0`)
  }
})
