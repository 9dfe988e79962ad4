// The built package works from both import and require(), by its own name (package.json "exports"): import
// loads the ES-module entry, which re-exports the CommonJS build's objects under every one of its names.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { newClient, uniquePrefix } from './helpers/build'
import { redisUrl } from './helpers/redis-server'

const run = promisify(execFile)
const root = join(__dirname, '..')

t.before(() => {
  if (!existsSync(join(root, 'dist/plugin/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
})

for (const fixture of ['esm.mjs', 'cjs.cjs']) {
  t.test(`${fixture}: default and named exports, a session created through the built package`, async (t) => {
    const redis = await newClient(t)
    const prefix = uniquePrefix()
    const { stdout } = await run(process.execPath, [join(__dirname, 'fixtures', fixture)], {
      cwd: root,
      env: { ...process.env, TEST_REDIS_URL: await redisUrl(), TEST_PREFIX: prefix, NODE_OPTIONS: '' },
      timeout: 20_000
    })
    const result = JSON.parse(stdout.trim().split('\n').pop()!)
    t.same({ ...result, id: undefined }, {
      defaultIsFunction: true,
      namedIsDefault: true,
      sameAsRequire: true,
      sameNames: true,
      entry: fixture.startsWith('esm') ? 'dist/plugin/index.mjs' : 'dist/plugin/index.js',
      store: 'function',
      errorCode: 'FST_REDIS_SESSION_UNAVAILABLE',
      status: 200,
      id: undefined
    })
    t.equal(await redis.hget(prefix + result.id, 'from'), fixture.startsWith('esm') ? 'esm' : 'cjs')
    await redis.del(prefix + result.id)
  })
}
