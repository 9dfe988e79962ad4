// Every error this package raises, created once. Tests assert `err.code`, never the message text.
import createError from '@fastify/error'

/** An option passed to register() or to `new RedisSessionStore()` is missing or wrong. */
export const InvalidOptionError = createError<'FST_REDIS_SESSION_INVALID_OPTION', 500, [string, string]>(
  'FST_REDIS_SESSION_INVALID_OPTION',
  'Invalid option "%s": %s',
  500,
  TypeError
)

/** The application tried to write or delete `created_at`, `last_accessed_at` or `session_ttl`. */
export const ReservedFieldError = createError<'FST_REDIS_SESSION_RESERVED_FIELD', 500, [string]>(
  'FST_REDIS_SESSION_RESERVED_FIELD',
  'Session field "%s" is reserved by fastify-redis-hash-session and cannot be written or deleted; pick another field name. Nothing was written.',
  500,
  TypeError
)

/** A field name is empty or not a string. */
export const InvalidFieldError = createError<'FST_REDIS_SESSION_INVALID_FIELD', 500, [string]>(
  'FST_REDIS_SESSION_INVALID_FIELD',
  'Invalid session field name: %s. Field names are non-empty strings. Nothing was written.',
  500,
  TypeError
)

/** A value is not a string, a finite number or a boolean. */
export const InvalidValueError = createError<'FST_REDIS_SESSION_INVALID_VALUE', 500, [string, string]>(
  'FST_REDIS_SESSION_INVALID_VALUE',
  'Invalid value for session field "%s": %s. Values are JSON: strings, finite numbers, booleans, null, arrays and plain objects. Nothing was written.',
  500,
  TypeError
)

/** A field name or value is over the configured byte limit. */
export const FieldTooLargeError = createError<'FST_REDIS_SESSION_FIELD_TOO_LARGE', 413, [string, number, number, string]>(
  'FST_REDIS_SESSION_FIELD_TOO_LARGE',
  'Session field %s is %d bytes, over the limit of %d; store large data elsewhere or raise the "%s" option. Nothing was written.',
  413
)

/** A TTL is not a whole number of seconds in range. */
export const InvalidTtlError = createError<'FST_REDIS_SESSION_INVALID_TTL', 500, [string]>(
  'FST_REDIS_SESSION_INVALID_TTL',
  'Invalid session TTL %s: use a whole number of seconds from 1 to 2147483647.',
  500,
  RangeError
)

/** setTtl(), regenerate() and friends need a session that exists in Redis. */
export const NoSessionError = createError<'FST_REDIS_SESSION_NO_SESSION', 409, [string]>(
  'FST_REDIS_SESSION_NO_SESSION',
  'session.%s() needs a live session and this request has none; call session.create() first.',
  409
)

/** The session was destroyed or expired by another request while this one ran. */
export const SessionGoneError = createError<'FST_REDIS_SESSION_GONE', 409>(
  'FST_REDIS_SESSION_GONE',
  'The session was destroyed or expired while this request ran, so nothing was written; start a new one with session.create().',
  409
)

/**
 * The session cannot be used here: the route opted out (`config: { session: false }`), or a hook
 * that runs before the plugin's onRequest tried to change it.
 */
export const SessionNotLoadedError = createError<'FST_REDIS_SESSION_NOT_LOADED', 500, [string, string]>(
  'FST_REDIS_SESSION_NOT_LOADED',
  'session.%s() cannot be used here: %s',
  500
)

/** A change that would start a session after the reply was sent or hijacked: its cookie could never reach the browser. */
export const ReplySentError = createError<'FST_REDIS_SESSION_REPLY_SENT', 500, [string]>(
  'FST_REDIS_SESSION_REPLY_SENT',
  'session.%s() would start a session after the reply was sent or hijacked, so the browser could never get its cookie. Nothing was written. Call it before reply.hijack() and send session.setCookieHeader() with your own response.',
  500
)

/** HINCRBY on a field that does not hold an integer. */
export const NotAnIntegerError = createError<'FST_REDIS_SESSION_NOT_AN_INTEGER', 500, [string]>(
  'FST_REDIS_SESSION_NOT_AN_INTEGER',
  'Session field "%s" does not hold an integer (or the increment would overflow 64 bits), so it cannot be incremented. Nothing was written.',
  500
)

/** An increment whose result JavaScript could not hold exactly. */
export const UnsafeIntegerError = createError<'FST_REDIS_SESSION_UNSAFE_INTEGER', 500, [string]>(
  'FST_REDIS_SESSION_UNSAFE_INTEGER',
  'Incrementing session field "%s" would leave the range of exact JavaScript integers (±9007199254740991). Nothing was written.',
  500,
  RangeError
)

/**
 * Redis is out of reach, did not answer within the request's `timeout`, or is in a state that
 * passes (loading, out of memory, a replica, a failover). The second part says what became of the
 * call: nothing was sent, or a write was sent and its outcome is unknown.
 */
export const RedisUnavailableError = createError<'FST_REDIS_SESSION_UNAVAILABLE', 503, [string, string]>(
  'FST_REDIS_SESSION_UNAVAILABLE',
  'The session store is unavailable (%s). %s',
  503
)

// What a 503 means for the call that got it.
export const NOT_SENT = 'Nothing was sent; retry shortly.'
export const RETRY = 'Retry shortly.'
export const NOTHING_WRITTEN = 'Nothing was written; retry shortly.'
export const OUTCOME_UNKNOWN = 'The write was sent but not confirmed, so it may or may not have been applied; read the session again before you retry it.'

/** A store call that failed before anything reached Redis (so it certainly changed nothing). */
export function notSent (err: unknown): boolean {
  return err instanceof Error && (err as { code?: string }).code === 'FST_REDIS_SESSION_UNAVAILABLE' && err.message.endsWith(NOT_SENT)
}

/** A write would take the session past maxFields or maxSessionBytes; nothing was written. */
export const SessionTooLargeError = createError<'FST_REDIS_SESSION_TOO_LARGE', 413, [string, string, number, string]>(
  'FST_REDIS_SESSION_TOO_LARGE',
  'The session would hold %s %s, more than the %s the %s option allows; nothing was written. Store less in the session (keep large data in your database), or raise the option.',
  413,
  RangeError
)

/** Redis answered with an error we do not expect (a key of another type under the prefix, say). */
export const RedisReplyError = createError<'FST_REDIS_SESSION_REDIS_ERROR', 500, [string]>(
  'FST_REDIS_SESSION_REDIS_ERROR',
  'Redis refused a session command (%s). Check that nothing else writes keys under the session prefix.',
  500
)

/** The plugin was given a URL and could not connect at start-up. */
export const ConnectError = createError<'FST_REDIS_SESSION_CONNECT', 500, [string, string]>(
  'FST_REDIS_SESSION_CONNECT',
  'Could not connect to Redis at %s (%s). Start Redis (for example `redis-server`) or pass the right URL.',
  500
)
