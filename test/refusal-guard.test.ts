// Token guessing cannot be amplified into identity-provider calls (issue 18): a client whose
// tokens the identity provider refused `max` times in a window gets 429 for its new tokens, before
// the provider is asked; cache hits and other clients go on; the window passes (virtual time).
import assert from 'node:assert/strict'
import { afterEach, describe, mock, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth from '../src/index.js'
import { RefusalGuard } from '../src/refusal-guard.js'
import { testProvider, type TestProvider } from '../providers/test.js'

afterEach(() => mock.timers.reset())

async function appWith(refusalLimit?: { max: number; window: number } | false): Promise<{ app: FastifyInstance; provider: TestProvider }> {
  const provider = testProvider({ tokens: { 'good-token.1': { sub: 'good', exp: Math.floor(Date.now() / 1000) + 7200 } } })
  const app = Fastify({ trustProxy: true })
  await app.register(fastifyTokenAuth, { provider, ...(refusalLimit === undefined ? {} : { refusalLimit }) })
  app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
  await app.ready()
  return { app, provider }
}
const get = (app: FastifyInstance, token: string, client = '203.0.113.7') =>
  app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client } })

describe('the refusal guard', () => {
  test('after max refused tokens, new tokens get 429 with Retry-After and never reach the provider', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() })
    const { app, provider } = await appWith({ max: 5, window: 60_000 })
    assert.equal((await get(app, 'good-token.1')).statusCode, 200, 'a good token, cached before the guessing')
    for (let i = 0; i < 5; i++) assert.equal((await get(app, `guess-${i}.x`)).statusCode, 401)
    const calls = provider.calls
    for (let i = 5; i < 25; i++) {
      const response = await get(app, `guess-${i}.x`)
      assert.equal(response.statusCode, 429)
      assert.equal(response.json().error, 'too_many_attempts')
      assert.ok(Number(response.headers['retry-after']) >= 1 && Number(response.headers['retry-after']) <= 60)
      assert.equal(response.headers['www-authenticate'], undefined)
    }
    assert.equal(provider.calls, calls, '20 guesses, 0 calls to the identity provider')
    assert.equal((await get(app, 'good-token.1')).statusCode, 200, 'a cached token of the same client still passes')
    assert.equal((await get(app, 'guess-99.x', '198.51.100.1')).statusCode, 401, 'another client is asked about as usual')
    mock.timers.tick(60_000)
    assert.equal((await get(app, 'guess-100.x')).statusCode, 401, 'the window passed: asked again')
    await app.close()
  })

  test('on by default (100 per minute); refusalLimit: false turns it off', async () => {
    const on = await appWith()
    for (let i = 0; i < 100; i++) await get(on.app, `guess-${i}.y`)
    assert.equal((await get(on.app, 'guess-100.y')).statusCode, 429)
    await on.app.close()
    const off = await appWith(false)
    for (let i = 0; i < 120; i++) assert.equal((await get(off.app, `guess-${i}.z`)).statusCode, 401)
    assert.equal(off.provider.calls, 120)
    await off.app.close()
  })

  test('options are checked', async () => {
    for (const [refusalLimit, message] of [[{ max: 0 }, /refusalLimit\.max must be an integer from 1/], [{ window: 10 }, /refusalLimit\.window/], [{ maxx: 3 }, /unknown option "maxx"/]] as const) {
      const app = Fastify()
      await assert.rejects(async () => {
        await app.register(fastifyTokenAuth, { provider: testProvider({ tokens: {} }), refusalLimit: refusalLimit as never })
        await app.ready()
      }, message)
      await app.close()
    }
  })

  test('the guard itself: counts per client within a window', () => {
    const guard = new RefusalGuard(2, 1_000)
    guard.refused('a', 0)
    assert.equal(guard.blocked('a', 10), undefined)
    guard.refused('a', 20)
    assert.equal(guard.blocked('a', 30), 1)
    assert.equal(guard.blocked('b', 30), undefined)
    assert.equal(guard.blocked('a', 1_000), undefined, 'a new window')
    assert.equal(guard.blocked(undefined, 30), undefined)
  })
})
