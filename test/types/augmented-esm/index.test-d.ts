// The same type tests as ../augmented, as an ES-module application (module nodenext, "type": "module") sees the package.
// Typed session fields: an application merges its own fields into SessionData.
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import redisSession from 'fastify-redis-hash-session'

declare module 'fastify-redis-hash-session' {
  interface SessionData {
    username: string
    page_views: number
    admin: boolean
    cart: { items: string[], total: number }
  }
}

const app = Fastify()
app.register(redisSession, { redis: new Redis() })

app.post('/', async (request) => {
  const session = request.session
  session.set('username', 'ann')
  session.set('page_views', 0)
  session.set({ username: 'ann', admin: false })
  // @ts-expect-error username is a string
  session.set('username', 5)
  // @ts-expect-error not a declared field
  session.set('nickname', 'x')
  // @ts-expect-error not a declared field in a record
  session.set({ nickname: 'x' })
  const name: string | undefined = session.get('username')
  // get() returns the declared type of the field
  const viewsNow: number | undefined = session.get('page_views')
  const cart: { items: string[], total: number } | undefined = session.get('cart')
  // @ts-expect-error page_views is a number, not a string
  const wrong: string | undefined = session.get('page_views')
  session.set('cart', { items: ['a'], total: 1 })
  // @ts-expect-error cart must have its declared shape
  session.set('cart', { items: 'a' })
  session.set('username', undefined) // deletes
  session.set({ admin: undefined }) // deletes
  await session.regenerate(['username', 'cart'])
  const stored: string | undefined = session.get('created_at')
  session.get('created_at') // reserved fields stay readable
  // @ts-expect-error not a declared field
  session.get('nickname')
  const views: number = await session.increment('page_views')
  // @ts-expect-error only number fields can be incremented
  await session.increment('username')
  session.delete('admin')
  // @ts-expect-error not a declared field
  session.delete('nickname')
  await session.create({ username: 'ann', page_views: 0 })
  // @ts-expect-error wrong type in create()
  await session.create({ username: 1 })
  return { name, views, viewsNow, cart, wrong, stored }
})
