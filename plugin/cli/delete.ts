// `delete <id>`: end one session now (its key is deleted; the browser's next request has no session).
import type { RedisSessionStore } from '../store'
import { CliError, EXIT } from './errors'
import type { Output } from './output'

export async function remove (store: RedisSessionStore, output: Output, id: string, json: boolean): Promise<void> {
  const deleted = await store.deleteSession(id)
  if (!deleted) throw new CliError(EXIT.NOT_FOUND, `no session at that ID under the prefix "${store.prefix}" (expired, ended, or the wrong --prefix)`)
  output.out(json ? JSON.stringify({ deleted: 1 }) + '\n' : 'Deleted 1 session.\n')
}
