// `show <id>`: one session, its reserved fields as times, its expiry and size, its fields decoded.
import type { RedisSessionStore } from '../store'
import { CliError, EXIT } from './errors'
import { inspect, resolve, when, withoutIds } from './inspect'
import { type Output, bytes, cell, duration, pairs, table } from './output'

export async function show (store: RedisSessionStore, output: Output, idOrHandle: string, user: string | undefined, json: boolean, showIds: boolean): Promise<void> {
  const id = await resolve(store, idOrHandle, user)
  const session = id === undefined ? null : await inspect(store, id)
  if (session === null) throw new CliError(EXIT.NOT_FOUND, `no session at that ID under the prefix "${store.prefix}" (expired, ended, or the wrong --prefix)`)
  const memory = await store.memoryUsage(session.id)
  if (json) {
    output.out(JSON.stringify({ ...withoutIds(session, showIds), memory }, null, 2) + '\n')
    return
  }
  const now = Date.now()
  const expiry = session.expiresIn < 0
    ? 'never: the key has no TTL (the plugin never leaves one so; something else wrote it)'
    : `in ${duration(session.expiresIn)} (${session.expiresAt as string}) unless used again`
  output.out(pairs([
    ...(showIds ? [['key', session.key] as [string, string]] : []),
    ['handle', session.handle],
    ['user', session.user === null ? '- (not filed under a user)' : `${session.user}${session.label === null ? '' : ` (${cell(session.label, 80)})`}`],
    ['created', when(session.createdAt, now)],
    ['last seen', when(session.lastAccessedAt, now)],
    ['idle TTL', `${duration(session.ttl)} (${session.ttl} s)`],
    ['expires', expiry],
    ['ends', session.endsAt === null ? 'no absolute end (absoluteTtl was not set when it was created)' : `at ${session.endsAt} however active (absoluteTtl)`],
    ['size', `${bytes(session.bytes)} of fields; ${memory === null ? '?' : bytes(memory)} in Redis (MEMORY USAGE)`]
  ]))
  const fields = Object.entries(session.fields)
  output.out('\n')
  if (fields.length === 0) {
    output.out('No application fields.\n')
    return
  }
  output.out(table(['FIELD', 'VALUE'], fields.map(([field, value]) =>
    [cell(field, 40), cell(typeof value === 'string' ? value : JSON.stringify(value), 100)])))
}
