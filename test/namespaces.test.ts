// Cache namespaces (issue 13, F1): a cached answer is reused only by a provider that would have
// given it. Two registrations sharing one cache whose jwt providers differ in any one rule never
// serve each other's entries; where the rules are functions of the user's, the library does not
// guess: entries stay apart, and a shared store or a namespace reused with other functions is
// refused at registration.
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth, { createCache, defineProvider, InvalidTokenError, namespaceOf, type TokenCache, type TokenStore } from '../src/index.js'
import { jwtProvider, type JwtProviderOptions } from '../providers/jwt.js'
import { cognito } from '../providers/presets/cognito.js'

const ISSUER = 'https://issuer.namespaces.test/'
const AUDIENCE = 'api://orders'
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const keys = { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256' }, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'e1', alg: 'ES256' }] }
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

function jwt(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string {
  const alg = (header.alg as string | undefined) ?? 'RS256'
  const input = `${b64({ alg, kid: alg === 'ES256' ? 'e1' : 'r1', ...header })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600, ...claims })}`
  const signature = alg === 'ES256'
    ? sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', Buffer.from(input), rsa.privateKey)
  return `${input}.${signature.toString('base64url')}`
}

/** Two registrations on one cache: `/lenient` and `/strict`, each answering with its uid. */
async function pair(lenient: Partial<JwtProviderOptions>, strict: Partial<JwtProviderOptions>, cache: TokenCache = createCache()): Promise<FastifyInstance> {
  const app = Fastify()
  for (const [path, extra] of [['/lenient', lenient], ['/strict', strict]] as const) {
    await app.register(async (scope) => {
      await scope.register(fastifyTokenAuth, { provider: jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys, ...extra }), cache })
      scope.get(path, { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
    })
  }
  await app.ready()
  return app
}

const get = (app: FastifyInstance, url: string, token: string) => app.inject({ url, headers: { authorization: `Bearer ${token}` } })

describe('F1: providers that differ in one rule never share a cached answer', () => {
  const rows: Array<[string, Partial<JwtProviderOptions>, Partial<JwtProviderOptions>, string]> = [
    ['typ', {}, { typ: 'at+jwt' }, jwt({}, { typ: 'JWT' })],
    ['requiredClaims', {}, { requiredClaims: ['jti'] }, jwt()],
    ['algorithms', {}, { algorithms: ['RS256'] }, jwt({}, { alg: 'ES256' })],
    ['issuerAliases', { issuerAliases: ['https://alias.namespaces.test/'] }, {}, jwt({ iss: 'https://alias.namespaces.test/' })],
    ['clockTolerance', { clockTolerance: 120 }, { clockTolerance: 0 }, jwt({ nbf: Math.floor(Date.now() / 1000) + 60 })],
    ['validate', {}, { validate: (claims) => { if (claims.tenant !== 'acme') throw new InvalidTokenError('wrong tenant') } }, jwt({ tenant: 'other' })],
  ]
  for (const [rule, lenient, strict, token] of rows) {
    test(`${rule}: the lenient registration accepts; the strict one still refuses`, async () => {
      const app = await pair(lenient, strict)
      assert.equal((await get(app, '/lenient', token)).statusCode, 200)
      assert.equal((await get(app, '/strict', token)).statusCode, 401)
      await app.close()
    })
  }

  test("map: the other registration's uid is never served", async () => {
    const app = await pair({ map: { getUid: () => 'mapped-by-lenient' } }, { map: { getUid: (claims) => `strict:${String(claims.sub)}` } })
    const token = jwt()
    assert.deepEqual((await get(app, '/lenient', token)).json(), { uid: 'mapped-by-lenient' })
    assert.deepEqual((await get(app, '/strict', token)).json(), { uid: 'strict:alice' })
    await app.close()
  })

  test('identical rules (two provider objects) share entries: one verification for both', async () => {
    const cache = createCache()
    const app = await pair({}, {}, cache)
    const token = jwt()
    assert.equal((await get(app, '/lenient', token)).statusCode, 200)
    assert.equal(cache.size, 1)
    assert.equal((await get(app, '/strict', token)).statusCode, 200)
    assert.equal(cache.size, 1, 'the same namespace: the entry is shared')
    await app.close()
  })

  test("presets: a Cognito client id is a rule (two app clients of one pool never share); equal options share", () => {
    const pool = { region: 'eu-west-1', userPoolId: 'eu-west-1_AbCdEf123' }
    const web = namespaceOf(cognito({ ...pool, clientId: 'web-client' }))
    assert.notEqual(web, namespaceOf(cognito({ ...pool, clientId: 'admin-client' })))
    assert.equal(web, namespaceOf(cognito({ ...pool, clientId: 'web-client' })), 'the same on every instance')
    assert.ok(!web.includes('~local'), 'a preset without functions of yours can be shared across a fleet')
    assert.ok(namespaceOf(cognito({ ...pool, clientId: 'web-client', validate: () => {} })).includes('~local'))
  })

  test('the namespace is a digest of every rule: equal options give equal namespaces, whatever their order', () => {
    const one = jwtProvider({ issuer: ISSUER, audience: [AUDIENCE, 'api://b'], keys, typ: 'at+jwt', requiredClaims: ['jti'] })
    const two = jwtProvider({ requiredClaims: ['jti'], typ: 'at+jwt', keys, audience: [AUDIENCE, 'api://b'], issuer: ISSUER })
    assert.equal(namespaceOf(one), namespaceOf(two))
    assert.notEqual(namespaceOf(one), namespaceOf(jwtProvider({ issuer: ISSUER, audience: [AUDIENCE, 'api://b'], keys, typ: 'at+jwt' })))
  })
})

describe('F1: where the library cannot compare rules, it refuses rather than guess', () => {
  const store: TokenStore = { get: async () => undefined, set: async () => {}, delete: async () => {} }
  const storeSecret = 'namespaces-test-store-secret-0123456789'

  test('a shared store with a provider that has validate and no namespace: refused at registration', async () => {
    const app = Fastify()
    const provider = jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys, validate: () => {} })
    await assert.rejects(async () => {
      await app.register(fastifyTokenAuth, { provider, cache: { store, storeSecret } })
      await app.ready()
    }, /shared store needs a provider namespace/)
    await app.close()
  })

  test('with a namespace it starts, and the namespace is the same on every instance', async () => {
    const make = () => jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys, validate: () => {}, namespace: 'orders-v1' })
    assert.equal(namespaceOf(make()), namespaceOf(make()))
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider: make(), cache: { store, storeSecret } })
    await app.ready()
    await app.close()
  })

  test('two providers with other functions under one namespace on one cache: the second registration is refused', async () => {
    const cache = createCache()
    const app = Fastify()
    await app.register(async (scope) => {
      await scope.register(fastifyTokenAuth, { provider: jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys, validate: () => {}, namespace: 'shared' }), cache })
    })
    await assert.rejects(async () => {
      await app.register(async (scope) => {
        await scope.register(fastifyTokenAuth, { provider: jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys, validate: () => { throw new InvalidTokenError() }, namespace: 'shared' }), cache })
      })
      await app.ready()
    }, /claims the namespace/)
    await app.close()
  })

  test('defineProvider: two providers naming one namespace with other functions are refused; the same functions may share', async () => {
    const cache = createCache()
    const strict = defineProvider({ name: 'sessions', namespace: 'sessions', getPayload: async (token) => { if (token !== 'known-session.1') throw new InvalidTokenError(); return { sub: 'known' } } })
    const lax = defineProvider({ name: 'sessions', namespace: 'sessions', getPayload: async () => ({ sub: 'guest' }) })
    const app = Fastify()
    await app.register(async (scope) => { await scope.register(fastifyTokenAuth, { provider: strict, cache }) })
    await assert.rejects(async () => {
      await app.register(async (scope) => { await scope.register(fastifyTokenAuth, { provider: lax, cache }) })
      await app.ready()
    }, /claims the namespace/)
    await app.close()
    const getPayload = async (): Promise<Record<string, unknown>> => ({ sub: 'same' })
    const shared = createCache()
    const twins = Fastify()
    for (const path of ['/one', '/two']) {
      await twins.register(async (scope) => { await scope.register(fastifyTokenAuth, { provider: defineProvider({ name: 'twin', namespace: 'twin', getPayload }), cache: shared }) }, { prefix: path })
    }
    await twins.ready()
    await twins.close()
  })

  test('the same functions under one namespace may share', async () => {
    const cache = createCache()
    const validate = (): void => {}
    const app = Fastify()
    for (const path of ['/one', '/two']) {
      await app.register(async (scope) => {
        await scope.register(fastifyTokenAuth, { provider: jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys, validate, namespace: 'shared' }), cache })
        scope.get(path, { config: { auth: true } }, async (request) => request.auth.uid)
      })
    }
    await app.ready()
    const token = jwt()
    assert.equal((await get(app, '/one', token)).statusCode, 200)
    assert.equal((await get(app, '/two', token)).statusCode, 200)
    assert.equal(cache.size, 1)
    await app.close()
  })
})
