// Signed cookies (the `secret` option): the cookie carries `<id>.<signature>`, an HMAC-SHA256 by
// @fastify/cookie's signer. The first secret signs; every listed secret verifies, so secrets rotate
// without logging anyone out: a cookie signed with an older one is re-signed on its next response.
// A cookie that is unsigned, tampered with or signed with no listed secret is no session, decided
// before anything is sent to Redis. Redis holds the bare ID; the signature is only in the cookie.
import { Signer } from '@fastify/cookie'

/** What a request's cookie verified to. */
export interface Verified {
  /** The session ID, or '' when the signature does not check out (no session, but a cookie to clear). */
  id: string
  /** Signed with a secret other than the first: sign it again on this response. */
  renew: boolean
}

const REJECTED: Verified = Object.freeze({ id: '', renew: false })

export class CookieSigner {
  readonly #signer: Signer

  constructor (secrets: readonly string[]) {
    this.#signer = new Signer([...secrets], 'sha256')
  }

  /** The cookie value for an ID. */
  sign (id: string): string {
    return this.#signer.sign(id)
  }

  verify (value: string): Verified {
    const result = this.#signer.unsign(value)
    if (!result.valid || result.value === null) return REJECTED
    return { id: result.value, renew: result.renew }
  }
}
