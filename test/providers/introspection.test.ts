import type { PluginExtras } from '../helpers/extras.js'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Agent } from 'undici'
import fastifyTokenAuth from '../../src/index.js'
import { introspectionProvider, type IntrospectionProviderOptions } from '../../providers/introspection.js'
import { useVirtualTime } from '../helpers/clock.js'
import { API_AUDIENCE, API_CLIENT, API_CLIENT_POST, OTHER_AUDIENCE, useIdp } from '../helpers/idp.js'

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

  test('wrong client secret: every request is a 503 and the log says why, loudly', async () => {
    const lines: string[] = []
    const stream = new Writable({ write(chunk: Buffer, _e, done) { lines.push(chunk.toString()); done() } })
    const app = await apiWith({ clientSecret: 'wrong-secret' }, {}, { logger: { level: 'error', stream } })
    const { access_token } = await ctx.idp.token('web-opaque')
    const response = await get(app, access_token)
    assert.equal(response.statusCode, 503)
    assert.ok(lines.some((line) => line.includes('refused this API') && line.includes('"level":50')), lines.join('\n'))
    assert.ok(!lines.some((line) => line.includes(access_token) || line.includes('wrong-secret')))
    await app.close()
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
})
