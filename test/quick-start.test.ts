// The README's Quick start is taken out of README.md, so it cannot drift from what is tested:
// - each type-test app under test/types/apps/ holds the TypeScript block verbatim (npm run test:types compiles them);
// - here every app is compiled again to JavaScript and run, and the block also runs as plain ESM JavaScript,
//   the `require()` block as plain CommonJS, each answering a login → me → me → logout → me round trip over
//   real HTTP against a private redis-server.
// The only substitutions, for the runs: `app.listen({ port: 3000 })` becomes a listen on 127.0.0.1 at a free port,
// and the CommonJS block's `// ...the same three routes as above...` line becomes the TypeScript block's routes.
import { execFile, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { freePort, startRedisServer } from './helpers/redis-server'

const run = promisify(execFile)
const root = join(__dirname, '..')
const appsDir = join(__dirname, 'types', 'apps')
const LISTEN = 'app.listen({ port: 3000 })'
const ROUTES_PLACEHOLDER = '// ...the same three routes as above...'

const readme = readFileSync(join(root, 'README.md'), 'utf8')
const start = readme.indexOf('\n## Quick start\n')
const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
const tsBlock = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
const cjsBlock = /```js\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
const rows = readdirSync(appsDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()

t.ok(start >= 0, 'the README has a Quick start section')
t.match(tsBlock, "import redisSession from 'fastify-redis-hash-session'", 'the TypeScript block uses the default import')
t.match(cjsBlock, "const redisSession = require('fastify-redis-hash-session')", 'the CommonJS block uses require()')
t.equal(tsBlock.split(LISTEN).length, 2, `the TypeScript block has one \`${LISTEN}\``)
t.equal(cjsBlock.split(LISTEN).length, 2, `the CommonJS block has one \`${LISTEN}\``)
t.equal(cjsBlock.split(ROUTES_PLACEHOLDER).length, 2, 'the CommonJS block refers to the routes above')

t.test('every type-test app holds the Quick start verbatim and is compiled by npm run test:types', async (t) => {
  const script = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts['test:types'] as string
  t.ok(rows.length >= 6, rows.join(', '))
  for (const row of rows) {
    t.equal(readFileSync(join(appsDir, row, 'index.ts'), 'utf8'), tsBlock, `${row}/index.ts is the README's block (copy it again after editing the README)`)
    t.ok(script.split(' && ').includes(`tsc -p test/types/apps/${row}`), `test:types compiles ${row}`)
  }
})

function forRun (code: string, port: number): string {
  return code.replace(LISTEN, `app.listen({ port: ${port}, host: '127.0.0.1' })`)
}

/** The TypeScript block's routes: from the first route to the listen line. */
function routes (): string {
  return tsBlock.slice(tsBlock.indexOf("app.post('/login'"), tsBlock.indexOf(LISTEN)).trimEnd()
}

const artifacts = join(root, 'test', 'artifacts')
const work = join(artifacts, `quick-start-${process.pid}`)

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

t.before(() => {
  if (!existsSync(join(root, 'dist/plugin/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
  // A run that failed hard may have left its directory: remove those of runs no longer alive.
  for (const name of existsSync(artifacts) ? readdirSync(artifacts) : []) {
    const pid = /^quick-start-(\d+)$/.exec(name)?.[1]
    if (pid !== undefined && !alive(Number(pid))) rmSync(join(artifacts, name), { recursive: true, force: true })
  }
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
})
t.teardown(() => rmSync(work, { recursive: true, force: true }))

interface Program { name: string, file: string }

/** Each TypeScript app copied with its package.json and tsconfig.json, the block substituted, compiled to out/ (in parallel). */
async function compileApps (ports: Map<string, number>): Promise<Program[]> {
  await run(process.execPath, [join(root, 'test/types/link.mjs'), work])
  return Promise.all(rows.map(async (row) => {
    const dir = join(work, row)
    mkdirSync(dir)
    cpSync(join(appsDir, row, 'package.json'), join(dir, 'package.json'))
    const tsconfig = JSON.parse(readFileSync(join(appsDir, row, 'tsconfig.json'), 'utf8'))
    // The types were checked with skipLibCheck off by test:types; here only the emitted JavaScript matters.
    tsconfig.compilerOptions = { ...tsconfig.compilerOptions, noEmit: false, outDir: 'out', skipLibCheck: true }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2))
    writeFileSync(join(dir, 'index.ts'), forRun(tsBlock, ports.get(row)!))
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { timeout: 90_000 })
    const file = join(dir, 'out', 'index.js')
    // What Node then loads: the ES-module entry for an ES-module output, the CommonJS build for require().
    const esm = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type === 'module'
    const emitted = readFileSync(file, 'utf8')
    if (!emitted.includes(esm ? "from 'fastify-redis-hash-session'" : 'require("fastify-redis-hash-session")')) {
      throw new Error(`${row}: expected ${esm ? 'an ES module' : 'CommonJS'} output, got:\n${emitted}`)
    }
    return { name: `TypeScript ${row} (${esm ? 'ES module' : 'CommonJS'} output)`, file }
  }))
}

async function roundTrip (t: Test, program: Program, port: number, redisUrl: string, redis: Redis): Promise<void> {
  const child = spawn(process.execPath, [program.file], {
    cwd: work,
    env: { ...process.env, REDIS_URL: redisUrl, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(async () => {
    // Stop the program we started, by its PID.
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    await exited
  })
  const origin = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${program.name} exited with ${child.exitCode}:\n${output}`)
    try {
      await fetch(origin + '/me')
      break
    } catch {
      if (Date.now() > deadline) throw new Error(`${program.name} did not listen within 20 s:\n${output}`)
      await sleep(100)
    }
  }

  const login = await fetch(origin + '/login', { method: 'POST' })
  t.equal(login.status, 200, 'login')
  t.same(await login.json(), { ok: true })
  const setCookie = login.headers.getSetCookie()
  t.equal(setCookie.length, 1, 'one Set-Cookie')
  const cookie = setCookie[0].split(';')[0]
  const id = cookie.slice(cookie.indexOf('=') + 1)
  t.same(await redis.hgetall('session:' + id).then(({ username, page_views: views }) => ({ username, views })),
    { username: 'andrew', views: '0' }, 'the session is a hash in Redis')
  t.equal(await redis.ttl('session:' + id) > 1800, true, 'with the TTL given to create()')

  for (const views of [1, 2]) {
    const me = await fetch(origin + '/me', { headers: { cookie } })
    t.equal(me.status, 200, `me #${views}`)
    t.same(await me.json(), { username: 'andrew', views })
  }
  const logout = await fetch(origin + '/logout', { method: 'POST', headers: { cookie } })
  t.equal(logout.status, 200, 'logout')
  t.same(await logout.json(), { ok: true })
  t.match(logout.headers.getSetCookie()[0] ?? '', /^sid=;/, 'the cookie is cleared')
  t.equal(await redis.exists('session:' + id), 0, 'the key is gone')
  const after = await fetch(origin + '/me', { headers: { cookie } })
  t.equal(after.status, 401, 'the old cookie no longer works')
}

t.test('the Quick start runs: compiled from each TypeScript app, as plain ESM and as plain CommonJS', async (t) => {
  const server = await startRedisServer(t)
  const redis = new Redis(server.url)
  t.teardown(() => { redis.disconnect() })
  const ports = new Map<string, number>()
  for (const name of [...rows, 'esm', 'cjs']) ports.set(name, await freePort())

  const programs = await compileApps(ports)
  mkdirSync(join(work, 'js'))
  writeFileSync(join(work, 'js', 'index.mjs'), forRun(tsBlock, ports.get('esm')!))
  programs.push({ name: 'plain ESM JavaScript', file: join(work, 'js', 'index.mjs') })
  writeFileSync(join(work, 'js', 'index.cjs'), forRun(cjsBlock.replace(ROUTES_PLACEHOLDER, routes()), ports.get('cjs')!))
  programs.push({ name: 'plain CommonJS JavaScript', file: join(work, 'js', 'index.cjs') })

  for (const [i, program] of programs.entries()) {
    const port = ports.get([...rows, 'esm', 'cjs'][i])!
    await t.test(program.name, (t) => roundTrip(t, program, port, server.url, redis))
  }
})
