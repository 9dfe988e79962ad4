// Type tests of the public API as a CommonJS TypeScript application sees the built package.
// Checked by `tsc` (npm run test:types): a line under @ts-expect-error that compiles fails the run.
import Fastify from 'fastify'
import { Cluster, Redis } from 'ioredis'
import redisSession, {
  RedisSessionStore, RedisUnavailableError, Session, type JsonValue, type RedisSessionOptions, type RegeneratedEvent,
  type SessionEvent, type StoredSession, type UserSession
} from 'fastify-redis-hash-session'

const app = Fastify()
app.register(redisSession, { redis: new Redis() })
app.register(redisSession, { redis: new Cluster([{ host: '127.0.0.1', port: 7000 }]) })
app.register(redisSession, {
  redis: 'redis://127.0.0.1:6379',
  prefix: 'session:app-a:',
  ttl: 1800,
  touchAfter: 60,
  cookieName: 'sid',
  cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 3600 },
  timeout: 2000,
  maxFieldNameBytes: 200,
  maxFieldValueBytes: 65536
})
// @ts-expect-error redis is required
app.register(redisSession, { ttl: 5 })
// @ts-expect-error unknown option
app.register(redisSession, { redis: new Redis(), tll: 5 })
// @ts-expect-error secure is a boolean or 'auto'
app.register(redisSession, { redis: new Redis(), cookie: { secure: 'yes' } })
app.register(redisSession, { redis: new Redis(), secret: 'a-secret-of-at-least-32-characters', clearSiteData: true })
app.register(redisSession, { redis: new Redis(), secret: ['the-new-secret-signs-new-cookies', 'the-old-secret-still-verifies-old'], cookieName: '__Host-sid', cookie: { secure: true } })
// @ts-expect-error secret is a string or an array of strings
app.register(redisSession, { redis: new Redis(), secret: Buffer.from('x') })
// @ts-expect-error clearSiteData is a boolean
app.register(redisSession, { redis: new Redis(), clearSiteData: 'yes' })
app.register(redisSession, { redis: new Redis(), absoluteTtl: 3600, hashIds: true, maxFields: 100, maxSessionBytes: 65536 })
// @ts-expect-error hashIds is a boolean
app.register(redisSession, { redis: new Redis(), hashIds: 1 })

const options: RedisSessionOptions = { redis: new Redis() }
export { options }

app.get('/', async (request) => {
  const session: Session = request.session
  const id: string | undefined = session.id
  const isNew: boolean = session.isNew
  const created: Date | undefined = session.createdAt
  const ttl: number = session.ttl
  // Without a SessionData augmentation any field name and any JSON value is fine.
  session.set('anything', 'x').set('n', 1).set('flag', true).set('none', null)
  session.set({ a: 1, b: 'two', c: [1, { d: 'e' }] })
  session.set('obj', { a: 1 })
  // @ts-expect-error a Date is not a JSON value
  session.set('when', new Date())
  // @ts-expect-error functions are not JSON values
  session.set('fn', () => 1)
  const value: JsonValue | undefined = session.get('anything')
  const data: Record<string, JsonValue> = session.data()
  const count: number = await session.increment('n')
  await session.increment('n', 5)
  await session.setTtl(60)
  const newId: string = await session.create({ username: 'ann' }, { ttl: 60 })
  const rotated: string = await session.regenerate()
  await session.destroy()
  await session.save()
  const left: number = await session.remainingTtl()
  return { id, isNew, created, ttl, value, data, count, newId, rotated, left }
})

app.get('/public', { config: { session: false } }, async () => 'ok')
app.post('/count', { config: { session: 'lazy' } }, async (request) => {
  const views: number = await request.session.increment('views')
  const loaded: void = await request.session.load()
  return { views, loaded }
})
// @ts-expect-error config.session is true, false or 'lazy'
app.get('/typo', { config: { session: 'lazzy' } }, async () => 'ok')

const store: RedisSessionStore = app.sessionStore
// @ts-expect-error the store decorator is read-only
app.sessionStore = store

async function standalone (): Promise<void> {
  const own = new RedisSessionStore({ redis: new Redis(), prefix: 'session:', ttl: 60 })
  const sid: string = await own.createSession({ username: 'andrew', page_views: 0 }, 15)
  const hash: StoredSession | null = await own.getSession(sid, { refreshTtl: false })
  const next: number | null = await own.incrementField(sid, 'page_views', 1)
  const changed: boolean = await own.setTtl(sid, 30)
  const configured: number | null = await own.getConfiguredTtl(sid)
  const deleted: boolean = await own.deleteSession(sid)
  console.log(hash, next, changed, configured, deleted)
  // Per-user sessions and events.
  const filed: boolean = await own.setUser(sid, 'ann', { label: 'laptop' })
  const sessions: UserSession[] = await own.listUserSessions('ann')
  const when: Date = sessions[0].expiresAt
  const ended: number = await own.destroyUserSessions('ann', { except: sessions[0].handle })
  const one: boolean = await own.destroyUserSession('ann', sessions[0].handle)
  own.on('destroyed', (event: SessionEvent) => { console.log(event.handle, event.user) })
  own.on('regenerated', (event: RegeneratedEvent) => { console.log(event.previous) })
  own.on('expired', (event: SessionEvent) => { console.log(event.handle) })
  const closed: Promise<void> = own.close()
  console.log(closed, new RedisSessionStore({ redis: own.redis, expiredEvents: 'configure' }))
  // @ts-expect-error expiredEvents is false, true or 'configure'
  console.log(new RedisSessionStore({ redis: own.redis, expiredEvents: 'always' }))
  // @ts-expect-error there is no such event
  own.on('touched', () => {})
  console.log(filed, when, ended, one)
  // @ts-expect-error a URL is for the plugin; the store takes a client
  console.log(new RedisSessionStore({ redis: 'redis://127.0.0.1' }))
}
export { standalone }

const err = new RedisUnavailableError('down', 'Retry shortly.')
const code: 'FST_REDIS_SESSION_UNAVAILABLE' = err.code
const status: 503 = err.statusCode
export { code, status }
