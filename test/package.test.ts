// What `npm pack` ships: the built plugin and its types, nothing else (no sources, tests, demo or bench), with
// source maps that carry their sources (tsconfig.build.json: inlineSources), and the metadata npm shows.
// `--ignore-scripts` lists the dist/ that npm test has just built: the `prepack` build (which empties dist/ first)
// must not run here, while other test files load dist/.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const root = join(__dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

t.before(() => {
  if (!existsSync(join(root, 'dist/plugin/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
})

async function packed (): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root, env: { ...process.env, npm_config_loglevel: 'silent' }, timeout: 60_000
  })
  const [result] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
  return result.files.map((f) => f.path).sort()
}

/** Every file named by "main", "types" and "exports". */
function entries (): string[] {
  const found = new Set<string>([pkg.main, pkg.types])
  const walk = (value: unknown): void => {
    if (typeof value === 'string') found.add(value)
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk)
  }
  walk(pkg.exports)
  return [...found].map((p) => p.replace(/^\.\//, '')).sort()
}

t.test('package.json: prepack builds, metadata for the registry page', async (t) => {
  t.match(pkg.scripts.prepack, /npm run build$/, 'prepack builds')
  t.match(pkg.scripts.prepack, /rmSync\('dist'/, 'from an empty dist/, so no stale output is shipped')
  t.same(pkg.repository, { type: 'git', url: 'git+https://github.com/fastify-redis-hash-session/fastify-redis-hash-session.git' })
  t.equal(pkg.homepage, 'https://github.com/fastify-redis-hash-session/fastify-redis-hash-session#readme')
  t.same(pkg.bugs, { url: 'https://github.com/fastify-redis-hash-session/fastify-redis-hash-session/issues' })
  t.same(pkg.files, ['dist/plugin'])
  t.same(Object.keys(pkg.exports['.']), ['import', 'require'])
  for (const condition of ['import', 'require']) {
    t.same(Object.keys(pkg.exports['.'][condition]), ['types', 'default'], `${condition}: types first, then default`)
  }
})

t.test('npm pack ships the built plugin, its types and maps, and nothing else', async (t) => {
  const files = await packed()
  const set = new Set(files)

  for (const file of ['package.json', 'README.md', 'LICENSE']) t.ok(set.has(file), file)
  for (const entry of entries()) t.ok(set.has(entry), `entry ${entry} is shipped`)
  t.ok(set.has('dist/plugin/index.mjs') && set.has('dist/plugin/index.d.mts'), 'the ES-module entry and its types')
  // The inspection CLI: npm links "bin" into node_modules/.bin and makes it executable on install.
  const bin = pkg.bin['fastify-redis-hash-session']
  t.ok(set.has(bin), `the CLI ${bin} is shipped`)
  t.match(readFileSync(join(root, bin), 'utf8'), /^#!\/usr\/bin\/env node\n/, 'with a shebang')

  const others = files.filter((f) => !['package.json', 'README.md', 'LICENSE'].includes(f))
  t.same(others.filter((f) => !f.startsWith('dist/plugin/')), [], 'everything else is under dist/plugin/')
  t.same(files.filter((f) => /(^|\/)(test|demo|bench)(\/|$)|\.test\.|test-d/.test(f)), [], 'no test, demo or bench files')
  t.same(files.filter((f) => /\.[cm]?ts$/.test(f) && !/\.d\.[cm]?ts$/.test(f)), [], 'no TypeScript sources, only declarations')

  // Each module: its JavaScript, its declarations and its map, and a source it was built from (no stale output).
  const modules = others.filter((f) => /\.[cm]?js$/.test(f))
  t.ok(modules.length >= 10, `${modules.length} modules`)
  for (const js of modules) {
    const base = js.replace(/\.([cm]?)js$/, '')
    const ext = /\.([cm]?)js$/.exec(js)![1]
    t.ok(set.has(`${base}.d.${ext}ts`), `${js} has its declarations`)
    t.ok(set.has(`${js}.map`), `${js} has its map`)
    const source = join(root, 'plugin', base.slice('dist/plugin/'.length) + `.${ext}ts`)
    t.ok(existsSync(source), `${js} is built from ${source.slice(root.length + 1)} (else stale: rm -rf dist && npm run build)`)
    t.match(readFileSync(join(root, js), 'utf8'), new RegExp(`//# sourceMappingURL=${js.split('/').pop()!.replace(/\./g, '\\.')}\\.map\\s*$`), `${js} points at its map`)
  }
  const expected = new Set(modules.flatMap((js) => [js, `${js}.map`, js.replace(/\.([cm]?)js$/, '.d.$1ts')]))
  t.same(others.filter((f) => !expected.has(f)), [], 'no file beyond the modules, their maps and declarations')

  // Maps carry their sources, so a stack trace or a debugger shows the TypeScript without the sources shipped.
  for (const map of others.filter((f) => f.endsWith('.map'))) {
    const { sources, sourcesContent } = JSON.parse(readFileSync(join(root, map), 'utf8'))
    t.ok(Array.isArray(sourcesContent) && sourcesContent.length === sources.length &&
      sourcesContent.every((s: unknown) => typeof s === 'string' && s.length > 0), `${map} embeds its sources`)
  }
})
