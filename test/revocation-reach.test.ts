// Revocation reaches every socket and every instance (the third review): background
// re-validation keeps checking a socket's token after its cache entry ended; a token it finds
// revoked is revoked for the whole fleet (Redis entry deleted, every instance told); an instance
// that joins after a revocation learns it; a made-up token cannot pin a revocation; an expired
// revocation replayed is ignored. Real oidc-provider, real redis-server, real sockets.
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import { createClient, type RedisClientType } from 'redis'
import fastifyTokenAuth, { createCache, type AnyProvider } from '../src/index.js'
import { Engine } from '../src/engine.js'
import { resolveSettings } from '../src/pipeline.js'
import { introspectionProvider } from '../providers/introspection.js'
import { jwtProvider } from '../providers/jwt.js'
import { testProvider } from '../providers/test.js'
import { RedisStore } from '../stores/redis.js'
import { API_CLIENT, useIdp } from './helpers/idp.js'
import { startRedis, type RedisServer } from './helpers/redis.js'
import { connect } from './helpers/ws.js'

const ctx = useIdp()
const STORE_SECRET = 'revocation-reach-store-secret-0123456789'
const within = <T>(work: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([work, new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())])

/** Polls `read` until it gives `expected`, for at most `ms`. */
async function eventually(read: () => Promise<number>, expected: number, ms = 5_000): Promise<number> {
  const deadline = Date.now() + ms
  let value = await read()
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    value = await read()
  }
  return value
}

describe('background re-validation and sockets', () => {
  test('a socket whose cache entry has ended is still re-checked, and closed when its token is revoked at the identity provider', async () => {
    const app = Fastify()
    await app.register(fastifyWebsocket)
    // ttl: 1 ms, so that the cache entry ends at once and only the socket holds the token.
    await app.register(fastifyTokenAuth, { provider: introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, ttl: 1 }), revalidate: { interval: 200 } })
    app.get('/ws', { websocket: true, config: { auth: true } }, (socket) => { socket.on('message', () => socket.send('ok')) })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { access_token } = await ctx.idp.token('web-opaque')
    const client = connect(`ws://127.0.0.1:${(app.server.address() as { port: number }).port}/ws`, { headers: { authorization: `Bearer ${access_token}` } })
    await client.opened
    await ctx.idp.revoke(access_token)
    const closed = await within(client.closed, 10_000, 'the socket closed')
    assert.deepEqual(closed, { code: 4401, reason: 'token revoked' })
    await app.close()
  })
})

describe('a fleet sharing Redis', () => {
  let redis: RedisServer
  const clients: RedisClientType[] = []
  const apps: FastifyInstance[] = []
  before(async () => { redis = await startRedis() })
  after(async () => {
    for (const app of apps) await app.close()
    for (const client of clients) client.destroy()
    await redis.stop()
  })

  async function instance(provider: AnyProvider, extra: Record<string, unknown> = {}): Promise<FastifyInstance> {
    const client: RedisClientType = createClient({ url: redis.url, socket: { reconnectStrategy: () => 50 } })
    client.on('error', () => {})
    await client.connect()
    clients.push(client)
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider, cache: { store: new RedisStore({ client }), storeSecret: STORE_SECRET }, breaker: false, ...extra })
    app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
    await app.ready()
    apps.push(app)
    return app
  }
  const status = async (app: FastifyInstance, token: string): Promise<number> => (await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })).statusCode

  test('a token re-validation finds revoked is refused by every instance, not served again from Redis', async () => {
    const introspection = (): AnyProvider => introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, timeout: 2_000 })
    const checker = await instance(introspection(), { revalidate: { interval: 200 } })
    const other = await instance(introspection())
    const { access_token } = await ctx.idp.token('web-opaque')
    assert.equal(await status(checker, access_token), 200)
    assert.equal(await status(other, access_token), 200)
    await ctx.idp.revoke(access_token)
    assert.equal(await eventually(() => status(checker, access_token), 401), 401, 'the re-checking instance refuses it')
    assert.equal(await eventually(() => status(other, access_token), 401), 401, 'and so does the other, with its entry still cached')
  })

  test('an instance that joins after a revocation refuses the token too', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const keys = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }
    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
    const input = `${b64({ alg: 'ES256', kid: 'k1' })}.${b64({ iss: 'https://late.test/', aud: 'api', sub: 'late', exp: Math.floor(Date.now() / 1000) + 600 })}`
    const token = `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
    const provider = (): AnyProvider => jwtProvider({ issuer: 'https://late.test/', audience: 'api', keys })
    const early = await instance(provider())
    assert.equal(await status(early, token), 200)
    await early.tokenAuth.revoke(token)
    assert.equal(await status(early, token), 401)
    const late = await instance(provider())
    assert.equal(await eventually(() => status(late, token), 401), 401, 'the late instance replayed the revocation kept in Redis')
  })
})

describe('what a revocation holds', () => {
  test('a made-up JWT (no verification here accepts it) pins nothing, whatever exp it claims', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const provider = jwtProvider({ issuer: 'https://pin.test/', audience: 'api', keys: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] } })
    const engine = new Engine({ provider, settings: resolveSettings({ cache: createCache() }) })
    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
    const forged = `${b64({ alg: 'ES256', kid: 'k1' })}.${b64({ iss: 'https://pin.test/', aud: 'api', sub: 'x', exp: 1e10 })}.${'A'.repeat(86)}`
    const now = Date.now()
    const { until } = await engine.revoke(forged)
    assert.ok(until <= Date.now() && until >= now, 'nothing to hold')
    assert.equal(engine.cache.hasDenials, false)
  })

  test('a revocation already over (a replayed message) is ignored', () => {
    const engine = new Engine({ provider: testProvider({ tokens: {} }), settings: resolveSettings({ cache: createCache() }) })
    let heard = 0
    engine.onRevocation(() => { heard++ })
    engine.applyRevocation({ uid: 'alice', ns: engine.namespace, at: 1, until: Date.now() - 1 })
    engine.applyRevocation({ key: engine.keyOf('t'), until: Date.now() - 1 })
    assert.equal(engine.cache.hasDenials, false)
    assert.equal(heard, 0, 'no socket is closed by it')
  })
})
