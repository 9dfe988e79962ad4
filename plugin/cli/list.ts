// `list`: the sessions under the prefix, from a SCAN of every master, up to --limit.
import type { RedisSessionStore } from '../store'
import { type Inspected, pages, when, withoutIds } from './inspect'
import { type Output, Progress, bytes, cell, duration, table } from './output'

export interface ListOptions {
  /** 0: no limit. */
  limit: number
  pageSize: number
  /** Only this user's sessions, from the user's index. */
  user: string | undefined
  json: boolean
  /** Print session IDs (bearer credentials, unless the app signs its cookies); otherwise handles only. */
  showIds: boolean
  progress: boolean | undefined
}

export async function list (store: RedisSessionStore, output: Output, options: ListOptions): Promise<void> {
  const progress = new Progress(output, options.progress)
  const shown: Inspected[] = []
  let more = false
  let scanned = 0
  for await (const page of pages(store, options.pageSize, (n) => { scanned = n; progress.tick(n) }, options.user)) {
    for (const session of page) {
      // One beyond the limit tells that there are more.
      if (options.limit > 0 && shown.length === options.limit) more = true
      else shown.push(session)
    }
    if (more) break
  }
  progress.done(scanned)

  if (options.json) {
    output.out(JSON.stringify({ prefix: store.prefix, sessions: shown.map((s) => withoutIds(s, options.showIds)), more }, null, 2) + '\n')
    return
  }
  if (shown.length === 0) {
    output.out(options.user === undefined ? `No sessions under the prefix "${store.prefix}".\n` : `No sessions of the user "${options.user}" under the prefix "${store.prefix}".\n`)
    return
  }
  const now = Date.now()
  output.out(table(
    [options.showIds ? 'ID' : 'HANDLE', 'USER', 'CREATED', 'LAST SEEN', 'EXPIRES IN', 'TTL', 'FIELDS', 'SIZE'],
    shown.map((s) => [
      options.showIds ? s.id : s.handle,
      s.user === null ? '-' : cell(s.user, 24),
      when(s.createdAt, now),
      when(s.lastAccessedAt, now),
      s.expiresIn < 0 ? 'never (no TTL!)' : duration(s.expiresIn),
      duration(s.ttl),
      String(Object.keys(s.fields).length),
      bytes(s.bytes)
    ]),
    new Set([6, 7])
  ))
  output.out(more
    ? `${shown.length} sessions shown; there are more (--limit ${options.limit}; --limit 0 lists all).\n`
    : `${shown.length} ${shown.length === 1 ? 'session' : 'sessions'}.\n`)
}
