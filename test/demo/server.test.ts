// demo/server.ts as a process: flags and environment (flags win), the one-line message when Redis
// cannot be reached at start, and a graceful shutdown that lets a request in flight finish.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { parseConfig, UsageError } from '../../demo/server'
import { freePort, startRedisServer } from '../helpers/redis-server'

const ROOT = join(__dirname, '..', '..')

t.test('defaults: port 8080, Redis on localhost:6379', async (t) => {
  t.match(parseConfig([], {}), {
    port: 8080,
    host: 'localhost',
    redisUrl: 'redis://localhost:6379',
    redisAddress: 'localhost:6379',
    redisCli: 'redis-cli',
    help: false
  })
})

t.test('the environment: PORT, HOST, REDIS_URL', async (t) => {
  t.match(parseConfig([], { PORT: '3000', HOST: '0.0.0.0', REDIS_URL: 'redis://cache:6380' }), {
    port: 3000,
    host: '0.0.0.0',
    redisUrl: 'redis://cache:6380',
    redisAddress: 'cache:6380',
    redisCli: 'redis-cli -h cache -p 6380'
  })
  t.match(parseConfig([], { REDIS_URL: 'redis://cache' }), { redisAddress: 'cache:6379' }, 'default Redis port')
  t.equal(parseConfig([], { REDIS_CLI: 'docker compose exec redis redis-cli' }).redisCli, 'docker compose exec redis redis-cli')
})

t.test('flags win over the environment and keep the rest of REDIS_URL', async (t) => {
  const config = parseConfig(
    ['--port', '9000', '--redis-host', '127.0.0.1', '--redis-port', '6390'],
    { PORT: '3000', REDIS_URL: 'redis://:secret@cache:6380/2' }
  )
  t.equal(config.port, 9000)
  t.equal(config.redisUrl, 'redis://:secret@127.0.0.1:6390/2', 'password and database kept')
  t.equal(config.redisAddress, '127.0.0.1:6390', 'no password in messages')
  t.equal(config.redisCli, 'redis-cli -p 6390')
  t.match(parseConfig(['--redis-host', 'other'], { REDIS_URL: 'redis://cache:6380' }), { redisAddress: 'other:6380' })
  t.match(parseConfig(['--redis-port=7000'], {}), { redisAddress: 'localhost:7000' })
  t.match(parseConfig(['--redis-host', '::1'], {}), { redisAddress: '[::1]:6379' })
  t.equal(parseConfig(['--port', '0'], {}).port, 0, 'port 0: any free port')
  t.equal(parseConfig(['--help'], {}).help, true)
  t.equal(parseConfig(['-h'], {}).help, true)
})

t.test('wrong flags and values are usage errors that say what to fix', async (t) => {
  const bad: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--port', 'abc'], {}, /--port must be a port number/],
    [['--port', '70000'], {}, /--port must be a port number/],
    [['--redis-port', '0'], {}, /--redis-port must be a port number from 1/],
    [['--redis-host', 'a b'], {}, /--redis-host must be a host name/],
    [['--bogus'], {}, /bogus/],
    [['extra'], {}, /extra/],
    [['--port'], {}, /--port/],
    [[], { PORT: 'x' }, /PORT must be a port number/],
    [[], { REDIS_URL: 'http://cache:6379' }, /REDIS_URL must start with redis:\/\//],
    [[], { REDIS_URL: 'cache:6379' }, /REDIS_URL must/]
  ]
  for (const [argv, env, message] of bad) {
    t.throws(() => parseConfig(argv, env), UsageError, JSON.stringify({ argv, env }))
    t.throws(() => parseConfig(argv, env), { message }, JSON.stringify({ argv, env }))
  }
})

/**
 * How to run the server: the built dist/demo/server.js when it is newer than every source it comes
 * from (as after `npm test`, which builds first: then this tests what `npm run demo` and the image
 * run), otherwise demo/server.ts through tap's TypeScript loader.
 */
function serverCommand (): string[] {
  const sources = ['demo', 'demo/views', 'plugin'].flatMap((dir) =>
    readdirSync(join(ROOT, dir)).filter((file) => file.endsWith('.ts')).map((file) => join(dir, file)))
  const fresh = sources.every((source) => {
    const built = join(ROOT, 'dist', source.replace(/\.ts$/, '.js'))
    return existsSync(built) && statSync(built).mtimeMs >= statSync(join(ROOT, source)).mtimeMs
  })
  if (fresh) return [join(ROOT, 'dist', 'demo', 'server.js')]
  const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))
  if (loader.length === 0) throw new Error('dist/ is out of date: run `npm run build` first, or run this file with tap')
  return [...loader, join(ROOT, 'demo', 'server.ts')]
}

const command = serverCommand()
t.comment(`server under test: ${command.at(-1)}`)

/** Run the demo server in a child process. */
function startServer (args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess, out: () => string, err: () => string, exit: Promise<number | null> } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LOG_LEVEL: 'info', ...env }
  delete childEnv.REDIS_URL
  delete childEnv.PORT
  const child = spawn(process.execPath, [...command, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, out: () => stdout, err: () => stderr, exit }
}

async function waitFor (what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

t.test('Redis unreachable at start: one clear line with the address and how to start Redis, exit 1', async (t) => {
  const port = await freePort() // nothing listens there
  const server = startServer(['--port', String(await freePort()), '--host', '127.0.0.1', '--redis-host', '127.0.0.1', '--redis-port', String(port)])
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })
  const code = await Promise.race([server.exit, sleep(60_000, 'timeout', { ref: false })])
  t.equal(code, 1, 'exit code 1')
  const lines = server.err().trim().split('\n')
  t.equal(lines.length, 1, 'one line: ' + server.err())
  t.match(lines[0], new RegExp(`^Cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\)\\. Start one with \`redis-server\``))
  t.equal(server.out(), '', 'nothing else printed')
})

t.test('SIGTERM: stops accepting, finishes the request in flight, closes Redis, exits 0', async (t) => {
  const redisServer = await startRedisServer(t)
  const port = await freePort()
  const server = startServer(['--port', String(port), '--host', '127.0.0.1', '--redis-host', '127.0.0.1', '--redis-port', String(redisServer.port)])
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })
  await waitFor('the demo to start', () => server.out().includes('"msg":"demo ready') || server.child.exitCode !== null, 60_000)
  t.equal(server.child.exitCode, null, 'running: ' + server.err())
  const base = `http://127.0.0.1:${port}`
  t.match(server.out(), `"msg":"demo ready: open ${base}"`, 'says where to open it')

  const login = await fetch(`${base}/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'ann', ttl: '60' }),
    redirect: 'manual'
  })
  t.equal(login.status, 303)
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]
  t.match(decodeURIComponent(cookie), /^sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}$/, 'the cookie is signed')
  t.match(server.out(), /SESSION_SECRET is not set: signing session cookies with the public development secret/, 'and the development secret is called out')

  // Hold every Redis command for 1.5 s, so the next request is in flight when SIGTERM arrives.
  const ctl = new Redis(redisServer.url)
  t.teardown(() => { ctl.disconnect() })
  await ctl.call('CLIENT', 'PAUSE', '1500', 'ALL')
  const requests = (): number => server.out().split('\n').filter((line) => line.includes('"msg":"incoming request"')).length
  const before = requests()
  const inFlight = fetch(`${base}/`, { headers: { cookie } })
  await waitFor('the request to arrive', () => requests() > before, 5000)
  server.child.kill('SIGTERM')
  await waitFor('the shutdown to begin', () => server.out().includes('shutting down'), 5000)

  // A new connection is refused while the request in flight is still being answered.
  const refused = await new Promise<string>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => resolve(`answered ${res.statusCode}`))
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    req.end()
  })
  t.equal(refused, 'ECONNREFUSED', 'no new connections after SIGTERM')

  const res = await inFlight
  t.equal(res.status, 200, 'the request in flight was answered')
  t.match(await res.text(), /<h1 id="username">ann<\/h1>/)
  t.equal(await server.exit, 0, 'exit code 0')
  t.match(server.out(), /closed the HTTP server and the Redis connection/)
  const clients = String(await ctl.call('CLIENT', 'LIST'))
  t.equal(clients.trim().split('\n').length, 1, 'only our control connection is left on Redis')
})
