import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth, { createCache, defineProvider, InvalidTokenError } from '../src/index.js'
import { testProvider, type TestProvider } from '../providers/test.js'
import { buildApp, NOW_S, standardTokens, TOKENS } from './helpers/app.js'
import { captureLogs } from './helpers/logs.js'

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('enforcement and answers (RFC 6750 §3)', () => {
  let app: FastifyInstance
  let provider: TestProvider
  before(async () => {
    ({ app, provider } = await buildApp())
  })
  after(() => app.close())

  test('valid token with the scope: 200 and the uid', async () => {
    const response = await app.inject({ url: '/orders', headers: bearer(TOKENS.alice) })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { uid: 'alice' })
  })

  test('machine token: uid is the client_id', async () => {
    const response = await app.inject({ url: '/orders', headers: bearer(TOKENS.machine) })
    assert.deepEqual(response.json(), { uid: 'billing-service' })
  })

  test('no token: 401, challenge without an error code', async () => {
    const response = await app.inject({ url: '/orders' })
    assert.equal(response.statusCode, 401)
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"')
    assert.deepEqual(response.json(), { error: 'missing_token', error_description: 'An access token is required' })
  })

  test('unknown token: 401 invalid_token', async () => {
    const response = await app.inject({ url: '/orders', headers: bearer('unknown-token.zzz') })
    assert.equal(response.statusCode, 401)
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="api", error="invalid_token", error_description="The access token is unknown"')
    assert.equal(response.json().error, 'invalid_token')
    assert.equal(response.headers['cache-control'], 'no-store')
  })

  test('missing scope: 403 naming the scope', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders', headers: bearer(TOKENS.reader) })
    assert.equal(response.statusCode, 403)
    assert.equal(response.headers['www-authenticate'],
      'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:write"')
    assert.equal(response.json().error, 'insufficient_scope')
  })

  test('config.auth: true needs a token, no scope', async () => {
    assert.equal((await app.inject({ url: '/private', headers: bearer(TOKENS.reader) })).statusCode, 200)
    assert.equal((await app.inject({ url: '/private' })).statusCode, 401)
  })

  test('requireAuth() as a preHandler enforces its scopes', async () => {
    const response = await app.inject({ url: '/admin', headers: bearer(TOKENS.alice) })
    assert.equal(response.statusCode, 403)
    assert.match(response.headers['www-authenticate'] as string, /scope="admin"/)
    assert.equal((await app.inject({ url: '/admin' })).statusCode, 401)
  })

  test('a route without config.auth is decorated but never rejected', async () => {
    const answer = await app.inject({ url: '/me', headers: bearer(TOKENS.alice) })
    const ok = answer.json()
    assert.equal(ok.auth.uid, 'alice')
    // The README's /me example sends request.auth as it is: the raw token stays out of the body.
    assert.equal(ok.auth.credentials.token, undefined)
    assert.ok(!answer.body.includes(TOKENS.alice), 'the token is not serialised')
    assert.equal(ok.authFailure, null)
    const bad = await app.inject({ url: '/me', headers: bearer('nope-token.x') })
    assert.equal(bad.statusCode, 200)
    assert.equal(bad.json().auth, null)
    assert.deepEqual(bad.json().authFailure, {
      provider: 'test', strategy: 'bearer', status: 401,
      errors: [{ messageKey: 'invalid_token', message: 'The access token is unknown' }],
    })
    const none = (await app.inject({ url: '/me' })).json()
    assert.equal(none.authFailure.errors[0].messageKey, 'missing_token')
  })

  test('config.auth: false skips authentication: the provider is not called', async () => {
    const calls = provider.calls
    const response = await app.inject({ url: '/health', headers: bearer('never-seen-token.1') })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { ok: true, auth: null, authFailure: null })
    assert.equal(provider.calls, calls)
  })

  test('N requests with one token: one provider call (cached)', async () => {
    const token = 'fresh-token.for-cache'
    provider.setToken(token, { sub: 'carol', scope: 'orders:read', exp: NOW_S() + 600 })
    const calls = provider.calls
    for (let i = 0; i < 25; i++) assert.equal((await app.inject({ url: '/orders', headers: bearer(token) })).statusCode, 200)
    assert.equal(provider.calls, calls + 1)
  })

  test('scopes are checked on every cache hit: the cache holds claims, not decisions', async () => {
    assert.equal((await app.inject({ url: '/orders', headers: bearer(TOKENS.reader) })).statusCode, 200)
    assert.equal((await app.inject({ method: 'POST', url: '/orders', headers: bearer(TOKENS.reader) })).statusCode, 403)
    assert.equal((await app.inject({ url: '/orders', headers: bearer(TOKENS.reader) })).statusCode, 200)
  })

  test('identity provider down: 503 with Retry-After and no challenge; back up: 200', async () => {
    const token = 'outage-token.1'
    provider.setToken(token, { sub: 'dave', exp: NOW_S() + 600 })
    provider.unavailable = true
    try {
      const response = await app.inject({ url: '/private', headers: bearer(token) })
      assert.equal(response.statusCode, 503)
      assert.equal(response.headers['retry-after'], '5')
      assert.equal(response.headers['www-authenticate'], undefined)
      assert.equal(response.json().error, 'provider_unavailable')
      assert.equal((await app.inject({ url: '/me', headers: bearer(token) })).json().authFailure.status, 503)
    } finally {
      provider.unavailable = false
    }
    assert.equal((await app.inject({ url: '/private', headers: bearer(token) })).statusCode, 200)
  })

  test('app.tokenAuth.verify runs the same pipeline', async () => {
    const result = await app.tokenAuth.verify(TOKENS.alice, { scopes: ['orders:write'] })
    assert.equal('uid' in result && result.uid, 'alice')
    const denied = await app.tokenAuth.verify(TOKENS.reader, { scopes: ['orders:write'] })
    assert.equal('errors' in denied && denied.errors[0]?.messageKey, 'insufficient_scope')
    const malformed = await app.tokenAuth.verify('bad token')
    assert.equal('errors' in malformed && malformed.status, 400)
  })
})

describe('revocation on one instance (no store)', () => {
  test('a revoked token never seen here: 401 "revoked", and the provider is not asked', async () => {
    const { app, provider } = await buildApp()
    await app.tokenAuth.revoke(TOKENS.alice)
    const response = await app.inject({ url: '/orders', headers: bearer(TOKENS.alice) })
    assert.equal(response.statusCode, 401)
    assert.equal(response.json().error_description, 'The access token was revoked')
    assert.equal(provider.calls, 0)
    assert.equal((await app.inject({ url: '/orders', headers: bearer(TOKENS.reader) })).statusCode, 200, 'other tokens pass')
    await app.close()
  })

  test('revoke { uid }: its tokens are refused, the answer of a fresh provider call too; others pass from the cache', async () => {
    const { app, provider } = await buildApp()
    assert.equal((await app.inject({ url: '/orders', headers: bearer(TOKENS.alice) })).statusCode, 200)
    assert.equal((await app.inject({ url: '/orders', headers: bearer(TOKENS.reader) })).statusCode, 200)
    const calls = provider.calls
    await app.tokenAuth.revoke({ uid: 'alice' })
    const refused = await app.inject({ url: '/orders', headers: bearer(TOKENS.alice) })
    assert.equal(refused.statusCode, 401)
    assert.equal(refused.json().error_description, 'The access token was revoked')
    assert.equal((await app.inject({ url: '/orders', headers: bearer(TOKENS.reader) })).statusCode, 200)
    assert.equal(provider.calls - calls, 1, 'only alice\'s token, forgotten by the revocation, was asked again (its answer then refused)')
    await assert.rejects(app.tokenAuth.revoke({ sub: 'alice' } as never), /pass a token or \{ uid \}/)
    await app.close()
  })
})

describe('options of revoke() and issueTicket()', () => {
  test('an unknown key is refused, naming it (a typo must not drop the setting)', async () => {
    const provider = testProvider({ tokens: standardTokens() })
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider, ticketSecret: 'a-ticket-secret-of-at-least-32-bytes!!' })
    await app.ready()
    await assert.rejects(app.tokenAuth.revoke(TOKENS.alice, { untill: Date.now() + 60_000 } as never), /revoke: options: unknown option "untill"/)
    await assert.rejects(app.tokenAuth.revoke(TOKENS.alice, null as never), /revoke: options must be an object/)
    const auth = await app.tokenAuth.verify(TOKENS.alice)
    assert.ok('uid' in auth)
    assert.throws(() => app.tokenAuth.issueTicket(auth, { route: '/ws', tll: 5_000 } as never), /issueTicket: options: unknown option "tll"/)
    assert.equal(typeof app.tokenAuth.issueTicket(auth, { route: '/ws', ttl: 5_000 }), 'string', 'the known keys still work')
    await app.close()
  })
})

describe('revocation of a uid and clock skew', () => {
  // A token issued just before the revocation by an identity provider whose clock runs ahead
  // carries a later iat; the provider accepts an iat up to its clockTolerance ahead.
  async function appWith(clockTolerance: number) {
    const nowS = Math.floor(Date.now() / 1000)
    const exp = nowS + 3600
    const provider = testProvider({ clockTolerance, tokens: {
      'ahead-3s.1': { sub: 'alice', scope: 'orders:read', exp, iat: nowS + 3 },
      'ahead-50s.1': { sub: 'alice', scope: 'orders:read', exp, iat: nowS + 50 },
    } })
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider })
    app.get('/orders', { config: { auth: true } }, async (request) => request.auth.uid)
    return app
  }

  test('revoke { uid } refuses a token whose iat is ahead by less than the clock tolerance (5 s, defineProvider\'s default)', async () => {
    const app = await appWith(5)
    assert.equal((await app.inject({ url: '/orders', headers: bearer('ahead-3s.1') })).statusCode, 200)
    await app.tokenAuth.revoke({ uid: 'alice' })
    const refused = await app.inject({ url: '/orders', headers: bearer('ahead-3s.1') })
    assert.equal(refused.statusCode, 401)
    assert.equal(refused.json().error_description, 'The access token was revoked')
    await app.close()
  })

  test('the window follows the provider\'s clockTolerance (60 s: an iat 50 s ahead is covered)', async () => {
    const app = await appWith(60)
    assert.equal((await app.inject({ url: '/orders', headers: bearer('ahead-50s.1') })).statusCode, 200)
    await app.tokenAuth.revoke({ uid: 'alice' })
    assert.equal((await app.inject({ url: '/orders', headers: bearer('ahead-50s.1') })).statusCode, 401)
    await app.close()
  })
})

describe('options', () => {
  const provider = testProvider({ tokens: standardTokens() })
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no provider', {}, /options\.provider must be a provider object/],
    ['provider missing a member', { provider: { name: 'x', getPayload: () => null } }, /options\.provider\.validToken must be a function/],
    ['cache.max not a number', { provider, cache: { max: 'lots' } }, /options\.cache\.max must be an integer/],
    ['negative timeout', { provider, timeout: -5 }, /options\.timeout must be an integer from 1 /],
    ['realm with a quote', { provider, realm: 'a"b' }, /options\.realm/],
    ['allowQuery not a boolean', { provider, allowQuery: 'yes' }, /options\.allowQuery must be a boolean/],
    ['unknown option (a typo)', { provider, chache: false }, /unknown option "chache"/],
    ['timeout beyond ten minutes', { provider, timeout: 3_600_000 }, /options\.timeout must be an integer from 1 to 600,000 \(ms\)/],
    ['maxTokenLength not an integer', { provider, maxTokenLength: 1.5 }, /options\.maxTokenLength must be an integer/],
    ['cache.maxTtl beyond a day', { provider, cache: { maxTtl: 90_000_000 } }, /options\.cache\.maxTtl must be an integer from 0 to 86,400,000/],
    ['an unknown cache option', { provider, cache: { maxTTL: 1_000 } }, /options\.cache: unknown option "maxTTL"/],
    ['breaker.threshold 0', { provider, breaker: { threshold: 0 } }, /options\.breaker\.threshold must be an integer from 1/],
    ['an unknown breaker option', { provider, breaker: { treshold: 3 } }, /options\.breaker: unknown option "treshold"/],
    ['revalidate.concurrency 0 (the event loop would starve)', { provider, revalidate: { interval: 1_000, concurrency: 0 } }, /options\.revalidate\.concurrency must be an integer from 1 to 1,000/],
    ['revalidate.concurrency below 0', { provider, revalidate: { interval: 1_000, concurrency: -3 } }, /options\.revalidate\.concurrency/],
    ['revalidate without an interval', { provider, revalidate: {} }, /options\.revalidate\.interval is required/],
    ['a store without its secret', { provider, cache: { store: { get: async () => undefined, set: async () => {}, delete: async () => {} } } }, /options\.cache\.storeSecret is required with a store/],
    ['a storeSecret shorter than 32 bytes', { provider, cache: { store: { get: async () => undefined, set: async () => {}, delete: async () => {} }, storeSecret: 'short' } }, /storeSecret must be at least 32 bytes/],
    ['publicUrl with a query', { provider, publicUrl: 'https://api.example/?a=1' }, /options\.publicUrl must be/],
  ]
  for (const [name, options, message] of cases) {
    test(`${name} fails at registration`, async () => {
      const app = Fastify()
      await assert.rejects(async () => {
        await app.register(fastifyTokenAuth, options as never)
        await app.ready()
      }, message)
      await app.close()
    })
  }

  test('a second registration in one scope, or a nested one, fails ready() with a clear error (no crash)', async () => {
    for (const register of [
      async (app: FastifyInstance) => { await app.register(fastifyTokenAuth, { provider }); await app.register(fastifyTokenAuth, { provider }) },
      async (app: FastifyInstance) => { await app.register(fastifyTokenAuth, { provider }); await app.register(async (child) => { await child.register(fastifyTokenAuth, { provider }) }) },
    ]) {
      const app = Fastify()
      await assert.rejects(async () => {
        await register(app)
        await app.ready()
      }, /fastify-token-auth is already registered in this scope or a parent one/)
      await app.close()
    }
    // Sibling scopes may have one each.
    const app = Fastify()
    for (const prefix of ['/a', '/b']) await app.register(async (scope) => { await scope.register(fastifyTokenAuth, { provider }) }, { prefix })
    await app.ready()
    await app.close()
  })

  test('a bad route config.auth fails at startup, naming the route', async () => {
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider })
    assert.throws(() => app.get('/x', { config: { auth: { scopes: 'admin' as never } } }, async () => 'x'), /route GET \/x config\.auth\.scopes must be an array/)
    await app.close()
  })

  test('an unknown key in config.auth (a typo of scopes) fails at startup: the scope check never silently disappears', async () => {
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider })
    assert.throws(() => app.get('/admin', { config: { auth: { scope: ['admin'] } as never } }, async () => 'x'), /route GET \/admin config\.auth: unknown key "scope"/)
    assert.throws(() => app.get('/ws', { websocket: true, config: { auth: { authTimeout: 2 ** 31 } } } as never, async () => 'x'), /authTimeout must be an integer from 1 to 2,147,483,647/)
    // Socket keys on an HTTP route would mean nothing, and firstMessage would drop enforcement.
    assert.throws(() => app.get('/http', { config: { auth: { scopes: ['admin'], firstMessage: true } } }, async () => 'x'), /firstMessage is for WebSocket routes only/)
    assert.throws(() => app.get('/r', { preHandler: app.requireAuth({ scopes: ['a'], scope: ['b'] } as never) }, async () => 'x'), /requireAuth\(\): unknown key "scope"/)
    await app.close()
  })

  test('realm is written in every challenge', async () => {
    const { app } = await buildAppWith({ realm: 'orders' })
    assert.equal((await app.inject({ url: '/private' })).headers['www-authenticate'], 'Bearer realm="orders"')
    await app.close()
  })

  test('cache: false calls the provider for every request', async () => {
    const local = testProvider({ tokens: standardTokens() })
    const { app } = await buildAppWith({ cache: false }, local)
    for (let i = 0; i < 4; i++) await app.inject({ url: '/private', headers: bearer(TOKENS.alice) })
    assert.equal(local.calls, 4)
    await app.close()
  })

  test('maxTokenLength is honoured', async () => {
    const local = testProvider({ tokens: standardTokens() })
    const { app } = await buildAppWith({ maxTokenLength: 10 }, local)
    const response = await app.inject({ url: '/private', headers: bearer(TOKENS.alice) })
    assert.equal(response.statusCode, 400)
    assert.equal(local.calls, 0)
    await app.close()
  })

  test('allowQuery: ?access_token= is accepted; both ways is a 400', async () => {
    const local = testProvider({ tokens: standardTokens() })
    const { app } = await buildAppWith({ allowQuery: true }, local)
    assert.equal((await app.inject({ url: `/private?access_token=${TOKENS.alice}` })).statusCode, 200)
    const both = await app.inject({ url: `/private?access_token=${TOKENS.alice}`, headers: bearer(TOKENS.alice) })
    assert.equal(both.statusCode, 400)
    const repeated = await app.inject({ url: `/private?access_token=${TOKENS.alice}&access_token=${TOKENS.reader}` })
    assert.equal(repeated.statusCode, 400)
    assert.equal(local.calls, 1)
    await app.close()
  })

  test('a shared TokenCache serves two registrations', async () => {
    const cache = createCache()
    const shared = testProvider({ tokens: standardTokens() })
    const one = await buildAppWith({ cache }, shared)
    const two = await buildAppWith({ cache }, shared)
    await one.app.inject({ url: '/private', headers: bearer(TOKENS.alice) })
    await two.app.inject({ url: '/private', headers: bearer(TOKENS.alice) })
    assert.equal(shared.calls, 1)
    await one.app.close()
    await two.app.close()
  })
})

describe('encapsulation', () => {
  test('a route declared before the plugin is still enforced (fail closed)', async () => {
    const provider = testProvider({ tokens: standardTokens() })
    const app = Fastify()
    app.get('/early', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => request.auth.uid)
    app.get('/early-public', { config: { auth: false } }, async () => 'public')
    await app.register(fastifyTokenAuth, { provider })
    assert.equal((await app.inject({ url: '/early' })).statusCode, 401)
    assert.equal((await app.inject({ url: '/early', headers: bearer(TOKENS.alice) })).body, 'alice')
    assert.equal((await app.inject({ method: 'GET', url: '/early-public', headers: bearer('unknown-token.1') })).statusCode, 200)
    assert.equal(provider.calls, 1)
    await app.close()
  })

  test('a route declared before the plugin with an invalid config.auth fails closed: 500 that names nothing, the reason in the log once', async () => {
    const provider = testProvider({ tokens: standardTokens() })
    const { stream, lines } = captureLogs()
    const app = Fastify({ logger: { level: 'warn', stream } })
    app.get('/typo', { config: { auth: { scope: ['admin'] } as never } }, async () => 'secret')
    app.get('/early', { config: { auth: { scopes: ['admin'] } } }, async (request) => request.auth.uid)
    await app.register(fastifyTokenAuth, { provider })
    for (let i = 0; i < 2; i++) {
      const response = await app.inject({ url: '/typo', headers: bearer(TOKENS.alice) })
      assert.equal(response.statusCode, 500)
      assert.doesNotMatch(response.body, /scope|config|token-auth|secret/i)
    }
    assert.equal(provider.calls, 0, 'nothing reached the provider')
    assert.equal(lines.filter((line) => line.includes('config.auth is invalid') && line.includes('unknown key')).length, 1, 'said once, with the reason')
    assert.equal((await app.inject({ url: '/early', headers: bearer(TOKENS.alice) })).statusCode, 403, 'a valid early route enforces its scopes')
    assert.equal(lines.filter((line) => line.includes('declared before the plugin') && line.includes('/early')).length >= 1, true, 'and is told to move')
    await app.close()
  })

  test('registered in a child scope, it guards only that scope', async () => {
    const provider = testProvider({ tokens: standardTokens() })
    const app = Fastify()
    app.get('/public', async (request) => ({ auth: request.auth ?? null }))
    await app.register(async (child) => {
      await child.register(fastifyTokenAuth, { provider })
      child.get('/api/me', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
    })
    assert.equal((await app.inject({ url: '/api/me' })).statusCode, 401)
    assert.equal((await app.inject({ url: '/api/me', headers: bearer(TOKENS.alice) })).json().uid, 'alice')
    const calls = provider.calls
    assert.equal((await app.inject({ url: '/public', headers: bearer(TOKENS.reader) })).statusCode, 200)
    assert.equal(provider.calls, calls, 'routes outside the scope are not authenticated')
    await app.close()
  })

  test('two registrations with two providers in sibling scopes keep apart', async () => {
    const first = testProvider({ name: 'first', tokens: { 'shared-token.1': { sub: 'from-first' } } })
    const second = testProvider({ name: 'second', tokens: { 'shared-token.1': { sub: 'from-second' } } })
    const app = Fastify()
    await app.register(async (scope) => {
      await scope.register(fastifyTokenAuth, { provider: first })
      scope.get('/a', { config: { auth: true } }, async (request) => request.auth.uid)
    })
    await app.register(async (scope) => {
      await scope.register(fastifyTokenAuth, { provider: second })
      scope.get('/b', { config: { auth: true } }, async (request) => request.auth.uid)
    })
    assert.equal((await app.inject({ url: '/a', headers: bearer('shared-token.1') })).body, 'from-first')
    assert.equal((await app.inject({ url: '/b', headers: bearer('shared-token.1') })).body, 'from-second')
    await app.close()
  })
})

describe('challenge header safety', () => {
  test('a provider description with quotes, CR/LF or non-ASCII cannot break the header', async () => {
    const provider = defineProvider({
      name: 'hostile',
      getPayload: () => Promise.reject(new InvalidTokenError('bad"\r\nSet-Cookie: x=1, error="ok" é\\')),
    })
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider })
    app.get('/x', { config: { auth: true } }, async () => 'x')
    const response = await app.inject({ url: '/x', headers: bearer('some-token.1') })
    assert.equal(response.statusCode, 401)
    assert.equal(response.headers['set-cookie'], undefined)
    assert.equal(response.headers['www-authenticate'],
      'Bearer realm="api", error="invalid_token", error_description="badSet-Cookie: x=1, error=ok "')
    await app.close()
  })
})

async function buildAppWith(options: Record<string, unknown>, provider = testProvider({ tokens: standardTokens() })) {
  return buildApp(options, {}, provider)
}
