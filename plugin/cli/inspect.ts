// One session as the CLI shows it, read through the store (never sliding it): its reserved fields
// as times, its own TTL and what is left of it, its size, and its application fields decoded.
import { decodeValue, type JsonValue } from '../codec'
import { CREATED_AT, LAST_ACCESSED_AT, RESERVED_FIELDS, SESSION_EXPIRES, SESSION_TTL, type RedisSessionStore, isValidId, parseTtl } from '../store'
import { SESSION_LABEL, SESSION_USER } from '../user-index'

export interface Inspected {
  id: string
  /** The public handle (as the application's session list shows it). */
  handle: string
  key: string
  /** The user it is filed under (setUser), and its label. */
  user: string | null
  label: string | null
  createdAt: string | null
  lastAccessedAt: string | null
  /** The session's own idle TTL in seconds. */
  ttl: number
  /** Seconds before Redis expires the key; -1 when it has no expiry (which the plugin never leaves). */
  expiresIn: number
  /** When the key expires if nothing touches it again; null without an expiry. */
  expiresAt: string | null
  /** With absoluteTtl: when the session ends however active it is. */
  endsAt: string | null
  /** Bytes of field names and values (reserved fields included): what the session holds, not what Redis spends on it. */
  bytes: number
  /** The application's fields, decoded as the plugin reads them. */
  fields: Record<string, JsonValue>
}

/** The session, or null when there is none at the ID (expired, deleted, or a rotation marker). */
export async function inspect (store: RedisSessionStore, id: string, now = Date.now()): Promise<Inspected | null> {
  const [stored, expiresIn] = await Promise.all([store.getSession(id, { refreshTtl: false }), store.remainingTtl(id)])
  if (stored === null || expiresIn === -2) return null
  const fields: Record<string, JsonValue> = {}
  let size = 0
  for (const [field, value] of Object.entries(stored)) {
    size += Buffer.byteLength(field) + Buffer.byteLength(value)
    if (!RESERVED_FIELDS.has(field)) fields[field] = decodeValue(value)
  }
  return {
    id,
    handle: store.handle(id),
    key: store.key(id),
    user: stored[SESSION_USER] ?? null,
    label: stored[SESSION_LABEL] ?? null,
    createdAt: stored[CREATED_AT] ?? null,
    lastAccessedAt: stored[LAST_ACCESSED_AT] ?? null,
    ttl: parseTtl(stored[SESSION_TTL]) ?? store.ttl,
    expiresIn,
    expiresAt: expiresIn < 0 ? null : new Date(now + expiresIn * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    endsAt: stored[SESSION_EXPIRES] === undefined ? null : new Date(Number(stored[SESSION_EXPIRES]) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    bytes: size,
    fields
  }
}

/**
 * What the CLI prints of a session: without --show-ids, neither its ID nor its key (which holds the
 * ID unless the app hashes IDs): an ID is a working cookie, so output pasted into a ticket or a CI log
 * must not carry it. The handle identifies the session to show and delete.
 */
export function withoutIds (session: Inspected, showIds: boolean): Partial<Inspected> {
  if (showIds) return session
  const { id: _id, key: _key, ...rest } = session
  return rest
}

/** "2026-12-03T07:12:03Z (5 min ago)" */
export function when (iso: string | null, now = Date.now()): string {
  if (iso === null) return '-'
  const at = Date.parse(iso)
  if (Number.isNaN(at)) return iso
  const seconds = Math.round((now - at) / 1000)
  const short = new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z')
  return seconds >= 0 ? `${short} (${ago(seconds)})` : short
}

function ago (seconds: number): string {
  if (seconds < 60) return `${seconds} s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`
  return `${Math.floor(seconds / 86400)} d ago`
}

/**
 * Sessions inspected a page at a time (one page of commands in flight at once): from a scan of every
 * master, or with `user` from that user's index (only sessions still filed under the user).
 */
export async function * pages (store: RedisSessionStore, pageSize: number, onScanned: (n: number) => void, user?: string): AsyncGenerator<Inspected[]> {
  let batch: string[] = []
  let scanned = 0
  const flush = async (): Promise<Inspected[]> => {
    const found = await Promise.all(batch.map((id) => inspect(store, id)))
    batch = []
    return found.filter((s): s is Inspected => s !== null && (user === undefined || s.user === user))
  }
  const ids = user === undefined ? store.sessionIds({ count: pageSize }) : await store.userMembers(user)
  for await (const id of ids) {
    batch.push(id)
    scanned++
    if (batch.length === pageSize) {
      onScanned(scanned)
      yield await flush()
    }
  }
  onScanned(scanned)
  if (batch.length > 0) yield await flush()
}

const HASHED = /^[0-9a-f]{64}$/

/** The session ID behind an ID or a public handle (looked up in --user's index, else by a scan); undefined when none. */
export async function resolve (store: RedisSessionStore, idOrHandle: string, user: string | undefined): Promise<string | undefined> {
  // An ID (or, with --hash-ids, the hash that names its key) is itself; a handle is 22 characters.
  if (isValidId(idOrHandle) || HASHED.test(idOrHandle)) return idOrHandle
  const ids = user === undefined ? store.sessionIds() : await store.userMembers(user)
  for await (const id of ids) if (store.handle(id) === idOrHandle) return id
  return undefined
}
