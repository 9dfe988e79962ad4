// Makes the built package resolvable by its name, `fastify-redis-hash-session`, from the type tests under test/types
// (each app is a package of its own, so the repository's self-reference does not reach it):
// <dir>/node_modules/fastify-redis-hash-session/ holds links to the repository's package.json and dist/,
// which is what an installed copy holds. <dir> defaults to this directory.
import { mkdirSync, rmSync, symlinkSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const dir = resolve(process.argv[2] ?? dirname(fileURLToPath(import.meta.url)))
const target = join(dir, 'node_modules', 'fastify-redis-hash-session')
rmSync(target, { recursive: true, force: true })
mkdirSync(target, { recursive: true })
symlinkSync(join(root, 'package.json'), join(target, 'package.json'))
symlinkSync(join(root, 'dist'), join(target, 'dist'), 'dir')
