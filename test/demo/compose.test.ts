// No Docker engine runs here, so docker-compose.yml and the Dockerfile are checked by reading them:
// the services and how they wait for each other, and an image that builds only what
// `npm run build` builds, installs production dependencies only and runs as a non-root user.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

const ROOT = join(__dirname, '..', '..')
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8')

interface Service {
  image?: string
  build?: string | { context?: string, dockerfile?: string }
  healthcheck?: { test?: string | string[] }
  depends_on?: string[] | Record<string, { condition?: string }>
  ports?: Array<string | number | { target?: number, published?: number | string }>
  environment?: string[] | Record<string, string | number | null>
}

t.test('docker-compose.yml: redis with a healthcheck, the demo waiting for it', async (t) => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> }
  t.same(Object.keys(compose.services).sort(), ['demo', 'redis'])

  const redis = compose.services.redis
  t.match(redis.image, /^redis:7([.-]|$)/, 'an official Redis 7 image')
  const check = redis.healthcheck?.test
  const command = Array.isArray(check) ? check.filter((word) => word !== 'CMD' && word !== 'CMD-SHELL').join(' ') : String(check)
  t.match(command, /^redis-cli( .*)? ping$/, 'healthcheck runs redis-cli ping')

  const demo = compose.services.demo
  const build = typeof demo.build === 'string' ? { context: demo.build } : demo.build ?? {}
  t.equal(build.context, '.', 'built from the repository')
  const dockerfile = build.dockerfile ?? 'Dockerfile'
  t.ok(existsSync(join(ROOT, build.context ?? '.', dockerfile)), `${dockerfile} exists`)
  t.equal(demo.image, undefined, 'not a prebuilt image')

  const dependsOn = demo.depends_on
  t.ok(dependsOn !== undefined && !Array.isArray(dependsOn), 'depends_on in the long form, with a condition')
  t.equal((dependsOn as Record<string, { condition?: string }>).redis?.condition, 'service_healthy')

  const published = (demo.ports ?? []).map((port) => {
    if (typeof port === 'object') return `${port.published}:${port.target}`
    const parts = String(port).split(':')
    return parts.slice(-2).join(':')
  })
  t.ok(published.includes('8080:8080'), `port 8080 published (${published.join(', ')})`)

  const env = Array.isArray(demo.environment)
    ? Object.fromEntries(demo.environment.map((entry) => [entry.split('=')[0], entry.split('=').slice(1).join('=')]))
    : demo.environment ?? {}
  const url = new URL(String(env.REDIS_URL))
  t.equal(url.protocol, 'redis:')
  t.equal(url.hostname, 'redis', 'REDIS_URL points at the redis service')
  t.ok(url.port === '' || url.port === '6379')
  t.ok(env.PORT === undefined || String(env.PORT) === '8080', 'the demo listens on the published port')
})

interface Stage { from: string, name?: string, instructions: Array<{ op: string, args: string }> }

/** The Dockerfile as stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile (text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'))
  const stages: Stage[] = []
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line) ?? []
    if (op === undefined) continue
    if (op.toUpperCase() === 'FROM') {
      const [, from, name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? []
      stages.push({ from, name, instructions: [] })
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args })
    }
  }
  return stages
}

function jsonOrShell (args: string): string[] {
  return args.startsWith('[') ? JSON.parse(args) as string[] : args.split(/\s+/)
}

t.test('Dockerfile: multi-stage, production dependencies only, npm run build, non-root, runs the demo', async (t) => {
  const stages = parseDockerfile(read('Dockerfile'))
  t.ok(stages.length >= 2, `multi-stage (${stages.length} stages)`)
  const final = stages.at(-1)!
  const builders = stages.slice(0, -1)
  const runs = (stage: Stage): string[] => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args)

  // The build: npm run build and nothing else that compiles.
  const buildRuns = builders.flatMap(runs)
  t.ok(buildRuns.some((run) => /\bnpm run build\b/.test(run)), 'a build stage runs npm run build')
  for (const run of [...buildRuns, ...runs(final)]) {
    t.notMatch(run, /\b(tsc|npx|esbuild|swc|tsup)\b/, `no other compiler: ${run}`)
  }

  // The runtime: production dependencies, the compiled files, non-root, the demo's entry point.
  t.ok(runs(final).some((run) => /\bnpm ci\b.*--omit=dev\b/.test(run)), 'the final stage installs with npm ci --omit=dev')
  t.notOk(runs(final).some((run) => /\bnpm (install|i)\b/.test(run)), 'no npm install in the final stage')
  const copiesFromBuild = final.instructions.filter((i) => i.op === 'COPY' && /--from=/.test(i.args))
  t.ok(copiesFromBuild.length > 0, 'the final stage takes the compiled code from a build stage')
  for (const copy of copiesFromBuild) t.match(copy.args, /\/dist\b/, `only compiled output: COPY ${copy.args}`)
  t.notOk(final.instructions.some((i) => i.op === 'COPY' && !/--from=/.test(i.args) && /(^|\s)(plugin|demo)\/?(\s|$)/.test(i.args)), 'no TypeScript sources in the final stage')

  const users = final.instructions.filter((i) => i.op === 'USER')
  t.ok(users.length > 0, 'the final stage sets USER')
  const user = users.at(-1)!.args.split(':')[0]
  t.notOk(['root', '0'].includes(user), `runs as ${user}, not root`)

  const cmd = final.instructions.filter((i) => i.op === 'CMD').at(-1)
  t.ok(cmd, 'a CMD')
  t.same(jsonOrShell(cmd!.args), ['node', 'dist/demo/server.js'], 'runs node dist/demo/server.js (exec form: signals reach node)')
  t.notOk(final.instructions.some((i) => i.op === 'ENTRYPOINT'), 'no ENTRYPOINT wrapping it')
  const expose = final.instructions.filter((i) => i.op === 'EXPOSE').map((i) => i.args)
  t.ok(expose.some((ports) => ports.split(/\s+/).includes('8080')), 'EXPOSE 8080')

  // Node: the same major in every stage.
  const images = new Set(stages.map((stage) => stage.from))
  t.equal(images.size, 1, 'one base image for all stages')
  t.match([...images][0], /^node:\d+/)
})

t.test('Dockerfile: every path it copies exists in the repo and is not in .dockerignore', async (t) => {
  const stages = parseDockerfile(read('Dockerfile'))
  const ignored = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'))
  const sources = stages.flatMap((stage) => stage.instructions)
    .filter((i) => (i.op === 'COPY' || i.op === 'ADD') && !/--from=/.test(i.args))
    .flatMap((i) => {
      const words = jsonOrShell(i.args).filter((word) => !word.startsWith('--'))
      return words.slice(0, -1)
    })
  t.ok(sources.length > 0)
  for (const source of sources) {
    t.ok(existsSync(join(ROOT, source)), `${source} exists`)
    const hit = ignored.find((pattern) => {
      const p = pattern.replace(/^\/|\/$/g, '')
      // Leaving out a sub-folder of a copied folder (demo/node_modules) is fine; leaving out the source is not.
      return source === p || source.startsWith(p + '/')
    })
    t.equal(hit, undefined, `${source} is sent to the build (not excluded by .dockerignore)`)
  }
  // What the running demo reads besides the compiled code.
  t.ok(sources.includes('demo/public'), 'the static files are copied')
  t.ok(sources.includes('package-lock.json'), 'npm ci has the lock file')
  t.ok(sources.includes('demo/package.json'), 'the demo workspace with its runtime dependencies')
  for (const pattern of ['node_modules', 'dist', '.git']) t.ok(ignored.includes(pattern), `${pattern} stays out of the build context`)
})

t.test('the workspace lists every package the demo imports at run time', async (t) => {
  const root = JSON.parse(read('package.json')) as { dependencies: Record<string, string> }
  const demo = JSON.parse(read('demo/package.json')) as { dependencies: Record<string, string> }
  const runtime = new Set([...Object.keys(root.dependencies), ...Object.keys(demo.dependencies)])
  for (const file of ['demo/app.ts', 'demo/server.ts']) {
    for (const [, name] of read(file).matchAll(/^import\s+(?!type\b)[^'"]*from\s+'([^'.][^']*)'/gm)) {
      if (name.startsWith('node:')) continue
      const pkg = name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0]
      t.ok(runtime.has(pkg), `${file} imports ${pkg}, a production dependency`)
    }
  }
})

t.test('Dockerfile: every stage runs a Node that package.json engines supports', async (t) => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node
  const floor = engines.match(/^>=(\d+)\.(\d+)\.\d+$/)
  t.ok(floor, `engines.node is a floor (${engines})`)
  const stages = parseDockerfile(read('Dockerfile'))
  for (const stage of stages) {
    const from = stage.from
    const tag = from.match(/^node:(\d+)(?:\.(\d+))?[^\s]*/)
    t.ok(tag, `an official node image: ${from}`)
    if (tag === null || floor === null) continue
    const major = Number(tag[1])
    // A bare major tag (node:22-…) is that line's latest release, past any minor floor within it.
    const minor = tag[2] === undefined ? Infinity : Number(tag[2])
    t.ok(major > Number(floor[1]) || (major === Number(floor[1]) && minor >= Number(floor[2])), `${from} satisfies engines ${engines}`)
    t.ok([22, 24].includes(major), `and is a Node the suite runs on (scripts/test-all.mjs): ${major}`)
  }
})
