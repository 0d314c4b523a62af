// Cache attacks: a token accepted for one provider's audience is never served from a shared
// cache to another; a flood of bad tokens cannot push good entries out; observability never
// carries a raw token.
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth, { createCache, defineProvider, InvalidTokenError, tokenAuth } from '../src/index.js'
import { jwtProvider } from '../providers/jwt.js'
import { testProvider } from '../providers/test.js'
import { counted } from './hostile/harness.js'

const ISSUER = 'https://issuer.isolation.test/'
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const keys = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
function tokenFor(aud: string): string {
  const input = `${b64({ alg: 'ES256', kid: 'k1' })}.${b64({ iss: ISSUER, aud, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 })}`
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

describe('cache isolation', () => {
  test('two providers with one name, two audiences, one shared cache: no cross-serving', async () => {
    const cache = createCache()
    const orders = counted(jwtProvider({ issuer: ISSUER, audience: 'api://orders', keys }))
    const billing = counted(jwtProvider({ issuer: ISSUER, audience: 'api://billing', keys }))
    assert.equal(orders.name, billing.name, 'same name, so only the namespace keeps them apart')
    const app = Fastify()
    await app.register(async (scope) => {
      await scope.register(fastifyTokenAuth, { provider: orders, cache })
      scope.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
    })
    await app.register(async (scope) => {
      await scope.register(fastifyTokenAuth, { provider: billing, cache })
      scope.get('/billing', { config: { auth: true } }, async (request) => request.auth.uid)
    })
    const ordersToken = tokenFor('api://orders')
    const get = (url: string) => app.inject({ url, headers: { authorization: `Bearer ${ordersToken}` } })
    assert.equal((await get('/orders')).statusCode, 200)
    assert.equal((await get('/orders')).statusCode, 200)
    assert.equal(orders.calls, 1, 'cached for orders')
    assert.equal((await get('/billing')).statusCode, 401, 'never served from the orders entry')
    assert.equal(billing.calls, 1, 'billing validated it itself')
    await app.close()
  })

  test('a flood of rejected tokens cannot push validated entries out', async () => {
    const provider = counted(defineProvider({
      name: 'flood',
      getPayload: async (token) => {
        if (!token.startsWith('good-')) throw new InvalidTokenError()
        return { sub: token, exp: Math.floor(Date.now() / 1000) + 600 }
      },
    }))
    const cache = createCache({ max: 100, negativeTtl: 60_000, negativeMax: 50 })
    for (let i = 0; i < 60; i++) await tokenAuth(`good-${i}`, provider, { cache })
    for (let i = 0; i < 10_000; i++) await tokenAuth(`bad-${randomBytes(12).toString('hex')}`, provider, { cache })
    assert.equal(cache.rejectedSize, 50)
    const before = provider.calls
    for (let i = 0; i < 60; i++) assert.ok('uid' in await tokenAuth(`good-${i}`, provider, { cache }))
    assert.equal(provider.calls, before, 'all 60 still cached')
  })
})

describe('diagnostics_channel', () => {
  test('validation, provider-call events: hit/miss/joined/negative, and never a raw token', async () => {
    const messages: Array<Record<string, unknown>> = []
    const onMessage = (message: unknown): void => { messages.push(message as Record<string, unknown>) }
    const names = ['fastify-token-auth:validation', 'fastify-token-auth:provider-call']
    for (const name of names) subscribe(name, onMessage)
    const secret = 'diagnostic-secret-token.ABCDEF'
    const provider = testProvider({ tokens: { [secret]: { sub: 'alice' } } })
    const cache = createCache({ negativeTtl: 60_000 })
    try {
      await Promise.all([tokenAuth(secret, provider, { cache }), tokenAuth(secret, provider, { cache })])
      await tokenAuth(secret, provider, { cache })
      await tokenAuth('unknown-secret-token.GHIJ', provider, { cache })
      await tokenAuth('unknown-secret-token.GHIJ', provider, { cache })
    } finally {
      for (const name of names) unsubscribe(name, onMessage)
    }
    const validations = messages.filter((message) => 'cache' in message).map((message) => `${String(message.cache)}:${String(message.outcome)}`)
    assert.deepEqual(validations, ['miss:accepted', 'joined:accepted', 'hit:accepted', 'miss:invalid_token', 'negative:invalid_token'])
    const calls = messages.filter((message) => 'attempt' in message)
    assert.equal(calls.length, 2)
    for (const message of messages) {
      const text = JSON.stringify(message)
      assert.ok(!text.includes(secret) && !text.includes('unknown-secret-token.GHIJ'), text)
      assert.match(String(message.token), /^[\w-]{12}$/)
    }
  })
})
