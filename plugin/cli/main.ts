// The command line: parse (node:util parseArgs), connect, run one command through the plugin's own
// RedisSessionStore, and answer with an exit code. Everything it prints goes through `output`.
import { parseArgs } from 'node:util'
import { RedisSessionStore, isValidId, kByHash } from '../store'
import { connect } from './connect'
import { remove, removeUser } from './delete'
import { CliError, EXIT } from './errors'
import { list } from './list'
import type { Output } from './output'
import { show } from './show'
import { stats } from './stats'

export const USAGE = `Usage: fastify-redis-hash-session <command> [options]

Inspect the sessions fastify-redis-hash-session keeps in Redis.

Commands
  list                 the sessions under the prefix (SCAN of every master, never KEYS)
  show <id|handle>     one session: user, times, expiry, size, its fields decoded
  stats                count, expiry and size histograms, memory per session, common fields
  delete <id|handle>   end one session now
  delete-user <user>   end every session of a user (log out everywhere)

Connection (as the application's options)
  --url <url>          redis:// or rediss:// URL (default: $REDIS_URL, else redis://127.0.0.1:6379)
  --cluster <nodes>    Redis Cluster seed nodes, host:port[,host:port...]
  --sentinel <nodes>   Sentinels, host:port[,host:port...], with --sentinel-name
  --sentinel-name <n>  the master's name at the Sentinels (default: mymaster)
  --prefix <prefix>    the plugin's prefix option (default: session:)
  --hash-ids           the application has hashIds: true (keys hold the IDs' SHA-256)
  --redis-user <name>  ACL user for --cluster/--sentinel nodes; the password comes from $REDISCLI_AUTH
                       (as for redis-cli), never from the command line (a --url carries its own)
  --tls                connect to --cluster/--sentinel nodes over TLS (a --url says rediss://)
  --timeout <ms>       wait at most this long for each Redis call (default: 5000)

Output
  --json               one JSON document on stdout, for scripts
  --show-ids           print session IDs and keys (each ID is a working cookie unless the app signs
                       them); without it sessions are shown by their handles
  --user <user>        list: only this user's sessions; show/delete: find a handle in this user's index
  --limit <n>          list: at most n sessions (default: 100; 0 for all)
  --page-size <n>      keys per SCAN step and sessions read at once (default: 500)
  --sample <n>         stats: sessions asked for MEMORY USAGE (default: 200)
  --progress           a progress line on stderr during scans (default: on a terminal only)
  --no-progress        never one
  -h, --help           this text

Exit codes: 0 done, 1 unexpected failure, 2 wrong usage, 3 no such session, 4 Redis unreachable.
`

// A public handle (listUserSessions, show): 22 characters of base64url.
const HANDLE = /^[A-Za-z0-9_-]{22}$/
const HASHED = /^[0-9a-f]{64}$/

const OPTIONS = {
  url: { type: 'string' },
  cluster: { type: 'string' },
  sentinel: { type: 'string' },
  'sentinel-name': { type: 'string' },
  'redis-user': { type: 'string' },
  tls: { type: 'boolean' },
  prefix: { type: 'string' },
  'hash-ids': { type: 'boolean' },
  'show-ids': { type: 'boolean' },
  user: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  'page-size': { type: 'string' },
  sample: { type: 'string' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

/**
 * A session ID or handle may start with "-" (base64url), which parseArgs would take for an option: a
 * word of exactly such a shape (no option is 22, 43 or 64 characters long) is moved behind "--".
 */
function positionalIds (argv: string[]): string[] {
  const end = argv.indexOf('--')
  const head = end === -1 ? argv : argv.slice(0, end)
  const tail = end === -1 ? [] : argv.slice(end + 1)
  const ids = head.filter((word) => word.startsWith('-') && (isValidId(word) || HANDLE.test(word)))
  if (ids.length === 0) return argv
  return [...head.filter((word) => !ids.includes(word)), '--', ...ids, ...tail]
}

function count (flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!/^\d{1,9}$/.test(value) || Number(value) < min) throw new CliError(EXIT.USAGE, `--${flag} expects a whole number of at least ${min}, got "${value}"`)
  return Number(value)
}

/** Run one command line; resolves to the exit code (never throws, never exits the process itself). */
export async function main (argv: string[], env: NodeJS.ProcessEnv, output: Output): Promise<number> {
  let redis: { disconnect: () => void } | undefined
  try {
    let parsed
    try {
      parsed = parseArgs({ args: positionalIds(argv), options: OPTIONS, allowPositionals: true, strict: true })
    } catch (err) {
      throw new CliError(EXIT.USAGE, `${(err as Error).message.split('\n')[0]} (see --help)`)
    }
    const { values, positionals } = parsed
    if (values.help === true || positionals.length === 0) {
      output.out(USAGE)
      return values.help === true ? EXIT.OK : EXIT.USAGE
    }
    const [command, ...rest] = positionals
    const wantsId = command === 'show' || command === 'delete'
    const wantsArgument = wantsId || command === 'delete-user'
    if (!['list', 'show', 'stats', 'delete', 'delete-user'].includes(command)) throw new CliError(EXIT.USAGE, `unknown command "${command}"; the commands are list, show, stats, delete and delete-user (see --help)`)
    if (rest.length !== (wantsArgument ? 1 : 0)) {
      throw new CliError(EXIT.USAGE, wantsId ? `${command} takes one session ID or handle` : wantsArgument ? `${command} takes one user ID` : `${command} takes no arguments`)
    }
    const hashIds = values['hash-ids'] === true
    const showIds = values['show-ids'] === true
    if (wantsId && !(hashIds ? HASHED.test(rest[0]) : isValidId(rest[0])) && !HANDLE.test(rest[0])) {
      throw new CliError(EXIT.USAGE, hashIds
        ? `${command}: with --hash-ids, give the 64 hex characters after the prefix (as list shows them) or a handle (22 characters of A-Z a-z 0-9 - _)`
        : `${command}: that is neither a session ID (43 characters of A-Z a-z 0-9 - _, as list shows them) nor a handle (22 such characters)`)
    }
    const user = command === 'delete-user' ? rest[0] : values.user
    if (user !== undefined && (user.length === 0 || Buffer.byteLength(user) > 512)) throw new CliError(EXIT.USAGE, 'a user ID is 1 to 512 bytes')
    if ([values.url, values.cluster, values.sentinel].filter((v) => v !== undefined).length > 1) {
      throw new CliError(EXIT.USAGE, 'give one of --url, --cluster and --sentinel')
    }
    const timeout = count('timeout', values.timeout, 5000, 1)
    const json = values.json === true
    const progress = values['no-progress'] === true ? false : values.progress === true ? true : undefined
    const pageSize = count('page-size', values['page-size'], 500, 1)
    const limit = count('limit', values.limit, 100, 0)
    const sample = count('sample', values.sample, 200, 0)
    const prefix = values.prefix ?? 'session:'
    // Checked before connecting: a wrong prefix is a usage error whether or not Redis is up.
    if (prefix.length === 0 || prefix.length > 256) throw new CliError(EXIT.USAGE, '--prefix expects the plugin\'s prefix option, 1 to 256 characters (default: session:)')

    const connected = await connect({
      url: values.url ?? (env.REDIS_URL === '' ? undefined : env.REDIS_URL),
      cluster: values.cluster,
      sentinel: values.sentinel,
      sentinelName: values['sentinel-name'] ?? 'mymaster',
      username: values['redis-user'],
      password: env.REDISCLI_AUTH === undefined || env.REDISCLI_AUTH === '' ? undefined : env.REDISCLI_AUTH,
      tls: values.tls === true,
      timeout
    })
    redis = connected.redis
    // With --hash-ids the keys hold the IDs' hashes: the store then takes those hashes where it takes IDs.
    const store = new RedisSessionStore({ redis: connected.redis, prefix, timeout, ...(hashIds ? { [kByHash]: true } : {}) })
    switch (command) {
      case 'list': await list(store, output, { limit, pageSize, user, json, showIds, progress }); break
      case 'show': await show(store, output, rest[0], user, json, showIds); break
      case 'stats': await stats(store, output, { pageSize, sample, json, progress }); break
      case 'delete': await remove(store, output, rest[0], user, json); break
      case 'delete-user': await removeUser(store, output, rest[0], json); break
    }
    return EXIT.OK
  } catch (err) {
    const e = err as Error & { code?: string, exitCode?: number }
    if (e instanceof CliError) {
      output.err(`fastify-redis-hash-session: ${e.message}\n`)
      return e.exitCode
    }
    if (e.code === 'FST_REDIS_SESSION_UNAVAILABLE') {
      output.err(`fastify-redis-hash-session: Redis stopped answering (${e.message}); try again, or raise --timeout\n`)
      return EXIT.UNREACHABLE
    }
    output.err(`fastify-redis-hash-session: ${e.code === undefined ? '' : e.code + ': '}${e.message}\n`)
    return EXIT.FAILED
  } finally {
    redis?.disconnect()
  }
}
