import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import {
  cacheKey, createCache, defineProvider, namespaceOf, InvalidTokenError, isAuthFailure, ProviderUnavailableError, tokenAuth,
  type Auth, type AuthFailure, type Claims,
} from '../src/index.js'
import { testProvider } from '../providers/test.js'
import { NOW_S } from './helpers/app.js'
import { useVirtualTime } from './helpers/clock.js'
import { until } from './helpers/poll.js'

function assertAuth(result: Auth | AuthFailure): Auth {
  assert.ok(!isAuthFailure(result), `expected an Auth, got ${JSON.stringify(result)}`)
  return result
}
function assertFailure(result: Auth | AuthFailure, key: string, status: number): AuthFailure {
  assert.ok(isAuthFailure(result), `expected a failure, got ${JSON.stringify(result)}`)
  assert.equal(result.errors[0]?.messageKey, key)
  assert.equal(result.status, status)
  return result
}

/** A provider that accepts any token, counts calls, and can be slowed (on the timers: virtual in the tests that slow it), failed or held. */
function countingProvider(options: { delayMs?: number; payload?: (token: string) => Claims; fail?: () => Error | undefined } = {}) {
  const state = { calls: 0 }
  const provider = defineProvider({
    name: 'counting',
    getPayload: async (token) => {
      state.calls++
      if (options.delayMs !== undefined) await sleep(options.delayMs)
      const failure = options.fail?.()
      if (failure !== undefined) throw failure
      return options.payload?.(token) ?? { sub: `user-${token.slice(0, 8)}`, exp: NOW_S() + 3600 }
    },
  })
  return { provider, state }
}

describe('Auth built from standard claims', () => {
  test('every field matches the payload', async () => {
    const exp = NOW_S() + 600
    const payload = {
      sub: 'alice', scope: 'orders:read  orders:write', exp, iat: exp - 900, nbf: exp - 900,
      iss: 'https://idp.test/', aud: 'api://orders', client_id: 'web', jti: 'j-1', azp: 'web',
      name: 'Alice Liddell', given_name: 'Alice', email: 'alice@example.test', email_verified: true,
      picture: 'https://example.test/a.png', locale: 'en-GB', tenant: 'wonderland',
    }
    const auth = assertAuth(await tokenAuth('tok-alice', testProvider({ tokens: { 'tok-alice': payload } })))
    assert.deepEqual(auth, {
      uid: 'alice',
      provider: 'test',
      strategy: 'bearer',
      credentials: {
        tokenType: 'Bearer',
        expires: true,
        expiresAt: exp,
        scopes: ['orders:read', 'orders:write'],
        other: { iss: 'https://idp.test/', aud: 'api://orders', client_id: 'web', azp: 'web', jti: 'j-1', iat: exp - 900, nbf: exp - 900 },
      },
      info: {
        name: 'Alice Liddell', given_name: 'Alice', email: 'alice@example.test', email_verified: true,
        picture: 'https://example.test/a.png', locale: 'en-GB',
      },
      extra: { rawInfo: payload },
    })
    assert.equal(auth.credentials.token, 'tok-alice', 'the token is there to read')
    assert.ok(!JSON.stringify(auth).includes('tok-alice'), '…and not serialised')
    assert.ok(!Object.keys({ ...auth.credentials }).includes('token'), '…nor spread')
  })

  test('scp as an array and as a space-separated string', async () => {
    const provider = testProvider({ tokens: { a: { sub: 'a', scp: ['x', 'y'] }, b: { sub: 'b', scp: 'x y' } } })
    assert.deepEqual(assertAuth(await tokenAuth('a', provider)).credentials.scopes, ['x', 'y'])
    assert.deepEqual(assertAuth(await tokenAuth('b', provider)).credentials.scopes, ['x', 'y'])
  })

  test('a token without exp: expires false, no expiresAt', async () => {
    const auth = assertAuth(await tokenAuth('a', testProvider({ tokens: { a: { sub: 'a' } } })))
    assert.equal(auth.credentials.expires, false)
    assert.equal('expiresAt' in auth.credentials, false)
    assert.deepEqual(auth.credentials.scopes, [])
  })

  test('uid falls back to client_id for machine tokens; neither is invalid_token', async () => {
    const provider = testProvider({ tokens: { m: { client_id: 'billing' }, n: { scope: 'a' }, e: { sub: '' } } })
    assert.equal(assertAuth(await tokenAuth('m', provider)).uid, 'billing')
    assertFailure(await tokenAuth('n', provider), 'invalid_token', 401)
    assertFailure(await tokenAuth('e', provider), 'invalid_token', 401)
  })

  test('expired, not yet valid and non-numeric exp are invalid_token', async () => {
    const provider = testProvider({
      tokens: {
        'expired-token.1': { sub: 'a', exp: NOW_S() - 1 },
        'future-token.1': { sub: 'a', nbf: NOW_S() + 60 },
        'text-exp-token.1': { sub: 'a', exp: String(NOW_S() + 60) },
      },
    })
    assert.equal(assertFailure(await tokenAuth('expired-token.1', provider), 'invalid_token', 401).errors[0]?.message, 'The access token expired')
    assertFailure(await tokenAuth('future-token.1', provider), 'invalid_token', 401)
    assertFailure(await tokenAuth('text-exp-token.1', provider), 'invalid_token', 401)
  })

  test('clockTolerance admits a token expired within the tolerance', async () => {
    const tokens = { late: { sub: 'a', exp: NOW_S() - 2 } }
    assertFailure(await tokenAuth('late', testProvider({ tokens })), 'invalid_token', 401)
    assertAuth(await tokenAuth('late', testProvider({ tokens, clockTolerance: 10 })))
  })

  test('defineProvider allows 5 s of clock skew by default on exp and nbf', async () => {
    const payloads: Record<string, Claims> = {
      'skewed-exp.1': { sub: 'a', exp: NOW_S() - 2 },
      'skewed-nbf.1': { sub: 'a', nbf: NOW_S() + 2 },
      'long-expired.1': { sub: 'a', exp: NOW_S() - 10 },
      'far-future.1': { sub: 'a', nbf: NOW_S() + 10 },
    }
    const provider = defineProvider({ name: 'skew', getPayload: async (token) => payloads[token]! })
    assertAuth(await tokenAuth('skewed-exp.1', provider))
    assertAuth(await tokenAuth('skewed-nbf.1', provider))
    assertFailure(await tokenAuth('long-expired.1', provider), 'invalid_token', 401)
    assertFailure(await tokenAuth('far-future.1', provider), 'invalid_token', 401)
  })

  test('a token accepted within the exp tolerance is never cached past its exp', async () => {
    let calls = 0
    const provider = defineProvider({ name: 'skew', getPayload: async () => { calls++; return { sub: 'a', exp: NOW_S() - 2 } } })
    const cache = createCache()
    assertAuth(await tokenAuth('skewed-exp.2', provider, { cache }))
    assertAuth(await tokenAuth('skewed-exp.2', provider, { cache }))
    assert.equal(calls, 2)
    assert.equal(cache.size, 0)
  })

  test('scopes option: a token without the scope is insufficient_scope 403', async () => {
    const provider = testProvider({ tokens: { a: { sub: 'a', scope: 'read' } } })
    assertAuth(await tokenAuth('a', provider, { scopes: ['read'] }))
    assertFailure(await tokenAuth('a', provider, { scopes: ['read', 'write'] }), 'insufficient_scope', 403)
  })
})

describe('bad input never reaches the provider', () => {
  for (const [name, token, key, status] of [
    ['empty', '', 'missing_token', 401],
    ['inner space', 'a b', 'invalid_request', 400],
    ['non-ASCII', 'tøken', 'invalid_request', 400],
    ['longer than maxTokenLength', 'a'.repeat(8193), 'invalid_request', 400],
  ] as const) {
    test(name, async () => {
      const { provider, state } = countingProvider()
      assertFailure(await tokenAuth(token, provider), key, status)
      assert.equal(state.calls, 0)
    })
  }
  test('a non-string token', async () => {
    const { provider, state } = countingProvider()
    assertFailure(await tokenAuth(42 as unknown as string, provider), 'missing_token', 401)
    assert.equal(state.calls, 0)
  })
  test('bad options are a TypeError', async () => {
    const { provider } = countingProvider()
    await assert.rejects(tokenAuth('a', provider, { timeout: -1 }), TypeError)
    await assert.rejects(tokenAuth('a', provider, { cache: {} as never }), TypeError)
    await assert.rejects(tokenAuth('a', { name: 'x' } as never), /provider.getPayload must be a function/)
    assert.throws(() => createCache({ max: 0 }), /cache.max must be an integer from 1 /)
  })
})

describe('cache', () => {
  test('N requests for one token make one provider call', async () => {
    const { provider, state } = countingProvider()
    const cache = createCache()
    for (let i = 0; i < 20; i++) assertAuth(await tokenAuth('tok', provider, { cache }))
    assert.equal(state.calls, 1)
    assert.equal(cache.size, 1)
  })

  test('the cache holds no raw token, in key or value', async () => {
    const token = 'secret-token-value.abc'
    const cache = createCache()
    const provider = testProvider({ tokens: { [token]: { sub: 'a', exp: NOW_S() + 60 } } })
    const auth = assertAuth(await tokenAuth(token, provider, { cache }))
    assert.equal(auth.credentials.token, token, 'the request gets its token')
    const key = cacheKey(namespaceOf(provider), token)
    assert.ok(!key.includes(token))
    const entry = cache.peek(key)
    assert.ok(entry !== undefined)
    assert.ok(!JSON.stringify(entry).includes(token))
  })

  test('an entry with getTtl 60 s and exp in 2 s is not served after exp', async (t) => {
    const clock = useVirtualTime(t)
    const exp = clock.nowS() + 2
    const provider = testProvider({ tokens: { t: { sub: 'a', exp } } })
    provider.getTtl = () => 60_000
    const cache = createCache()
    assertAuth(await tokenAuth('t', provider, { cache }))
    clock.tick(exp * 1000 - clock.now() - 1)
    assertAuth(await tokenAuth('t', provider, { cache }))
    assert.equal(provider.calls, 1, 'served from cache until the last ms before exp')
    clock.tick(21)
    assertFailure(await tokenAuth('t', provider, { cache }), 'invalid_token', 401)
    assert.equal(provider.calls, 2, 'the cache did not answer after exp')
  })

  test('TTL is min(getTtl, maxTtl): a short getTtl ends the entry early', async (t) => {
    const clock = useVirtualTime(t)
    const provider = testProvider({ tokens: { t: { sub: 'a', exp: clock.nowS() + 3600 } } })
    provider.getTtl = () => 50
    const cache = createCache()
    await tokenAuth('t', provider, { cache })
    clock.tick(50)
    await tokenAuth('t', provider, { cache })
    assert.equal(provider.calls, 1, 'kept for its 50 ms')
    clock.tick(30)
    await tokenAuth('t', provider, { cache })
    assert.equal(provider.calls, 2)
    const capped = testProvider({ tokens: { t: { sub: 'a', exp: clock.nowS() + 3600 } } })
    const small = createCache({ maxTtl: 50 })
    await tokenAuth('t', capped, { cache: small })
    clock.tick(50)
    await tokenAuth('t', capped, { cache: small })
    assert.equal(capped.calls, 1, 'kept for maxTtl')
    clock.tick(30)
    await tokenAuth('t', capped, { cache: small })
    assert.equal(capped.calls, 2)
  })

  test('negativeTtl: a rejected token is remembered for negativeTtl, then asked about again', async (t) => {
    const clock = useVirtualTime(t)
    const { provider, state } = countingProvider({ fail: () => new InvalidTokenError() })
    const cache = createCache({ negativeTtl: 5_000 })
    assertFailure(await tokenAuth('bad', provider, { cache }), 'invalid_token', 401)
    clock.tick(5_000)
    assertFailure(await tokenAuth('bad', provider, { cache }), 'invalid_token', 401)
    assert.equal(state.calls, 1, 'remembered for its 5 s')
    clock.tick(1)
    assertFailure(await tokenAuth('bad', provider, { cache }), 'invalid_token', 401)
    assert.equal(state.calls, 2, 'asked again once negativeTtl is over')
  })

  test('single-flight: 50 concurrent misses make 1 call and all get the Auth', async (t) => {
    const clock = useVirtualTime(t)
    const { provider, state } = countingProvider({ delayMs: 30 })
    const cache = createCache()
    const pending = Promise.all(Array.from({ length: 50 }, () => tokenAuth('same-token', provider, { cache })))
    await until(() => cache.flights.size === 1, 'the flight')
    await clock.advance(30)
    const results = await pending
    assert.equal(state.calls, 1)
    for (const result of results) assert.equal(assertAuth(result).credentials.token, 'same-token')
    assert.equal(cache.flights.size, 0, 'the flight is forgotten once settled')
  })

  test('single-flight also with cache: false, and nothing is kept after', async (t) => {
    const clock = useVirtualTime(t)
    const { provider, state } = countingProvider({ delayMs: 30 })
    const cache = createCache(false)
    const pending = Promise.all(Array.from({ length: 10 }, () => tokenAuth('t', provider, { cache })))
    await until(() => cache.flights.size === 1, 'the flight')
    await clock.advance(30)
    await pending
    assert.equal(state.calls, 1)
    const again = tokenAuth('t', provider, { cache })
    await until(() => cache.flights.size === 1, 'the flight')
    await clock.advance(30)
    await again
    assert.equal(state.calls, 2)
  })

  test('cache: false calls the provider every time', async () => {
    const { provider, state } = countingProvider()
    for (let i = 0; i < 5; i++) assertAuth(await tokenAuth('t', provider, { cache: false }))
    assert.equal(state.calls, 5)
  })

  test('provider_unavailable (503) is never cached', async () => {
    let down = true
    const { provider, state } = countingProvider({ fail: () => (down ? new ProviderUnavailableError('upstream 502', { retryAfter: 7 }) : undefined) })
    const cache = createCache({ negativeTtl: 60_000 })
    const failure = assertFailure(await tokenAuth('t', provider, { cache }), 'provider_unavailable', 503)
    assert.equal(failure.retryAfter, 7)
    assertFailure(await tokenAuth('t', provider, { cache }), 'provider_unavailable', 503)
    assert.equal(state.calls, 2)
    assert.equal(cache.size + cache.rejectedSize, 0)
    down = false
    assertAuth(await tokenAuth('t', provider, { cache }))
    assert.equal(state.calls, 3)
  })

  test('an unexpected provider error is a 503, not cached, never an Auth', async () => {
    const { provider, state } = countingProvider({ fail: () => new TypeError('bug in provider') })
    const cache = createCache({ negativeTtl: 60_000 })
    assertFailure(await tokenAuth('t', provider, { cache }), 'provider_unavailable', 503)
    assertFailure(await tokenAuth('t', provider, { cache }), 'provider_unavailable', 503)
    assert.equal(state.calls, 2)
  })

  test('negative cache only when negativeTtl > 0, in its own LRU', async () => {
    const bad = () => new InvalidTokenError()
    const plain = countingProvider({ fail: bad })
    const cache = createCache()
    await tokenAuth('bad', plain.provider, { cache })
    await tokenAuth('bad', plain.provider, { cache })
    assert.equal(plain.state.calls, 2, 'no negative caching by default')

    const negative = countingProvider({ fail: bad })
    const withNegative = createCache({ max: 10, negativeTtl: 60_000, negativeMax: 5 })
    for (let i = 0; i < 3; i++) assertFailure(await tokenAuth('bad', negative.provider, { cache: withNegative }), 'invalid_token', 401)
    assert.equal(negative.state.calls, 1)
    assert.equal(withNegative.size, 0, 'rejections never take a place of validated tokens')
    for (let i = 0; i < 20; i++) await tokenAuth(`bad-${i}`, negative.provider, { cache: withNegative })
    assert.equal(withNegative.rejectedSize, 5, 'the rejected LRU is bounded by negativeMax')
  })

  test('LRU max holds under 10,000 random tokens', async () => {
    const { provider, state } = countingProvider()
    const cache = createCache({ max: 500 })
    for (let i = 0; i < 10_000; i++) {
      const result = authOrThrow(await tokenAuth(randomBytes(24).toString('base64url'), provider, { cache }))
      assert.ok(cache.size <= 500, `size ${cache.size} after ${i + 1}`)
      void result
    }
    assert.equal(state.calls, 10_000)
    assert.equal(cache.size, 500)
  })

  test('a cached Auth cannot be changed by one request for the others', async () => {
    const provider = testProvider({ tokens: { t: { sub: 'a', scope: 'read', exp: NOW_S() + 60 } } })
    const cache = createCache()
    const first = assertAuth(await tokenAuth('t', provider, { cache }))
    assert.throws(() => first.credentials.scopes.push('admin'), TypeError)
    const second = assertAuth(await tokenAuth('t', provider, { cache }))
    assert.deepEqual(second.credentials.scopes, ['read'])
  })
})

function authOrThrow(result: Auth | AuthFailure): Auth {
  if (isAuthFailure(result)) throw new Error(`unexpected failure ${JSON.stringify(result)}`)
  return result
}

describe('deadline', () => {
  test('a provider that never answers is a 503 at the timeout, and its signal is aborted', async (t) => {
    const clock = useVirtualTime(t)
    let seenSignal: AbortSignal | undefined
    const provider = defineProvider({
      name: 'hang',
      getPayload: (_token, ctx) => {
        seenSignal = ctx.signal
        return new Promise(() => {})
      },
    })
    let settled = false
    const pending = tokenAuth('hanging-token.123', provider, { timeout: 100 }).finally(() => { settled = true })
    await until(() => seenSignal !== undefined, 'the provider call')
    await clock.advance(99)
    assert.equal(settled, false, 'still waiting 1 ms before the deadline')
    assert.equal(seenSignal?.aborted, false)
    clock.tick(1)
    await until(() => settled, 'the answer at the deadline')
    const failure = assertFailure(await pending, 'provider_unavailable', 503)
    assert.equal(seenSignal?.aborted, true)
    assert.equal(failure.errors[0]!.reason, 'timeout', 'the reason says why; the public text stays generic')
  })

  test('a late answer is discarded: not cached, the next request asks again', async (t) => {
    const clock = useVirtualTime(t)
    const { provider, state } = countingProvider({ delayMs: 150 })
    const cache = createCache()
    const first = tokenAuth('t', provider, { cache, timeout: 50 })
    await until(() => state.calls === 1, 'the provider call')
    await clock.advance(50)
    assertFailure(await first, 'provider_unavailable', 503)
    await clock.advance(150)
    assert.equal(cache.size, 0, 'the answer that came after the deadline was not kept')
    const second = tokenAuth('t', provider, { cache, timeout: 1000 })
    await until(() => state.calls === 2, 'the provider call')
    await clock.advance(150)
    assertAuth(await second)
    assert.equal(state.calls, 2)
  })
})
