// fastify-redis-hash-session: server-side sessions for Fastify, one Redis hash per session.
import fp from 'fastify-plugin'
import { plugin } from './plugin'

const redisSession = fp(plugin, {
  fastify: '5.x',
  name: 'fastify-redis-hash-session'
})

export default redisSession
export { redisSession }
export { RedisSessionStore, RESERVED_FIELDS, generateId, isValidId } from './store'
export { Session } from './session'
export { decodeValue, encodeValue } from './codec'
export type { JsonValue } from './codec'
export type { RegeneratedEvent, SessionEvent, SessionEvents } from './events'
// Listed by name (not `export *`) so Node's ESM loader can see each of them in the CommonJS build.
export {
  ConnectError, FieldTooLargeError, InvalidFieldError, InvalidOptionError, InvalidTtlError, InvalidValueError,
  NoSessionError, NotAnIntegerError, RedisReplyError, RedisUnavailableError, ReplySentError, ReservedFieldError, SessionTooLargeError,
  SessionGoneError, SessionNotLoadedError, UnsafeIntegerError
} from './errors'
export type {
  CreateSessionOptions, GetSessionOptions, RedisClient, RedisSessionOptions, RedisSessionStoreOptions,
  SessionCookieOptions, SessionCounterField, SessionData, SessionField, SessionFieldValue, SessionRecord,
  SessionValue, SetUserOptions, StoredSession, UserSession
} from './types'

// require() and a JavaScript default import get the plugin itself, carrying the named exports,
// as with Fastify's own plugins.
module.exports = Object.assign(redisSession, exports)
