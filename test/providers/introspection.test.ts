import type { PluginExtras } from '../helpers/extras.js'
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { describe, test } from 'node:test'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Agent } from 'undici'
import fastifyTokenAuth, { InvalidTokenError, tokenAuth, type AuthFailure } from '../../src/index.js'
import { introspectionProvider, type IntrospectionProviderOptions } from '../../providers/introspection.js'
import { useVirtualTime } from '../helpers/clock.js'
import { API_AUDIENCE, API_CLIENT, API_CLIENT_POST, OTHER_AUDIENCE, useIdp } from '../helpers/idp.js'
import { captureLogs } from '../helpers/logs.js'

const ctx = useIdp()
const INTROSPECT = '/token/introspection'
const introspections = (): number => ctx.idp.calls[INTROSPECT] ?? 0

async function apiWith(options: Partial<IntrospectionProviderOptions> = {}, plugin: PluginExtras = {}, fastify: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(fastify)
  const provider = introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, ...options })
  await app.register(fastifyTokenAuth, { provider, ...plugin })
  app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => ({
    uid: request.auth.uid, scopes: request.auth.credentials.scopes, expiresAt: request.auth.credentials.expiresAt,
  }))
  await app.ready()
  return app
}

const get = (app: FastifyInstance, token: string) => app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })

describe('introspection provider against oidc-provider', () => {
  test('an opaque token: 200 with uid (client_id) and scopes', async () => {
    const app = await apiWith()
    const { access_token } = await ctx.idp.token('web-opaque')
    const response = await get(app, access_token)
    assert.equal(response.statusCode, 200)
    const body = response.json()
    assert.equal(body.uid, 'web-opaque')
    assert.deepEqual(body.scopes, ['orders:read', 'orders:write', 'admin'])
    assert.ok(body.expiresAt > Date.now() / 1000)
    await app.close()
  })

  test('client_secret_post works too', async () => {
    const app = await apiWith({ ...API_CLIENT_POST, clientAuth: 'client_secret_post' })
    const { access_token } = await ctx.idp.token('web-opaque')
    assert.equal((await get(app, access_token)).statusCode, 200)
    await app.close()
  })

  test('an unknown token is inactive: 401', async () => {
    const app = await apiWith()
    const response = await get(app, 'not-a-token-the-idp-ever-issued')
    assert.equal(response.statusCode, 401)
    assert.match(response.headers['www-authenticate'] as string, /not active/)
    await app.close()
  })

  test('revoked token with cache: false is rejected at once', async () => {
    const app = await apiWith({}, { cache: false })
    const { access_token } = await ctx.idp.token('web-opaque')
    assert.equal((await get(app, access_token)).statusCode, 200)
    await ctx.idp.revoke(access_token)
    assert.equal((await get(app, access_token)).statusCode, 401)
    await app.close()
  })

  test('revoked token with a cache: served until its entry ends, then rejected', async (t) => {
    // Virtual Date (and the cache's clock); the identity provider in this process reads it too.
    const clock = useVirtualTime(t, { timers: false })
    const app = await apiWith({ ttl: 300 })
    const { access_token } = await ctx.idp.token('web-opaque')
    assert.equal((await get(app, access_token)).statusCode, 200)
    await ctx.idp.revoke(access_token)
    assert.equal((await get(app, access_token)).statusCode, 200, 'inside the revocation window (ttl)')
    await clock.advance(300)
    assert.equal((await get(app, access_token)).statusCode, 200, 'to its last ms')
    await clock.advance(50)
    assert.equal((await get(app, access_token)).statusCode, 401)
    await app.close()
  })

  test('100 concurrent requests with one fresh token: exactly 1 introspection call at the server', async () => {
    const app = await apiWith()
    const { access_token } = await ctx.idp.token('web-opaque')
    const before = introspections()
    const responses = await Promise.all(Array.from({ length: 100 }, () => get(app, access_token)))
    for (const response of responses) assert.equal(response.statusCode, 200)
    assert.equal(introspections() - before, 1)
    await app.close()
  })

  test('the same 100 over real sockets: 1 call', async () => {
    const app = await apiWith()
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    const { access_token } = await ctx.idp.token('web-opaque')
    const before = introspections()
    const statuses = await Promise.all(Array.from({ length: 100 }, async () =>
      (await fetch(`http://127.0.0.1:${port}/orders`, { headers: { authorization: `Bearer ${access_token}` } })).status))
    assert.deepEqual(new Set(statuses), new Set([200]))
    assert.equal(introspections() - before, 1)
    await app.close()
  })

  test('identity provider stopped: 503 with Retry-After; 200 again once it is back', async () => {
    const app = await apiWith({ timeout: 1000 }, { cache: false })
    const { access_token } = await ctx.idp.token('web-opaque')
    assert.equal((await get(app, access_token)).statusCode, 200)
    await ctx.idp.stop()
    try {
      const down = await get(app, access_token)
      assert.equal(down.statusCode, 503)
      assert.equal(down.json().error, 'provider_unavailable')
      assert.ok(Number(down.headers['retry-after']) >= 1)
      assert.equal(down.headers['www-authenticate'], undefined)
    } finally {
      await ctx.idp.start()
    }
    assert.equal((await get(app, access_token)).statusCode, 200)
    await app.close()
  })

  test('a 503 during an outage is not cached', async () => {
    const app = await apiWith({ timeout: 1000 })
    const { access_token } = await ctx.idp.token('web-opaque')
    await ctx.idp.stop()
    try {
      assert.equal((await get(app, access_token)).statusCode, 503)
    } finally {
      await ctx.idp.start()
    }
    assert.equal((await get(app, access_token)).statusCode, 200)
    await app.close()
  })

  test('wrong client secret: every request is a 503 and the log says why, loudly; the client learns nothing of it', async () => {
    const { stream, lines } = captureLogs()
    const app = await apiWith({ clientSecret: 'wrong-secret' }, {}, { logger: { level: 'error', stream } })
    const { access_token } = await ctx.idp.token('web-opaque')
    const response = await get(app, access_token)
    assert.equal(response.statusCode, 503)
    // The public description is the generic outage text: nothing about this API's configuration.
    assert.deepEqual(response.json(), { error: 'provider_unavailable', error_description: 'The identity provider is unavailable' })
    assert.ok(lines.some((line) => line.includes('refused this API') && line.includes('"level":50')), lines.join('\n'))
    assert.ok(lines.some((line) => line.includes('"status":401') && line.includes('"error":"invalid_client"')), 'the log keeps the detail')
    assert.ok(!lines.some((line) => line.includes(access_token) || line.includes('wrong-secret')))
    const failure = await tokenAuth(access_token, introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, clientSecret: 'wrong-secret' }), { breaker: false }) as AuthFailure
    assert.equal(failure.errors[0]?.reason, 'client_auth')
    await app.close()
  })

  test('six made-up JWTs (oidc-provider answers 400 to each) are 401s, then a valid opaque token gets 200: no 503, the breaker stays closed', async () => {
    const transitions: unknown[] = []
    const onBreaker = (message: unknown): void => { transitions.push(message) }
    diagnostics.subscribe('fastify-token-auth:breaker', onBreaker)
    const app = await apiWith({}, { breaker: { threshold: 5, cooldown: 10_000 } })
    try {
      const before = introspections()
      const statuses: number[] = []
      for (let i = 0; i < 6; i++) {
        const forged = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ sub: `y${i}` })).toString('base64url')}.abc`
        const response = await get(app, forged)
        statuses.push(response.statusCode)
        assert.equal(response.json().error, 'invalid_token')
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401])
      assert.equal(introspections() - before, 6, 'each was a real 400 from oidc-provider')
      const { access_token } = await ctx.idp.token('web-opaque')
      assert.equal((await get(app, access_token)).statusCode, 200)
      assert.deepEqual(transitions, [], 'the breaker never moved')
      const failure = await tokenAuth('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ5MSJ9.abc', introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT }), { breaker: false }) as AuthFailure
      assert.deepEqual([failure.status, failure.errors[0]?.reason], [401, 'refused'])
    } finally {
      diagnostics.unsubscribe('fastify-token-auth:breaker', onBreaker)
      await app.close()
    }
  })

  test('audience: a token for another resource is rejected when audience is set', async () => {
    const app = await apiWith({ audience: API_AUDIENCE })
    const mine = await ctx.idp.token('web-opaque')
    const theirs = await ctx.idp.token('web-opaque', { resource: OTHER_AUDIENCE })
    assert.equal((await get(app, mine.access_token)).statusCode, 200)
    const response = await get(app, theirs.access_token)
    assert.equal(response.statusCode, 401)
    assert.match(response.headers['www-authenticate'] as string, /not meant for this API/)
    await app.close()
  })

  test('an expired opaque token is rejected', async (t) => {
    // Virtual Date from a whole second: the token lives exactly 1 s (exp = iat + 1).
    const clock = useVirtualTime(t, { timers: false })
    const app = await apiWith({ clockTolerance: 0 }, { cache: false })
    const { access_token, expires_in } = await ctx.idp.token('web-opaque-short')
    assert.equal(expires_in, 1)
    assert.equal((await get(app, access_token)).statusCode, 200)
    await clock.advance(999)
    assert.equal((await get(app, access_token)).statusCode, 200, 'valid to its last ms')
    await clock.advance(1101)
    assert.equal((await get(app, access_token)).statusCode, 401)
    await app.close()
  })

  test('a user-supplied undici Dispatcher carries every call', async () => {
    const seen: string[] = []
    const dispatcher = new Agent().compose((dispatch) => (options, handler) => {
      seen.push(`${options.method} ${options.path}`)
      return dispatch(options, handler)
    })
    const app = await apiWith({ dispatcher }, { cache: false })
    const { access_token } = await ctx.idp.token('web-opaque')
    assert.equal((await get(app, access_token)).statusCode, 200)
    assert.ok(seen.includes('POST /token/introspection'), seen.join())
    await app.close()
    await dispatcher.close()
  })

  test('options are checked', () => {
    assert.throws(() => introspectionProvider({ clientId: 'a', clientSecret: 'b' }), /issuer or endpoint is required/)
    assert.throws(() => introspectionProvider({ endpoint: 'https://i.test/introspect', clientId: '', clientSecret: 'b' }), /clientId is required/)
    assert.throws(() => introspectionProvider({ endpoint: 'https://i.test/introspect', clientId: 'a', clientSecret: 'b', clientAuth: 'private_key_jwt' as never }), /clientAuth/)
  })

  test('unknown options, numbers out of range and an issuer with a query, fragment or userinfo are refused, naming the option', () => {
    const base = { endpoint: 'https://i.test/introspect', clientId: 'a', clientSecret: 'b' }
    assert.throws(() => introspectionProvider({ ...base, audiences: ['x'] } as never), { name: 'TypeError', message: 'introspectionProvider: unknown option "audiences", did you mean audience?' })
    assert.throws(() => introspectionProvider({ ...base, tokenTypeHnit: null } as never), /unknown option "tokenTypeHnit", did you mean tokenTypeHint\?/)
    const outOfRange: Array<[string, Record<string, unknown>]> = [
      ['timeout', { timeout: 0 }], ['timeout', { timeout: 1.5 }], ['timeout', { timeout: 3_600_000 }], ['ttl', { ttl: -1 }],
      ['maxBytes', { maxBytes: 10 }], ['clockTolerance', { clockTolerance: -1 }], ['clockTolerance', { clockTolerance: Number.NaN }],
      ['staleIfError', { staleIfError: 60_001 }],
    ]
    for (const [name, extra] of outOfRange) {
      assert.throws(() => introspectionProvider({ ...base, ...extra }), { name: 'TypeError', message: new RegExp(`^introspectionProvider: ${name} must be an? (integer|number) from`) }, name)
    }
    for (const issuer of ['https://idp.test/?a=b', 'https://idp.test/#f', 'https://u:p@idp.test/']) {
      assert.throws(() => introspectionProvider({ ...base, issuer }), /^TypeError: introspectionProvider: issuer must not have (a query|a fragment|userinfo)/)
    }
  })

  test('validate (async) refuses an active answer', async () => {
    const app = await apiWith({
      validate: async (claims) => {
        await Promise.resolve()
        if (claims.client_id === 'web-opaque') throw new InvalidTokenError('Not this client', { reason: 'validate' })
      },
    })
    const { access_token } = await ctx.idp.token('web-opaque')
    const response = await get(app, access_token)
    assert.equal(response.statusCode, 401)
    assert.match(String(response.headers['www-authenticate']), /Not this client/)
    await app.close()
  })
})
