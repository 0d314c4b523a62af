import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth, { tokenAuth, type AuthFailure } from '../../src/index.js'
import { userinfoProvider, type UserinfoProviderOptions } from '../../providers/userinfo.js'
import { startFaultServer, type FaultServer, type ScriptedAnswer } from '../helpers/fault-server.js'
import { useIdp } from '../helpers/idp.js'

const ctx = useIdp()

async function apiWith(options: Partial<UserinfoProviderOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyTokenAuth, { provider: userinfoProvider({ issuer: ctx.idp.issuer, timeout: 1000, ...options }) })
  app.get('/me', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid, info: request.auth.info, scopes: request.auth.credentials.scopes }))
  await app.ready()
  return app
}
const get = (app: FastifyInstance, token: string) => app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })

describe('userinfo provider against oidc-provider', () => {
  test('a user token: 200 with uid and the OIDC profile', async () => {
    const app = await apiWith()
    const { access_token } = await ctx.idp.userToken('alice')
    const response = await get(app, access_token)
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), {
      uid: 'alice',
      info: { name: 'User alice', preferred_username: 'alice', email: 'alice@example.test', email_verified: true },
      scopes: [],
    })
    await app.close()
  })

  test('the endpoint refuses the token (401 from it): invalid_token', async () => {
    const app = await apiWith()
    const unknown = await get(app, 'never-issued-token-value')
    assert.equal(unknown.statusCode, 401)
    assert.equal(unknown.json().error, 'invalid_token')
    // A client_credentials token carries an audience; userinfo refuses it.
    const { access_token } = await ctx.idp.token('web-opaque')
    assert.equal((await get(app, access_token)).statusCode, 401)
    await app.close()
  })

  test('toClaims turns an API answer and its headers into claims', async () => {
    const app = await apiWith({
      endpoint: `${ctx.idp.issuer}/me`,
      toClaims: (body, headers) => ({ sub: `user:${String(body.sub)}`, name: body.name, scope: headers['cache-control'] === undefined ? '' : 'profile:read' }),
    })
    const { access_token } = await ctx.idp.userToken('bob')
    const body = (await get(app, access_token)).json()
    assert.equal(body.uid, 'user:bob')
    assert.deepEqual(body.info, { name: 'User bob' })
    assert.deepEqual(body.scopes, ['profile:read'])
    await app.close()
  })

  test('identity provider down: 503', async () => {
    const app = await apiWith()
    const { access_token } = await ctx.idp.userToken('carol')
    await ctx.idp.stop()
    try {
      assert.equal((await get(app, access_token)).statusCode, 503)
    } finally {
      await ctx.idp.start()
    }
    assert.equal((await get(app, access_token)).statusCode, 200)
    await app.close()
  })
})

// A local server plays identity providers whose userinfo answers differ from oidc-provider's:
// Glewlwyd 2.7.5 answers 404 with an empty body for a client-credentials token and 401 without
// WWW-Authenticate; others 400. Each is an answer about the token, which any client chooses.
describe('userinfo: answers about the token are 401, outages 503, and only outages open the breaker', () => {
  const GOOD = 'good-user-token-0123456789'
  let server: FaultServer
  let answerFor: (token: string) => ScriptedAnswer
  before(async () => {
    server = await startFaultServer({ mode: 'respond' })
    server.respond = (req) => {
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '')
      return token === GOOD ? { status: 200, body: { sub: 'alice', name: 'Alice' } } : answerFor(token)
    }
  })
  after(() => server.close())
  const provider = () => userinfoProvider({ endpoint: `${server.url}/userinfo`, timeout: 1000 })

  const aboutTheToken: Array<[string, ScriptedAnswer]> = [
    ['404 with an empty body (Glewlwyd, a client-credentials token)', { status: 404 }],
    ['401 without WWW-Authenticate (Glewlwyd)', { status: 401 }],
    ['401 with an invalid_token challenge', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }],
    ['400 invalid_request', { status: 400, body: { error: 'invalid_request' } }],
    ['403 without rate-limit headers', { status: 403, body: { error: 'insufficient_scope' } }],
    ['431 for an oversized token', { status: 431 }],
  ]
  for (const [name, answer] of aboutTheToken) {
    test(`${name}: invalid_token, reason "refused"`, async () => {
      answerFor = () => answer
      const failure = await tokenAuth('made-up-token', provider(), { breaker: false }) as AuthFailure
      assert.equal(failure.status, 401)
      assert.equal(failure.errors[0]?.messageKey, 'invalid_token')
      assert.equal(failure.errors[0]?.reason, 'refused')
    })
  }

  const outages: Array<[string, ScriptedAnswer, string]> = [
    ['500', { status: 500 }, 'status'],
    ['429 with Retry-After', { status: 429, headers: { 'retry-after': '7' } }, 'rate_limited'],
    ['403 with X-RateLimit-Remaining: 0', { status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 60) } }, 'rate_limited'],
    ['405: the request is wrong for every token', { status: 405 }, 'status'],
    ['200 with a JSON array', { status: 200, body: [{ sub: 'alice' }] }, 'bad_answer'],
  ]
  for (const [name, answer, reason] of outages) {
    test(`${name}: provider_unavailable, reason "${reason}"`, async () => {
      answerFor = () => answer
      const failure = await tokenAuth('made-up-token', provider(), { breaker: false }) as AuthFailure
      assert.equal(failure.status, 503)
      assert.equal(failure.errors[0]?.reason, reason)
    })
  }

  test('ten refused tokens (404, 400, 401) leave the breaker closed: the good token then gets 200', async () => {
    const transitions: unknown[] = []
    const onBreaker = (message: unknown): void => { transitions.push(message) }
    diagnostics.subscribe('fastify-token-auth:breaker', onBreaker)
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider: provider() })
    app.get('/me', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
    await app.ready()
    try {
      const refusals = [{ status: 404 }, { status: 400, body: { error: 'invalid_token' } }, { status: 401 }]
      const statuses: number[] = []
      for (let i = 0; i < 10; i++) {
        answerFor = () => refusals[i % refusals.length]!
        statuses.push((await app.inject({ url: '/me', headers: { authorization: `Bearer forged-${i}` } })).statusCode)
      }
      assert.deepEqual(statuses, Array(10).fill(401))
      const good = await app.inject({ url: '/me', headers: { authorization: `Bearer ${GOOD}` } })
      assert.equal(good.statusCode, 200, good.body)
      assert.deepEqual(transitions, [], 'the breaker never moved')
    } finally {
      diagnostics.unsubscribe('fastify-token-auth:breaker', onBreaker)
      await app.close()
    }
  })
})

describe('userinfo: options', () => {
  test('unknown options, the old name mapping, numbers out of range and a bad issuer are refused, naming the option', () => {
    const base = { endpoint: 'https://idp.test/userinfo' }
    assert.throws(() => userinfoProvider({ ...base, mapping: () => ({}) } as never), { name: 'TypeError', message: 'userinfoProvider: unknown option "mapping", did you mean toClaims?' })
    assert.throws(() => userinfoProvider({ ...base, timout: 100 } as never), { message: 'userinfoProvider: unknown option "timout", did you mean timeout?' })
    assert.throws(() => userinfoProvider({ ...base, timeout: 0 }), /^TypeError: userinfoProvider: timeout must be an integer from 1 to 600,000 \(ms\)/)
    assert.throws(() => userinfoProvider({ ...base, ttl: -1 }), /userinfoProvider: ttl must be an integer from 0/)
    assert.throws(() => userinfoProvider({ ...base, maxBytes: Infinity }), /userinfoProvider: maxBytes must be an integer/)
    assert.throws(() => userinfoProvider({ ...base, validate: 'yes' as never }), /userinfoProvider: validate must be a function/)
    for (const [issuer, part] of [['https://idp.test/?tenant=a', 'a query'], ['https://idp.test/#x', 'a fragment'], ['https://user:secret@idp.test/', 'userinfo']] as const) {
      assert.throws(() => userinfoProvider({ issuer }), (err: Error) => {
        assert.equal(err.name, 'TypeError')
        assert.equal(err.message, `userinfoProvider: issuer must not have ${part}: an issuer identifier has no query, fragment or userinfo (RFC 8414 §2)`)
        return !err.message.includes('secret')
      })
    }
  })
})
