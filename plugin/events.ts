// Session lifecycle events, for audit logs and tracing: the store (fastify.sessionStore) emits them,
// and each is also published on a node:diagnostics_channel channel, so a tracing tool can subscribe
// without a reference to the store. An event names the session by its public handle (never the ID)
// and its user, when it is filed under one.
import { channel } from 'node:diagnostics_channel'

export interface SessionEvent {
  /** The session's public handle (see listUserSessions()): not usable as a cookie. */
  handle: string
  /** The user the session is filed under, if any. */
  user: string | undefined
}

export interface RegeneratedEvent extends SessionEvent {
  /** The handle of the ID it moved from. */
  previous: string
}

export interface SessionEvents {
  /** A new session: create(), a first write, regenerate() without a session, or the store's createSession(). */
  created: [SessionEvent]
  /** regenerate(): the session moved to a new ID. */
  regenerated: [RegeneratedEvent]
  /** The renewal timeout (rotateAfter): the plugin moved the session to a new ID during a request. */
  rotated: [RegeneratedEvent]
  /** A session ended on purpose: destroy(), deleteSession(), destroyUserSession(s), or a login over it. */
  destroyed: [SessionEvent]
  /**
   * Redis expired the session (idle or absolute timeout), from its keyspace notifications, with the
   * expiredEvents option only; best-effort (see the README). Its user is undefined: the hash is gone.
   */
  expired: [SessionEvent]
}

export type SessionEventName = keyof SessionEvents

/** The diagnostics_channel names: `fastify-redis-hash-session:created` and so on. */
export const CHANNELS = {
  created: channel('fastify-redis-hash-session:created'),
  regenerated: channel('fastify-redis-hash-session:regenerated'),
  rotated: channel('fastify-redis-hash-session:rotated'),
  destroyed: channel('fastify-redis-hash-session:destroyed'),
  expired: channel('fastify-redis-hash-session:expired')
} as const
