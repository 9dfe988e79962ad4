#!/usr/bin/env node
// The `fastify-redis-hash-session` command (package.json "bin"): see main.ts, or run it with --help.
import { main } from './main'

// The reader went away (`… | head`): stop quietly, as the standard tools do; any other failure to
// write is one line, like every other error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  process.stderr.write(`fastify-redis-hash-session: could not write the output (${err.message})\n`)
  process.exit(1)
})

main(process.argv.slice(2), process.env, {
  out: (text) => { process.stdout.write(text) },
  err: (text) => { process.stderr.write(text) },
  errIsTTY: process.stderr.isTTY === true
}).then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`fastify-redis-hash-session: ${String(err)}\n`)
  process.exitCode = 1
})
