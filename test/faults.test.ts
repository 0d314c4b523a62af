// Identity-provider faults against a real misbehaving server: every failure is a 503 (never a
// 401, never a 200), at the deadline, never cached; quick failures are retried once; a circuit
// breaker stops the calls while the identity provider is down. Deadlines, cooldowns, TTLs and
// grace periods run on virtual time; the server and its sockets are real.
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { after, before, beforeEach, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth, { createCache, tokenAuth, type Auth, type AuthFailure, type TokenAuthOptions } from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { useVirtualTime, type VirtualClock } from './helpers/clock.js'
import { startFaultServer, type FaultServer } from './helpers/fault-server.js'
import { until } from './helpers/poll.js'

let upstream: FaultServer
before(async () => {
  upstream = await startFaultServer()
})
after(() => upstream.close())
beforeEach(() => {
  upstream.mode = 'ok'
  upstream.headers = {}
  upstream.body = { active: true, sub: 'alice', scope: 'read', exp: Math.floor(Date.now() / 1000) + 3600 }
})

let counter = 0
const freshToken = (): string => `fault-token-${++counter}.${Date.now()}`
const provider = (options: Partial<Parameters<typeof introspectionProvider>[0]> = {}) =>
  introspectionProvider({ endpoint: `${upstream.url}/introspect`, clientId: 'api', clientSecret: 'secret', ...options })

function assert503(result: Auth | AuthFailure): AuthFailure {
  assert.ok('errors' in result, `expected a failure, got ${JSON.stringify(result)}`)
  assert.equal(result.status, 503)
  assert.equal(result.errors[0]?.messageKey, 'provider_unavailable')
  return result
}

async function expect503(token: string, options: TokenAuthOptions, p = provider()): Promise<AuthFailure> {
  return assert503(await tokenAuth(token, p, { breaker: false, ...options }))
}

/**
 * On virtual time: a call whose request reached the server is still waiting 1 ms before its
 * deadline, and has its answer at the deadline: the 503 of the deadline itself.
 */
async function expect503AtDeadline(clock: VirtualClock, token: string, options: TokenAuthOptions & { timeout: number }): Promise<AuthFailure> {
  const before = upstream.requests.length
  let settled = false
  const pending = tokenAuth(token, provider(), { breaker: false, ...options }).finally(() => { settled = true })
  await until(() => upstream.requests.length > before, 'the request at the server')
  await clock.advance(options.timeout - 1)
  assert.equal(settled, false, 'no answer before the deadline')
  clock.tick(1)
  await until(() => settled, 'the answer at the deadline')
  const failure = assert503(await pending)
  assert.equal(failure.errors[0]!.reason, 'timeout', 'the deadline answered')
  return failure
}

/** Whether a promise settles with no I/O and no timer: a fast answer, whatever the machine's speed. */
async function answeredAtOnce<T>(promise: Promise<T>): Promise<T> {
  const waited = Symbol('waited')
  const first = await Promise.race([promise, new Promise<typeof waited>((resolve) => setImmediate(() => resolve(waited)))])
  assert.notEqual(first, waited, 'answered without waiting for I/O or a timer')
  return first as T
}

describe('each fault is a 503, with the upstream call count it deserves', () => {
  const cases: Array<{ name: string; setup: () => void; calls: number; timeout?: number; retryAfter?: number }> = [
    { name: '500', setup: () => { upstream.mode = 'status'; upstream.status = 500 }, calls: 2 },
    { name: '502 from a proxy', setup: () => { upstream.mode = 'status'; upstream.status = 502 }, calls: 2 },
    { name: '503 with Retry-After 30 (not retried, Retry-After passed on)', setup: () => { upstream.mode = 'status'; upstream.status = 503; upstream.headers = { 'retry-after': '30' } }, calls: 1, retryAfter: 30 },
    { name: '429 with Retry-After 7', setup: () => { upstream.mode = 'status'; upstream.status = 429; upstream.headers = { 'retry-after': '7' } }, calls: 1, retryAfter: 7 },
    { name: '401 (our credentials refused)', setup: () => { upstream.mode = 'status'; upstream.status = 401 }, calls: 1 },
    { name: 'hang (no answer): 503 at the deadline', setup: () => { upstream.mode = 'hang' }, calls: 1, timeout: 300 },
    { name: 'reset mid-body (retried)', setup: () => { upstream.mode = 'reset' }, calls: 2 },
    { name: 'garbage with 200', setup: () => { upstream.mode = 'garbage' }, calls: 1 },
    { name: 'HTML with 200', setup: () => { upstream.mode = 'html' }, calls: 1 },
    { name: '10 s slow: 503 at the deadline', setup: () => { upstream.mode = 'slow'; upstream.delayMs = 10_000 }, calls: 1, timeout: 300 },
    { name: '50 MB body', setup: () => { upstream.mode = 'huge' }, calls: 1 },
    { name: 'endless body', setup: () => { upstream.mode = 'endless' }, calls: 1, timeout: 2000 },
  ]
  for (const { name, setup, calls, timeout, retryAfter } of cases) {
    test(name, async (t) => {
      setup()
      const cache = createCache({ negativeTtl: 60_000 })
      const before = upstream.requests.length
      const failure = timeout === undefined
        ? await expect503(freshToken(), { cache, timeout: 2000 })
        : await expect503AtDeadline(useVirtualTime(t), freshToken(), { cache, timeout })
      assert.equal(upstream.requests.length - before, calls, 'upstream calls')
      if (retryAfter !== undefined) assert.equal(failure.retryAfter, retryAfter)
      assert.equal(cache.size + cache.rejectedSize, 0, 'nothing cached')
    })
  }

  test('down (connection refused): 503, retried once', async () => {
    const down = await startFaultServer()
    const url = down.url
    await down.close()
    const events: unknown[] = []
    const onCall = (message: unknown): void => { events.push(message) }
    subscribe('fastify-token-auth:provider-call', onCall)
    try {
      await expect503(freshToken(), {}, introspectionProvider({ endpoint: `${url}/introspect`, clientId: 'a', clientSecret: 'b' }))
    } finally {
      unsubscribe('fastify-token-auth:provider-call', onCall)
    }
    assert.equal(events.length, 2, 'two attempts')
  })

  test('a redirect is not followed, and the client secret never reaches the other host', async () => {
    const elsewhere = await startFaultServer()
    upstream.mode = 'redirect'
    upstream.location = `${elsewhere.url}/steal`
    try {
      await expect503(freshToken(), {})
      assert.equal(elsewhere.requests.length, 0)
    } finally {
      await elsewhere.close()
    }
  })

  test('a late answer is discarded: not cached, the next request asks again', async (t) => {
    upstream.mode = 'slow'
    upstream.delayMs = 400
    const cache = createCache()
    const token = freshToken()
    const before = upstream.requests.length
    const clock = useVirtualTime(t)
    await expect503AtDeadline(clock, token, { cache, timeout: 150 })
    await clock.advance(350)
    assert.equal(cache.size, 0)
    upstream.mode = 'ok'
    const result = await tokenAuth(token, provider(), { cache, breaker: false })
    assert.ok('uid' in result)
    assert.equal(upstream.requests.length - before, 2)
  })
})

describe('circuit breaker', () => {
  test('opens after the threshold: 0 upstream calls while open, fast 503 with Retry-After; a probe closes it', async (t) => {
    // Virtual Date (the breaker's clock), real timers (the retries' pauses, the deadline).
    const clock = useVirtualTime(t, { timers: false })
    const p = provider()
    const states: string[] = []
    const onState = (message: unknown): void => { states.push((message as { to: string }).to) }
    subscribe('fastify-token-auth:breaker', onState)
    const options: TokenAuthOptions = { breaker: { threshold: 3, cooldown: 400 }, timeout: 1000 }
    try {
      upstream.mode = 'status'
      upstream.status = 500
      for (let i = 0; i < 2; i++) await tokenAuth(freshToken(), p, options) // 2 requests × 2 attempts ≥ 3 failures
      const before = upstream.requests.length
      for (let i = 0; i < 20; i++) {
        const result = await answeredAtOnce(tokenAuth(freshToken(), p, options))
        assert.ok('errors' in result && result.status === 503)
        assert.ok(result.retryAfter !== undefined && result.retryAfter >= 1)
      }
      assert.equal(upstream.requests.length - before, 0, 'no call while open')
      upstream.mode = 'ok'
      await clock.advance(399)
      assert.equal((await tokenAuth(freshToken(), p, options) as AuthFailure).status, 503, 'still open 1 ms before the cooldown ends')
      assert.equal(upstream.requests.length - before, 0)
      await clock.advance(1)
      const probe = await tokenAuth(freshToken(), p, options)
      assert.ok('uid' in probe, 'the half-open probe went through')
      assert.equal(upstream.requests.length - before, 1)
      assert.ok('uid' in await tokenAuth(freshToken(), p, options))
    } finally {
      unsubscribe('fastify-token-auth:breaker', onState)
    }
    assert.deepEqual(states, ['open', 'half-open', 'closed'])
  })

  test('a failed probe reopens it', async (t) => {
    const clock = useVirtualTime(t, { timers: false })
    const p = provider()
    const options: TokenAuthOptions = { breaker: { threshold: 1, cooldown: 200 }, timeout: 1000 }
    upstream.mode = 'status'
    upstream.status = 503
    upstream.headers = { 'retry-after': '30' }
    await tokenAuth(freshToken(), p, options)
    await clock.advance(200)
    const before = upstream.requests.length
    await Promise.all(Array.from({ length: 5 }, () => tokenAuth(freshToken(), p, options)))
    assert.equal(upstream.requests.length - before, 1, 'one probe only in half-open')
    assert.equal((await tokenAuth(freshToken(), p, options) as AuthFailure).status, 503)
    assert.equal(upstream.requests.length - before, 1, 'reopened')
  })

  test('invalid tokens are answers: they never open the circuit', async () => {
    const p = provider()
    upstream.body = { active: false }
    for (let i = 0; i < 10; i++) {
      const result = await tokenAuth(freshToken(), p, { breaker: { threshold: 2, cooldown: 10_000 } })
      assert.ok('errors' in result && result.status === 401)
    }
  })
})

describe('through the plugin', () => {
  let app: FastifyInstance
  before(async () => {
    app = Fastify()
    await app.register(fastifyTokenAuth, { provider: provider(), timeout: 300, breaker: false })
    app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
    await app.ready()
  })
  after(() => app.close())

  test('a hung identity provider: 503 at the deadline, with Retry-After', async (t) => {
    const clock = useVirtualTime(t)
    upstream.mode = 'hang'
    const before = upstream.requests.length
    let answered = false
    const pending = app.inject({ url: '/x', headers: { authorization: `Bearer ${freshToken()}` } }).finally(() => { answered = true })
    await until(() => upstream.requests.length > before, 'the request at the server')
    await clock.advance(299)
    assert.equal(answered, false, 'no answer before the deadline (300 ms)')
    clock.tick(1)
    await until(() => answered, 'the answer at the deadline')
    const response = await pending
    assert.equal(response.statusCode, 503)
    assert.equal(response.headers['retry-after'], '5')
  })

  test('a 503 upstream with Retry-After is passed on', async () => {
    upstream.mode = 'status'
    upstream.status = 503
    upstream.headers = { 'retry-after': '42' }
    const response = await app.inject({ url: '/x', headers: { authorization: `Bearer ${freshToken()}` } })
    assert.equal(response.statusCode, 503)
    assert.equal(response.headers['retry-after'], '42')
  })
})

describe('introspection staleIfError (opt-in)', () => {
  test('serves the last active answer during an outage, for the grace only, never past exp', async (t) => {
    const clock = useVirtualTime(t, { timers: false })
    const p = provider({ ttl: 100, staleIfError: 400 })
    const cache = createCache()
    const token = freshToken()
    assert.ok('uid' in await tokenAuth(token, p, { cache, breaker: false }))
    upstream.mode = 'status'
    upstream.status = 500
    await clock.advance(150)
    const stale = await tokenAuth(token, p, { cache, breaker: false })
    assert.ok('uid' in stale, 'served stale during the outage')
    await clock.advance(450)
    assert.equal((await tokenAuth(token, p, { cache, breaker: false }) as AuthFailure).status, 503, 'grace over')
    const never = await tokenAuth(freshToken(), p, { cache, breaker: false })
    assert.equal((never as AuthFailure).status, 503, 'a token never seen gets no stale answer')
  })

  test('never past exp, and off by default', async (t) => {
    // Virtual time starts on a whole second: the token lives exactly 1 s.
    const clock = useVirtualTime(t, { timers: false })
    const exp = clock.nowS() + 1
    upstream.body = { active: true, sub: 'alice', exp }
    const p = provider({ ttl: 60_000, staleIfError: 60_000, clockTolerance: 0 })
    const cache = createCache()
    const token = freshToken()
    assert.ok('uid' in await tokenAuth(token, p, { cache, breaker: false }))
    upstream.mode = 'status'
    await clock.advance(999)
    assert.ok('uid' in await tokenAuth(token, p, { cache, breaker: false }), 'served until exp')
    await clock.advance(1)
    assert.equal((await tokenAuth(token, p, { cache, breaker: false }) as AuthFailure).status, 503, 'not at exp')
    await clock.advance(100)
    assert.equal((await tokenAuth(token, p, { cache, breaker: false }) as AuthFailure).status, 503, 'nor past it')

    upstream.mode = 'ok'
    upstream.body = { active: true, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 }
    const plain = provider({ ttl: 50 })
    const other = freshToken()
    assert.ok('uid' in await tokenAuth(other, plain, { cache, breaker: false }))
    upstream.mode = 'status'
    await clock.advance(80)
    assert.equal((await tokenAuth(other, plain, { cache, breaker: false }) as AuthFailure).status, 503)
  })

  test('staleIfError above 60 s is refused', () => {
    assert.throws(() => provider({ staleIfError: 120_000 }), /staleIfError must be an integer from 0 to 60,000/)
  })
})
