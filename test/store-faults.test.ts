// Faults stay local (issue 13): a store that rejects, throws or hangs is a miss for that call and
// poisons nothing (R1); closing one registration leaves a shared cache to the others (R4); the
// README's fleet recipe starts and serves while Redis is down (S3).
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import { createClient } from 'redis'
import fastifyTokenAuth, { createCache, isAuthFailure, tokenAuth, type TokenStore } from '../src/index.js'
import { testProvider } from '../providers/test.js'
import { RedisStore } from '../stores/redis.js'
import { startRedis } from './helpers/redis.js'

const STORE_SECRET = 'store-faults-test-secret-0123456789abcdef'
const exp = (): number => Math.floor(Date.now() / 1000) + 600

/** A store over a Map whose next calls of one kind fail in the way asked. */
function faultyStore(): TokenStore & { fail: { get?: 'reject' | 'throw' | 'hang'; set?: 'reject' | 'throw' } } {
  const values = new Map<string, string>()
  const store = {
    fail: {} as { get?: 'reject' | 'throw' | 'hang'; set?: 'reject' | 'throw' },
    get(key: string): Promise<string | undefined> {
      const mode = store.fail.get
      if (mode === 'throw') throw new Error('store get threw')
      if (mode === 'reject') return Promise.reject(new Error('store get rejected'))
      if (mode === 'hang') return new Promise(() => {})
      return Promise.resolve(values.get(key))
    },
    set(key: string, value: string): Promise<void> {
      const mode = store.fail.set
      if (mode === 'throw') throw new Error('store set threw')
      if (mode === 'reject') return Promise.reject(new Error('store set rejected'))
      values.set(key, value)
      return Promise.resolve()
    },
    delete: (key: string): Promise<void> => { values.delete(key); return Promise.resolve() },
  }
  return store
}

describe('R1: a failing store poisons nothing', () => {
  const cases: Array<['get' | 'set', 'reject' | 'throw']> = [['get', 'reject'], ['get', 'throw'], ['set', 'reject'], ['set', 'throw']]
  for (const [op, mode] of cases) {
    test(`store ${op} ${mode}s once: that call is a miss; after the store recovers, every call answers`, async () => {
      const store = faultyStore()
      const cache = createCache({ store, storeSecret: STORE_SECRET })
      const provider = testProvider({ tokens: { 'r1-token.1': { sub: 'r1', exp: exp() } }, namespace: 'r1-tests' })
      store.fail[op] = mode
      const during = await tokenAuth('r1-token.1', provider, { cache })
      assert.ok(!isAuthFailure(during), 'a store fault is a miss: the provider answered')
      assert.equal(cache.flights.size, 0, 'the in-flight call is forgotten')
      store.fail = {}
      cache.clear()
      for (let i = 0; i < 3; i++) assert.ok(!isAuthFailure(await tokenAuth('r1-token.1', provider, { cache })))
    })
  }

  test('a store get that never answers is a miss after the store deadline', async () => {
    const store = faultyStore()
    store.fail.get = 'hang'
    const cache = createCache({ store, storeSecret: STORE_SECRET })
    const provider = testProvider({ tokens: { 'r1-token.2': { sub: 'r1', exp: exp() } }, namespace: 'r1-tests' })
    const result = await tokenAuth('r1-token.2', provider, { cache })
    assert.ok(!isAuthFailure(result))
    assert.equal(provider.calls, 1)
    assert.equal(cache.flights.size, 0)
  })

  test('a provider that throws synchronously (not a promise) is a 503 and poisons nothing', async () => {
    const cache = createCache()
    const provider = testProvider({ tokens: {} })
    provider.getPayload = () => { throw new TypeError('bug in a provider') }
    for (let i = 0; i < 2; i++) {
      const result = await tokenAuth('r1-token.3', provider, { cache })
      assert.ok(isAuthFailure(result))
      assert.equal(result.errors[0]?.messageKey, 'provider_unavailable')
    }
    assert.equal(cache.flights.size, 0)
  })
})

test('R4: closing one registration leaves a shared cache to the others', async () => {
  const cache = createCache()
  const provider = testProvider({ tokens: { 'r4-token.1': { sub: 'r4', exp: exp() } } })
  const build = async () => {
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider, cache })
    app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
    await app.ready()
    return app
  }
  const first = await build()
  const second = await build()
  const get = (app: typeof first) => app.inject({ url: '/orders', headers: { authorization: 'Bearer r4-token.1' } })
  assert.equal((await get(first)).statusCode, 200)
  assert.equal(cache.size, 1)
  await first.close()
  assert.equal(cache.size, 1, 'the entry outlives the registration that made it')
  assert.equal((await get(second)).statusCode, 200)
  assert.equal(provider.calls, 1, 'served from the shared cache')
  await second.close()
})

describe('S3: the README fleet recipe while Redis is down', () => {
  test('registers at once, serves from the identity provider, and shares once Redis comes up', async () => {
    // A port with nothing listening on it (yet).
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as { port: number }
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: () => 50 } })
    client.on('error', () => {})
    client.connect().catch(() => {})
    const provider = testProvider({ tokens: { 's3-token.1': { sub: 's3', exp: exp() } }, namespace: 's3-tests' })
    const app = Fastify()
    const registered = (async () => {
      await app.register(fastifyTokenAuth, { provider, cache: { store: new RedisStore({ client }), storeSecret: STORE_SECRET } })
      app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
      await app.ready()
      return 'ready'
    })()
    const startup = await Promise.race([registered, new Promise((resolve) => setTimeout(resolve, 5_000, 'stuck')).then(String)])
    assert.equal(startup, 'ready', 'startup does not wait for Redis')
    assert.equal((await app.inject({ url: '/orders', headers: { authorization: 'Bearer s3-token.1' } })).statusCode, 200)
    // Redis comes up on that port: the client connects by itself and answers are shared again.
    const redis = await startRedis(port)
    try {
      const deadline = Date.now() + 10_000
      while (!client.isReady && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25))
      assert.ok(client.isReady)
      app.tokenAuth.cache.clear()
      assert.equal((await app.inject({ url: '/orders', headers: { authorization: 'Bearer s3-token.1' } })).statusCode, 200)
      const check = createClient({ url: redis.url })
      await check.connect()
      assert.ok((await check.keys('fta:*')).length >= 1, 'the answer is in Redis')
      await check.quit()
    } finally {
      await app.close()
      client.destroy()
      await redis.stop()
    }
  })
})
