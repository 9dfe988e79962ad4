#!/usr/bin/env node
// The `fastify-redis-hash-session` command (package.json "bin"): see main.ts, or run it with --help.
import { main } from './main'

main(process.argv.slice(2), process.env, {
  out: (text) => { process.stdout.write(text) },
  err: (text) => { process.stderr.write(text) },
  errIsTTY: process.stderr.isTTY === true
}).then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`fastify-redis-hash-session: ${String(err)}\n`)
  process.exitCode = 1
})
