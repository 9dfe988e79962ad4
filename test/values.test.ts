// What you set is what you get: get() returns the JSON value set() stored, and Redis holds a form
// that stays readable in redis-cli (plain strings as they are, integers as digits).
import t from 'tap'
import { decodeValue, encodeValue } from '../plugin'
import { Agent, build, sessionRoutes } from './helpers/build'

const VALUES: Array<[string, unknown, string]> = [
  // [name, value, what Redis holds]
  ['plain string', 'andrew', 'andrew'],
  ['empty string', '', ''],
  ['string with spaces', 'hello world', 'hello world'],
  ['string of digits', '3', '"3"'],
  ['string with leading zero', '01234', '01234'],
  ['string "true"', 'true', '"true"'],
  ['string "null"', 'null', '"null"'],
  ['string that looks like JSON', '{"a":1}', '"{\\"a\\":1}"'],
  ['string that starts with a quote', '"quoted"', '"\\"quoted\\""'],
  ['string that starts with a bracket', '[not json', '"[not json"'],
  ['negative-looking text', '-', '-'],
  ['number written another way', '1.0', '1.0'],
  ['exponent text', '1e5', '1e5'],
  ['too many digits for a number', '12345678901234567890', '12345678901234567890'],
  ['text that overflows', '1e400', '1e400'],
  ['-Infinity text', '-Infinity', '-Infinity'],
  ['integer', 3, '3'],
  ['negative integer', -42, '-42'],
  ['zero', 0, '0'],
  ['float', 0.5, '0.5'],
  ['exponent', 1e21, '1e+21'],
  ['true', true, 'true'],
  ['false', false, 'false'],
  ['null', null, 'null'],
  ['array', [1, 'two', { three: 3 }], '[1,"two",{"three":3}]'],
  ['object', { id: 42, name: 'ann', roles: ['admin'] }, '{"id":42,"name":"ann","roles":["admin"]}'],
  ['empty object', {}, '{}'],
  ['unicode', 'café ☕', 'café ☕']
]

t.test('every JSON value reads back as it was set, over HTTP, and Redis holds the readable form', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  for (const [name, value] of VALUES) {
    t.equal((await agent.post(`/set/${encodeURIComponent(name)}`, { value })).statusCode, 200, name)
  }
  const hash = await redis.hgetall(key(id))
  const data = (await agent.get('/session')).json().data
  for (const [name, value, stored] of VALUES) {
    t.equal(hash[name], stored, `${name}: Redis holds ${stored}`)
    t.same(data[name], value, `${name}: data() returns it`)
    t.same((await agent.get(`/get/${encodeURIComponent(name)}`)).json().value, value, `${name}: get() returns it`)
  }
})

t.test('values written by 0.1 (every value a plain string) still read', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create')).json()
  // What 0.1 stored for username 'andrew', page_views 3, admin true and a text that only starts like JSON.
  await redis.hset(key(id), { username: 'andrew', page_views: '3', admin: 'true', note: '{unfinished', zip: '01234', big: '1234567890123456789', price: '1.50' })
  t.same((await agent.get('/session')).json().data, {
    username: 'andrew', page_views: 3, admin: true, note: '{unfinished', zip: '01234', big: '1234567890123456789', price: '1.50'
  }, 'text a number cannot hold digit for digit stays text')
})

t.test('an integer set() stays a counter: increment() works on it and returns a number', async (t) => {
  const { app, redis, key } = await build(t)
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { page_views: 41 } })).json()
  t.equal(await redis.hget(key(id), 'page_views'), '41')
  t.equal((await agent.post('/increment/page_views')).json().value, 42)
  t.equal((await agent.get('/get/page_views')).json().value, 42)
  t.equal((await agent.post('/set/label', { value: '7' })).statusCode, 200)
  const res = await agent.post('/increment/label')
  t.equal(res.json().code, 'FST_REDIS_SESSION_NOT_AN_INTEGER', 'the string "7" is a string, not a counter')
})

t.test('set(field, undefined) and undefined in a record delete the field', async (t) => {
  const { app, redis, key } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.post('/unset/:field', async (request) => {
      request.session.set((request.params as { field: string }).field, undefined)
      return { ok: true }
    })
    app.post('/unset-record', async (request) => {
      request.session.set({ b: undefined, c: 'kept' })
      return { ok: true }
    })
  })
  const agent = new Agent(app)
  const { id } = (await agent.post('/create', { data: { a: 'x', b: 'y' } })).json()
  await agent.post('/unset/a')
  t.equal(await redis.hexists(key(id), 'a'), 0)
  await agent.post('/unset-record')
  const hash = await redis.hgetall(key(id))
  t.equal(hash.b, undefined)
  t.equal(hash.c, 'kept')
  t.same((await agent.get('/session')).json().data, { c: 'kept' })
})

t.test('set(field, undefined) on a request without a session starts none', async (t) => {
  const { app, redis, prefix } = await build(t, {}, (app) => {
    app.post('/unset', async (request) => {
      request.session.set('a', undefined)
      request.session.set({ b: undefined })
      return { ok: true }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/unset' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['set-cookie'], undefined)
  t.same(await redis.keys(prefix + '*'), [])
})

t.test('get() returns a fresh copy: changing the object it returned changes nothing', async (t) => {
  const { app } = await build(t, {}, (app) => {
    sessionRoutes(app)
    app.get('/mutate', async (request) => {
      const cart = request.session.get('cart') as { items: string[] }
      cart.items.push('mutated')
      return { cart: request.session.get('cart') }
    })
  })
  const agent = new Agent(app)
  await agent.post('/create', { data: { cart: { items: ['a'] } } })
  t.same((await agent.get('/mutate')).json().cart, { items: ['a'] })
})

t.test('the store and the codec agree', async (t) => {
  for (const [name, value, stored] of VALUES) {
    t.equal(encodeValue(value), stored, name)
    t.same(decodeValue(stored), value, name)
  }
  t.equal(encodeValue(undefined), undefined)
  t.equal(encodeValue(Number.NaN), undefined)
  t.equal(encodeValue(new Date()), undefined)
})
