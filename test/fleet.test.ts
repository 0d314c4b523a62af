// Fleet mode: three API instances (each with its own in-process cache) share a real Redis: a cold
// token costs one introspection for the whole fleet, nothing in Redis holds a raw token, and a
// Redis that dies or comes back never fails a request. Real processes and sockets: the tests wait
// for what they expect (with a generous cap); how fast a revocation spreads is measured by
// bench/fanout.ts, not asserted here.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { createClient, type RedisClientType } from 'redis'
import fastifyTokenAuth from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { RedisStore } from '../stores/redis.js'
import { useVirtualTime } from './helpers/clock.js'
import { API_CLIENT, useIdp } from './helpers/idp.js'
import { poll, until } from './helpers/poll.js'
import { startRedis, type RedisServer } from './helpers/redis.js'

const ctx = useIdp()
const FLEET_SECRET = 'fleet-test-secret-0123456789abcdef-0123'
let redis: RedisServer
const clients: RedisClientType[] = []
const instances: FastifyInstance[] = []
const introspections = (): number => ctx.idp.calls['/token/introspection'] ?? 0

async function instance(): Promise<FastifyInstance> {
  const client: RedisClientType = createClient({ url: redis.url, socket: { reconnectStrategy: () => 50 } })
  client.on('error', () => {})
  await client.connect()
  clients.push(client)
  const app = Fastify()
  await app.register(fastifyTokenAuth, {
    provider: introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, timeout: 1000 }),
    // A generous store deadline: past it the instance rightly asks the identity provider itself,
    // and a busy machine can take longer than the 100-ms default to answer.
    cache: { store: new RedisStore({ client, timeout: 2_000 }), storeSecret: FLEET_SECRET },
    breaker: false,
  })
  app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
  await app.ready()
  instances.push(app)
  return app
}


const get = (app: FastifyInstance, token: string) => app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })
/** The status of a request, asked again while it is 200, for at most 5 s. */
const statusOnceRefused = (app: FastifyInstance, token: string): Promise<number> =>
  poll(async () => (await get(app, token)).statusCode, (status) => status !== 200, 5_000)

describe('fleet over Redis', () => {
  before(async () => {
    redis = await startRedis()
    for (let i = 0; i < 3; i++) await instance()
  })
  after(async () => {
    for (const app of instances) await app.close()
    for (const client of clients) await client.quit().catch(() => {})
    await redis.stop()
  })

  test('300 concurrent requests spread over 3 instances with one fresh token: 1 introspection call', async () => {
    const { access_token } = await ctx.idp.token('web-opaque')
    const before = introspections()
    const responses = await Promise.all(Array.from({ length: 300 }, (_, i) => get(instances[i % 3]!, access_token)))
    for (const response of responses) assert.equal(response.statusCode, 200)
    assert.equal(introspections() - before, 1)
  })

  test('every Redis key and value holds no raw token', async () => {
    const { access_token } = await ctx.idp.token('web-opaque')
    for (const app of instances) assert.equal((await get(app, access_token)).statusCode, 200)
    const scan = clients[0]!
    const keys: string[] = []
    for await (const batch of scan.scanIterator({ MATCH: '*', COUNT: 100 })) keys.push(...([] as string[]).concat(batch))
    assert.ok(keys.length >= 2, `entries are shared (${keys.length} keys)`)
    for (const key of keys) {
      assert.ok(!key.includes(access_token))
      const value = await scan.get(key)
      assert.ok(value === null || !value.includes(access_token), `value of ${key} holds the token`)
    }
  })

  test('revoke on instance A: B and C refuse the token, within 5 s (the identity provider still says active)', async () => {
    const { access_token } = await ctx.idp.token('web-opaque')
    for (const app of instances) assert.equal((await get(app, access_token)).statusCode, 200)
    await instances[0]!.tokenAuth.revoke(access_token)
    for (const app of instances.slice(1)) assert.equal(await statusOnceRefused(app, access_token), 401)
    const refused = await get(instances[2]!, access_token)
    assert.equal(refused.json().error_description, 'The access token was revoked')
  })

  test('Redis killed: no request fails; back: the fleet shares again', async () => {
    const first = await ctx.idp.token('web-opaque')
    await redis.stop()
    try {
      const during = await Promise.all(instances.map((app) => get(app, first.access_token)))
      for (const response of during) assert.equal(response.statusCode, 200, 'no failure caused by Redis alone')
    } finally {
      await redis.start()
    }
    await until(() => clients.every((client) => client.isReady), 'the clients to reconnect by themselves')
    const second = await ctx.idp.token('web-opaque')
    const before = introspections()
    const after = await Promise.all(Array.from({ length: 30 }, (_, i) => get(instances[i % 3]!, second.access_token)))
    for (const response of after) assert.equal(response.statusCode, 200)
    assert.equal(introspections() - before, 1, 'L2 is used again')
  })
  // Last: a uid's revocation refuses the tokens issued in its second, on every instance.
  test('revoke { uid } on instance B: every instance refuses the tokens that uid had', async (t) => {
    const { access_token } = await ctx.idp.token('web-opaque')
    for (const app of instances) assert.equal((await get(app, access_token)).statusCode, 200)
    await instances[1]!.tokenAuth.revoke({ uid: 'web-opaque' })
    for (const app of instances) assert.equal(await statusOnceRefused(app, access_token), 401)
    // Tokens issued in the second of the revocation, or up to the provider's clock tolerance
    // (5 s) after it, are refused too (an identity provider's clock may run ahead): on virtual
    // Date 6 s on (the identity provider in this process reads it too), a token issued then passes.
    useVirtualTime(t, { timers: false, now: (Math.floor(Date.now() / 1000) + 6) * 1000 })
    const later = await ctx.idp.token('web-opaque')
    assert.equal((await get(instances[0]!, later.access_token)).statusCode, 200, 'tokens issued after the revocation pass')
  })
})
