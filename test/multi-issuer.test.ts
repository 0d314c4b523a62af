import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth from '../src/index.js'
import { jwtProvider } from '../providers/jwt.js'
import { testProvider } from '../providers/test.js'
import { counted } from './hostile/harness.js'
import { nowS, startJwtStandIn, type JwtStandIn } from './helpers/stand-in.js'

let idpA: JwtStandIn
let idpB: JwtStandIn
before(async () => {
  idpA = await startJwtStandIn()
  idpB = await startJwtStandIn()
})
after(async () => {
  await idpA.close()
  await idpB.close()
})

const claims = (iss: string, sub: string) => ({ iss, sub, aud: 'api://orders', scope: 'orders:read', iat: nowS(), exp: nowS() + 600 })

async function appWith(options: Record<string, unknown>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyTokenAuth, options as never)
  app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => ({ uid: request.auth.uid, provider: request.auth.provider }))
  await app.ready()
  return app
}
const get = (app: FastifyInstance, token: string) => app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })

describe('multi-issuer', () => {
  test('provider: [A, B, opaque]: each token goes to its own provider only', async () => {
    const a = counted(jwtProvider({ issuer: 'https://a.example/', audience: 'api://orders', jwksUri: idpA.jwksUri, name: 'issuer-a' }))
    const b = counted(jwtProvider({ issuer: 'https://b.example/', audience: 'api://orders', jwksUri: idpB.jwksUri, name: 'issuer-b' }))
    const opaque = testProvider({ name: 'opaque', tokens: { 'opaque-token-1': { sub: 'svc', scope: 'orders:read' } } })
    const app = await appWith({ provider: [a, b, opaque] })
    const fromB = await get(app, idpB.sign(claims('https://b.example/', 'bob')))
    assert.equal(fromB.statusCode, 200)
    assert.deepEqual(fromB.json(), { uid: 'bob', provider: 'issuer-b' })
    assert.equal(a.calls, 0, 'a token from issuer B never reaches provider A')
    assert.equal(b.calls, 1)
    const fromA = await get(app, idpA.sign(claims('https://a.example/', 'alice')))
    assert.deepEqual(fromA.json(), { uid: 'alice', provider: 'issuer-a' })
    assert.equal(b.calls, 1)
    const viaOpaque = await get(app, 'opaque-token-1')
    assert.deepEqual(viaOpaque.json(), { uid: 'svc', provider: 'opaque' })
    assert.equal(a.calls + b.calls, 2, 'opaque tokens do not reach the JWT providers')
    await app.close()
  })

  test('a token signed by B but claiming issuer A is verified by A only, and refused', async () => {
    const a = counted(jwtProvider({ issuer: 'https://a.example/', audience: 'api://orders', jwksUri: idpA.jwksUri }))
    const b = counted(jwtProvider({ issuer: 'https://b.example/', audience: 'api://orders', jwksUri: idpB.jwksUri }))
    const app = await appWith({ provider: [a, b] })
    const forged = idpB.sign(claims('https://a.example/', 'mallory'))
    assert.equal((await get(app, forged)).statusCode, 401)
    assert.equal(a.calls, 1)
    assert.equal(b.calls, 0)
    await app.close()
  })

  test('issuers: { [iss]: provider }; an unknown issuer is a 401 without any network call', async () => {
    const a = counted(jwtProvider({ issuer: 'https://a.example/', audience: 'api://orders', jwksUri: idpA.jwksUri }))
    const b = counted(jwtProvider({ issuer: 'https://b.example/', audience: 'api://orders', jwksUri: idpB.jwksUri }))
    const app = await appWith({ issuers: { 'https://a.example/': a, 'https://b.example/': b } })
    assert.equal((await get(app, idpA.sign(claims('https://a.example/', 'alice')))).statusCode, 200)
    const fetchesBefore = (a.jwks?.fetches ?? 0) + (b.jwks?.fetches ?? 0)
    const unknown = await get(app, idpA.sign(claims('https://evil.example/', 'eve')))
    assert.equal(unknown.statusCode, 401)
    assert.match(unknown.headers['www-authenticate'] as string, /unknown issuer/)
    assert.equal(a.calls + b.calls, 1, 'no provider was asked')
    assert.equal((a.jwks?.fetches ?? 0) + (b.jwks?.fetches ?? 0), fetchesBefore, 'no JWKS fetched')
    await app.close()
  })

  test('opaque providers are tried in order; an outage in one with no acceptance elsewhere is a 503', async () => {
    const first = testProvider({ name: 'first', tokens: {} })
    const second = testProvider({ name: 'second', tokens: { 'only-in-second.1': { sub: 'in-second', scope: 'orders:read' } } })
    const app = await appWith({ provider: [first, second] })
    assert.deepEqual((await get(app, 'only-in-second.1')).json(), { uid: 'in-second', provider: 'second' })
    assert.equal(first.calls, 1)
    second.unavailable = true
    assert.equal((await get(app, 'nowhere-token.1')).statusCode, 503)
    second.unavailable = false
    assert.equal((await get(app, 'nowhere-token.2')).statusCode, 401)
    await app.close()
  })
})
