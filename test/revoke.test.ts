// Revocation keeps its promise (issue 13, F2/F3): revoke(token) holds until the token's exp
// whether or not it was cached (a JWT's own exp), says how long it holds, and reaches connection
// tickets minted from the token or its uid. Time moves by mock.timers, never by sleeping.
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { afterEach, describe, mock, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import fastifyTokenAuth from '../src/index.js'
import { jwtProvider } from '../providers/jwt.js'
import { testProvider } from '../providers/test.js'
import { connect } from './helpers/ws.js'

const ISSUER = 'https://issuer.revoke.test/'
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const keys = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
function jwt(exp: number): string {
  const input = `${b64({ alg: 'ES256', kid: 'k1' })}.${b64({ iss: ISSUER, aud: 'api', sub: 'alice', exp })}`
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

async function jwtApp(maxTtl: number): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyTokenAuth, { provider: jwtProvider({ issuer: ISSUER, audience: 'api', keys }), cache: { maxTtl } })
  app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
  await app.ready()
  return app
}
const get = (app: FastifyInstance, token: string) => app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })

afterEach(() => mock.timers.reset())

describe('F2: revoke(token) lasts until the token\'s exp, cached or not', () => {
  test('a JWT never seen here: refused at once and still refused long past max(maxTtl, 60 s), until its exp', async () => {
    const now = Date.now()
    mock.timers.enable({ apis: ['Date'], now })
    const exp = Math.floor(now / 1000) + 2 * 3600
    const token = jwt(exp)
    const app = await jwtApp(1_000)
    const { until } = await app.tokenAuth.revoke(token)
    assert.ok(until >= exp * 1000, `holds until ${new Date(until).toISOString()}, the token ends ${new Date(exp * 1000).toISOString()}`)
    assert.equal((await get(app, token)).statusCode, 401)
    mock.timers.tick(61_000)
    assert.equal((await get(app, token)).statusCode, 401, 'past max(maxTtl, 60 s)')
    mock.timers.tick(3600_000)
    const response = await get(app, token)
    assert.equal(response.statusCode, 401, 'an hour later, still before exp')
    assert.equal(response.json().error_description, 'The access token was revoked')
    await app.close()
  })

  test('a cached JWT: until its exp too, and the entry is gone', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600
    const token = jwt(exp)
    const app = await jwtApp(300_000)
    assert.equal((await get(app, token)).statusCode, 200)
    assert.equal(app.tokenAuth.cache.size, 1)
    const { until } = await app.tokenAuth.revoke(token)
    assert.ok(until >= exp * 1000)
    assert.equal(app.tokenAuth.cache.size, 0)
    assert.equal((await get(app, token)).statusCode, 401)
    await app.close()
  })

  test('an opaque token not cached here: no guess at its exp; it holds for max(maxTtl, 60 s), and says so', async () => {
    const now = Date.now()
    mock.timers.enable({ apis: ['Date'], now })
    const provider = testProvider({ tokens: { 'opaque-token.1': { sub: 'bob', exp: Math.floor(now / 1000) + 7200 } } })
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider, cache: { maxTtl: 120_000 } })
    app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
    const { until } = await app.tokenAuth.revoke('opaque-token.1')
    assert.equal(until, now + 120_000)
    assert.equal((await get(app, 'opaque-token.1')).statusCode, 401)
    assert.equal(provider.calls, 0, 'a revoked token never reaches the provider')
    const { until: explicit } = await app.tokenAuth.revoke('opaque-token.2', { until: now + 3600_000 })
    assert.equal(explicit, now + 3600_000)
    await assert.rejects(app.tokenAuth.revoke('opaque-token.3', { until: now - 1 }), TypeError)
    await app.close()
  })
})

describe('F3: tickets answer to the denial lists', () => {
  for (const how of ['the token', 'its uid'] as const) {
    test(`a ticket minted, then ${how} revoked: the ticket opens nothing`, async () => {
      const exp = Math.floor(Date.now() / 1000) + 600
      const provider = testProvider({ tokens: { 'holder-token.1': { sub: 'holder', scope: 'orders:read', exp, iat: exp - 700 } } })
      const app = Fastify()
      await app.register(fastifyWebsocket)
      await app.register(fastifyTokenAuth, { provider, ticketSecret: 'revoke-test-ticket-secret-0123456789abcdef' })
      app.get('/ws', { websocket: true, config: { auth: true } }, (socket) => { socket.on('message', () => socket.send('ok')) })
      app.get('/ticket', { config: { auth: true } }, async (request) => ({ ticket: app.tokenAuth.issueTicket(request.auth, { route: '/ws' }) }))
      await app.listen({ host: '127.0.0.1', port: 0 })
      const port = (app.server.address() as { port: number }).port
      const minted = await app.inject({ url: '/ticket', headers: { authorization: 'Bearer holder-token.1' } })
      const { ticket } = minted.json<{ ticket: string }>()
      await app.tokenAuth.revoke(how === 'the token' ? 'holder-token.1' : { uid: 'holder' })
      const client = connect(`ws://127.0.0.1:${port}/ws?ticket=${ticket}`)
      await assert.rejects(client.opened)
      const refused = await client.refused
      assert.equal(refused?.status, 401)
      assert.match(String(refused?.headers['www-authenticate']), /revoked/)
      await app.close()
    })
  }
})
