// Helpers for the demo's tests: the demo app on a real Redis with a unique key prefix, a cookie
// jar that posts forms like a browser does, and readers for what the HTML page holds.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { buildApp, type DemoOptions } from '../../demo/app'
import { Agent, newClient, uniquePrefix } from '../helpers/build'

interface Tap { teardown: (fn: () => Promise<void> | void) => void }

export interface Demo {
  app: FastifyInstance
  /** A client of the test's own, for asserting what Redis holds. */
  redis: Redis
  prefix: string
  key: (id: string) => string
}

export async function buildDemo (t: Tap, options: Partial<DemoOptions> & { url?: string } = {}): Promise<Demo> {
  const { url, ...rest } = options
  const redis = await newClient(t, url)
  // Tests that stop Redis on purpose expect connection errors: keep ioredis from printing them as unhandled.
  redis.on('error', () => {})
  const appClient = rest.redis ?? (await newClient(t, url)).on('error', () => {})
  const prefix = rest.prefix ?? uniquePrefix()
  const app = buildApp({ ...rest, redis: appClient, prefix })
  await app.ready()
  t.teardown(async () => {
    await app.close()
    // Leave nothing behind on a shared Redis (REDIS_URL).
    if (redis.status === 'ready') {
      const keys = await redis.keys(prefix + '*')
      if (keys.length > 0) await redis.del(...keys)
    }
  })
  return { app, redis, prefix, key: (id) => prefix + id }
}

/** A browser-like client: keeps the `sid` cookie and posts urlencoded forms. */
export class Browser extends Agent {
  form (url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.inject({
      method: 'POST',
      url,
      payload: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }
    })
  }

  /** Log in through the form and return the new session ID. */
  async login (username = 'ann', ttl = '60'): Promise<string> {
    const res = await this.form('/login', { username, ttl })
    if (res.statusCode !== 303 || this.sid === undefined) throw new Error(`login failed: ${res.statusCode} ${res.body.slice(0, 200)}`)
    return this.sid
  }

  /** GET / and the CSRF token its forms carry. */
  async csrf (): Promise<string> {
    const token = csrfToken((await this.get('/')).body)
    if (token === undefined) throw new Error('no _csrf field on the page')
    return token
  }
}

export function csrfToken (page: string): string | undefined {
  return /name="_csrf" value="([^"]+)"/.exec(page)?.[1]
}

/** The text of the element with this id (no nested elements), or undefined. */
export function textOf (page: string, id: string): string | undefined {
  return new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(page)?.[1]
}

/** The raw hash table on the session page, as field → value (HTML entities decoded). */
export function hashTable (page: string): Record<string, string> {
  const table = /<table class="hash" id="hash">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? ''
  const rows: Record<string, string> = {}
  for (const m of table.matchAll(/<tr><th scope="row"><code>([^<]*)<\/code>.*?<\/th><td><code>([^<]*)<\/code><\/td><\/tr>/g)) {
    rows[decode(m[1])] = decode(m[2])
  }
  return rows
}

export function decode (s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')
}

/** The session keys under a prefix: every key but the per-user indexes (`{prefix}user:…`), which outlive a deleted session until their own TTL. */
export async function sessionKeys (redis: Redis, prefix: string): Promise<string[]> {
  return (await redis.keys(prefix + '*')).filter((k) => !k.startsWith(prefix + 'user:'))
}
