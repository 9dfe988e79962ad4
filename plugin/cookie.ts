// The session cookie: its attributes are checked and turned into exact Set-Cookie strings once, at
// register time, by the `cookie` package's serializer (the one @fastify/cookie uses), so an option
// that would not serialize fails at boot and a request only joins the ID between a precomputed prefix
// and suffix. Every attribute is ours: @fastify/cookie's own parseOptions (signed, maxAge, ...) never
// reach it. The plugin does not register @fastify/cookie, so the application may register it (or
// not) before or after us.
import { parseCookie, stringifySetCookie } from 'cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { InvalidOptionError } from './errors'
import type { ResolvedCookieOptions } from './options'

function serialize (name: string, value: string, options: Record<string, unknown>): string {
  return stringifySetCookie({ name, value, ...options })
}

// A value the serializer leaves as it is, to split the probe cookie around.
const PROBE = 'PROBE'

export class SessionCookie {
  readonly name: string
  /** 'auto': Secure exactly when the request came over https. */
  readonly #auto: boolean
  readonly #prefix: string
  readonly #plainSuffix: string
  readonly #secureSuffix: string
  readonly #plainClear: string
  readonly #secureClear: string
  /** The cookie value for an ID: the ID itself, or the ID and its signature. */
  readonly #value: (id: string) => string

  constructor (name: string, options: ResolvedCookieOptions, value: (id: string) => string = (id) => id) {
    this.name = name
    this.#value = value
    this.#auto = options.secure === 'auto'
    const attributes = {
      path: options.path,
      domain: options.domain,
      httpOnly: options.httpOnly,
      sameSite: options.sameSite,
      maxAge: options.maxAge,
      partitioned: options.partitioned,
      priority: options.priority
    }
    const make = (value: string, secure: boolean, clear: boolean): string => {
      try {
        return serialize(name, value, clear
          ? { ...attributes, secure, maxAge: 0, expires: new Date(0) }
          : { ...attributes, secure })
      } catch (err) {
        throw new InvalidOptionError('cookie', `the cookie serializer refused these attributes (${(err as Error).message})`)
      }
    }
    // The "plain" forms are used unless secure is 'auto' and the request came over https.
    const plainSecure = options.secure === true
    this.#prefix = `${name}=`
    this.#plainSuffix = make(PROBE, plainSecure, false).slice(this.#prefix.length + PROBE.length)
    this.#secureSuffix = make(PROBE, true, false).slice(this.#prefix.length + PROBE.length)
    this.#plainClear = make('', plainSecure, true)
    this.#secureClear = make('', true, true)
  }

  /** The Set-Cookie value that gives the browser this ID. */
  header (request: FastifyRequest, id: string): string {
    return this.#prefix + this.#value(id) + (this.#secure(request) ? this.#secureSuffix : this.#plainSuffix)
  }

  /** The Set-Cookie value that makes the browser forget the cookie. */
  clearHeader (request: FastifyRequest): string {
    return this.#secure(request) ? this.#secureClear : this.#plainClear
  }

  set (reply: FastifyReply, id: string): void {
    // Fastify appends Set-Cookie values, so cookies set by the application are kept.
    reply.header('set-cookie', this.header(reply.request, id))
  }

  clear (reply: FastifyReply): void {
    reply.header('set-cookie', this.clearHeader(reply.request))
  }

  /** The cookie's value on the request, if any. */
  read (request: FastifyRequest): string | undefined {
    // When the application registered @fastify/cookie and its hook ran first, the header is parsed already.
    const cookies = (request as { cookies?: Record<string, string | undefined> | null }).cookies
    if (cookies != null) return cookies[this.name]
    const header = request.headers.cookie
    return header === undefined ? undefined : parseCookie(header)[this.name]
  }

  #secure (request: FastifyRequest): boolean {
    return this.#auto ? request.protocol === 'https' : false
  }
}
