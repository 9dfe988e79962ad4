// `delete <id>`: end one session now (its key is deleted; the browser's next request has no session).
import type { RedisSessionStore } from '../store'
import { CliError, EXIT } from './errors'
import { inspect, resolve } from './inspect'
import type { Output } from './output'

export async function remove (store: RedisSessionStore, output: Output, idOrHandle: string, user: string | undefined, json: boolean): Promise<void> {
  const id = await resolve(store, idOrHandle, user)
  const session = id === undefined ? null : await inspect(store, id)
  if (id === undefined || session === null || !await store.deleteSession(id)) {
    throw new CliError(EXIT.NOT_FOUND, `no session at that ID under the prefix "${store.prefix}" (expired, ended, or the wrong --prefix)`)
  }
  // Its user's index no longer lists it (the application's next listing would prune it anyway).
  if (session.user !== null) await store.destroyUserSession(session.user, session.handle)
  output.out(json ? JSON.stringify({ deleted: 1 }) + '\n' : 'Deleted 1 session.\n')
}

/** `delete-user <userId>`: log a user out everywhere (every session in the user's index). */
export async function removeUser (store: RedisSessionStore, output: Output, user: string, json: boolean): Promise<void> {
  const deleted = await store.destroyUserSessions(user)
  if (deleted === 0) throw new CliError(EXIT.NOT_FOUND, `no sessions of the user "${user}" under the prefix "${store.prefix}"`)
  output.out(json ? JSON.stringify({ deleted }) + '\n' : `Deleted ${deleted} ${deleted === 1 ? 'session' : 'sessions'} of the user "${user}".\n`)
}
