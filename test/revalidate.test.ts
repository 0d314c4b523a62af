// Background re-validation on virtual time: the interval's ticks fire when the test moves the
// clock, and each tick's checks (real requests to a real identity provider) are waited for.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth, { createCache, type RevokedEvent } from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { testProvider } from '../providers/test.js'
import { API_CLIENT, useIdp } from './helpers/idp.js'
import { NOW_S } from './helpers/app.js'
import { useVirtualTime } from './helpers/clock.js'
import { stepRevalidation } from './helpers/revalidation.js'

const ctx = useIdp()

describe('background re-validation', () => {
  test('a token revoked at the identity provider is evicted within an interval, with an event, long before its ttl', async (t) => {
    const clock = useVirtualTime(t)
    const app = Fastify()
    const provider = introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, ttl: 60_000 })
    await app.register(fastifyTokenAuth, { provider, revalidate: { interval: 300 } })
    app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
    await app.ready()
    const { access_token } = await ctx.idp.token('web-opaque')
    const get = () => app.inject({ url: '/orders', headers: { authorization: `Bearer ${access_token}` } })
    assert.equal((await get()).statusCode, 200)
    assert.equal(app.tokenAuth.cache.retainedTokens, 1)
    await ctx.idp.revoke(access_token)
    let event: RevokedEvent | undefined
    app.tokenAuth.events.once('revoked', (revoked: RevokedEvent) => { event = revoked })
    const took = await stepRevalidation(clock, 30, () => event !== undefined, 1_000)
    assert.ok(event !== undefined, 'evicted')
    assert.ok(took <= 300, `evicted ${took} ms (virtual) after the revocation; interval 300 ms`)
    assert.equal(event.uid, 'web-opaque')
    assert.equal(event.provider, 'introspection')
    assert.ok(!JSON.stringify(event).includes(access_token))
    assert.equal((await get()).statusCode, 401)
    assert.equal(app.tokenAuth.cache.retainedTokens, 0, 'the evicted token is no longer held')
    await app.close()
  })

  test('valid tokens stay cached and are not re-fetched by requests', async (t) => {
    const clock = useVirtualTime(t)
    const exp = NOW_S() + 3600
    const provider = testProvider({ tokens: { 'kept-token.1': { sub: 'a', exp }, 'kept-token.2': { sub: 'b', exp } } })
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider, revalidate: { interval: 100 } })
    app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
    await app.ready()
    for (const token of ['kept-token.1', 'kept-token.2']) await app.inject({ url: '/x', headers: { authorization: `Bearer ${token}` } })
    const afterRequests = provider.calls
    await clock.advance(350, 10)
    assert.ok(provider.calls - afterRequests >= 4, `re-checked in the background (${provider.calls - afterRequests} calls)`)
    provider.setToken('kept-token.2', undefined)
    const revoked = once(app.tokenAuth.events, 'revoked') as Promise<[RevokedEvent]>
    await clock.advance(100, 10)
    const [event] = await revoked
    assert.equal(event.uid, 'b')
    assert.equal((await app.inject({ url: '/x', headers: { authorization: 'Bearer kept-token.1' } })).statusCode, 200)
    assert.equal(app.tokenAuth.cache.size, 1)
    await app.close()
  })

  test('an outage keeps the entries (not a revocation)', async (t) => {
    const clock = useVirtualTime(t)
    const provider = testProvider({ tokens: { 'outage-token.1': { sub: 'a', exp: NOW_S() + 3600 } } })
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider, revalidate: { interval: 50 }, breaker: false })
    app.get('/x', { config: { auth: true } }, async () => 'ok')
    await app.ready()
    await app.inject({ url: '/x', headers: { authorization: 'Bearer outage-token.1' } })
    provider.unavailable = true
    let revoked = 0
    app.tokenAuth.events.on('revoked', () => revoked++)
    const before = provider.calls
    await clock.advance(200, 5)
    assert.ok(provider.calls - before >= 4, `re-checked during the outage (${provider.calls - before} calls)`)
    assert.equal(revoked, 0)
    assert.equal(app.tokenAuth.cache.size, 1)
    provider.unavailable = false
    await app.close()
  })

  test('raw tokens are kept only when revalidate is on', async () => {
    const cache = createCache()
    const provider = testProvider({ tokens: { 'plain-token.1': { sub: 'a' } } })
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider, cache })
    app.get('/x', { config: { auth: true } }, async () => 'ok')
    await app.inject({ url: '/x', headers: { authorization: 'Bearer plain-token.1' } })
    assert.equal(cache.size, 1)
    assert.equal(cache.retainedTokens, 0)
    await app.close()
  })

  test('options are checked', async () => {
    const provider = testProvider({ tokens: {} })
    for (const [options, message] of [
      [{ revalidate: { interval: 1 } }, /revalidate\.interval must be an integer from 10 /],
      [{ revalidate: { interval: 1000 }, cache: false }, /revalidate needs the cache/],
    ] as const) {
      const app = Fastify()
      await assert.rejects(async () => {
        await app.register(fastifyTokenAuth, { provider, ...options })
        await app.ready()
      }, message)
      await app.close()
    }
  })
})
