// Strict by default (issue 14, tokens and claims): exp required, claim types, malformed `cnf`,
// escaped header names, an awaited `validate`, and options refused at construction. Tokens are
// signed for real with the key the provider trusts, so each refusal is the library's own.
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth, { defineProvider, InvalidTokenError, tokenAuth, type AuthFailure } from '../../src/index.js'
import { introspectionProvider } from '../../providers/introspection.js'
import { jwtProvider, type JwtProviderOptions } from '../../providers/jwt.js'
import { startFaultServer, type FaultServer } from '../helpers/fault-server.js'

const ISSUER = 'https://issuer.strict.test/'
const AUDIENCE = 'api://strict'
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const keys = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] } as JwtProviderOptions['keys']
const now = (): number => Math.floor(Date.now() / 1000)
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', client_id: 'web', scope: 'read', iat: now(), exp: now() + 600, ...extra })

/** An RS256 JWS over any header (object or raw JSON text) and payload. */
function signed(payload: Record<string, unknown>, header: Record<string, unknown> | string = { alg: 'RS256', kid: 'k1' }): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
}

const provider = (options: Partial<JwtProviderOptions> = {}) => jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys, ...options })

async function refusal(token: string, options: Partial<JwtProviderOptions> = {}): Promise<AuthFailure['errors'][number]> {
  const result = await tokenAuth(token, provider(options), { breaker: false })
  assert.ok('errors' in result, `refused (got uid ${'uid' in result ? result.uid : ''})`)
  assert.equal(result.status, 401)
  return result.errors[0]!
}

describe('exp is required by default (RFC 9068 §2.2)', () => {
  test('a token without exp: 401, reason missing_claim', async () => {
    const error = await refusal(signed(claims({ exp: undefined })))
    assert.equal(error.reason, 'missing_claim')
    assert.equal(error.message, 'The access token lacks a required claim')
  })

  test('requireExp: false accepts it', async () => {
    const result = await tokenAuth(signed(claims({ exp: undefined })), provider({ requireExp: false }), { breaker: false })
    assert.ok('uid' in result && result.uid === 'alice')
  })

  test('an exp of 1e400 (Infinity once parsed) never passes for "never expires"', async () => {
    const raw = `{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"alice","exp":1e400}`
    const input = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64(raw)}`
    const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
    assert.equal((await refusal(token, { requireExp: false })).reason, 'claim_type')
  })
})

describe('claim types', () => {
  for (const [name, extra] of [
    ['sub: 1 (never falls back to client_id)', { sub: 1 }],
    ['sub: null', { sub: null }],
    ['client_id: ["bar"]', { client_id: ['bar'] }],
    ['jti: 7', { jti: 7 }],
    ['scope: ["admin"]', { scope: ['admin'] }],
    ['scp: [1]', { scope: undefined, scp: [1] }],
    ['scp: {"admin": true}', { scope: undefined, scp: { admin: true } }],
  ] as const) {
    test(`${name}: 401, reason claim_type`, async () => {
      assert.equal((await refusal(signed(claims(extra)))).reason, 'claim_type')
    })
  }

  test('scp as a string (Entra) or an array of strings (Okta) passes', async () => {
    for (const scp of ['read write', ['read', 'write']]) {
      const result = await tokenAuth(signed(claims({ scope: undefined, scp })), provider(), { breaker: false })
      assert.ok('uid' in result)
      assert.deepEqual(result.credentials.scopes, ['read', 'write'])
    }
  })

  test('for every provider built with defineProvider: sub: 1 refuses, not uid = client_id', async () => {
    const raw = defineProvider({ name: 'raw', getPayload: async () => ({ sub: 1, client_id: 'web', exp: now() + 60 }) })
    const result = await tokenAuth('opaque-token', raw, { breaker: false })
    assert.ok('errors' in result)
    assert.equal(result.errors[0]!.reason, 'claim_type')
  })

  describe('an introspection answer from a real endpoint', () => {
    let server: FaultServer
    before(async () => {
      server = await startFaultServer()
    })
    after(() => server.close())
    for (const [name, answer] of [
      ['client_id: ["bar"]', { client_id: ['bar'] }],
      ['scope: ["admin"]', { scope: ['admin'] }],
    ] as const) {
      test(`${name}: 401 claim_type`, async () => {
        server.body = { active: true, sub: 'alice', scope: 'read', exp: now() + 600, ...answer }
        const introspect = introspectionProvider({ endpoint: `${server.url}/introspect`, clientId: 'api', clientSecret: 'secret' })
        const result = await tokenAuth('opaque-token', introspect, { breaker: false })
        assert.ok('errors' in result && result.status === 401, JSON.stringify(result))
        assert.equal(result.errors[0]!.reason, 'claim_type')
        await introspect.close?.()
      })
    }
  })
})

describe('a malformed cnf never passes as an unbound bearer token', () => {
  let app: FastifyInstance
  before(async () => {
    app = Fastify()
    await app.register(fastifyTokenAuth, { provider: provider(), cache: false })
    app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
    await app.ready()
  })
  after(() => app.close())
  const get = (token: string) => app.inject({ url: '/x', headers: { authorization: `Bearer ${token}` } })

  test('control: no cnf passes', async () => {
    assert.equal((await get(signed(claims()))).statusCode, 200)
  })
  for (const [name, cnf] of [
    ['cnf as a string', 'jkt'],
    ['cnf null', null],
    ['cnf as an array', [{ jkt: 'x' }]],
    ['cnf.jkt: 123', { jkt: 123 }],
    ['cnf.jkt empty', { jkt: '' }],
    ['cnf["x5t#S256"]: 123', { 'x5t#S256': 123 }],
    ['cnf["x5t#S256"] as an object', { 'x5t#S256': { value: 'x' } }],
  ] as const) {
    test(`${name}: 401 invalid_token, reason claim_type`, async () => {
      const response = await get(signed(claims({ cnf })))
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().error, 'invalid_token')
      assert.equal((await refusal(signed(claims({ cnf })))).reason, 'claim_type')
    })
  }
})

describe('escaped names in the protected header are compared after unescaping', () => {
  for (const [name, header] of [
    ['"\\u0061lg" beside alg', '{"alg":"RS256","kid":"k1","\\u0061lg":"RS256"}'],
    ['"k\\u0069d" beside kid', '{"alg":"RS256","kid":"k1","k\\u0069d":"k1"}'],
    ['"\\u0062\\u0036\\u0034": false', '{"alg":"RS256","kid":"k1","\\u0062\\u0036\\u0034":false}'],
    ['"\\u0062\\u0036\\u0034": true', '{"alg":"RS256","kid":"k1","\\u0062\\u0036\\u0034":true}'],
    ['"cr\\u0069t" with an unknown extension', '{"alg":"RS256","kid":"k1","cr\\u0069t":["x"],"x":1}'],
  ] as const) {
    test(`${name}: 401 malformed, though signed with the trusted key`, async () => {
      const error = await refusal(signed(claims(), header))
      assert.equal(error.message, 'The access token is malformed')
      assert.equal(error.reason, 'malformed')
    })
  }

  test('control: escapes in values and a well-formed header pass', async () => {
    const result = await tokenAuth(signed(claims(), '{"alg":"RS256","kid":"k\\u0031","typ":"at+jwt"}'), provider(), { breaker: false })
    assert.ok('uid' in result)
  })
})

describe('validate is awaited', () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason)
  }
  before(() => process.on('unhandledRejection', onUnhandled))
  after(() => {
    process.off('unhandledRejection', onUnhandled)
  })

  async function viaApp(validate: JwtProviderOptions['validate']): Promise<{ status: number; body: Record<string, unknown> }> {
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider: provider({ validate }), cache: false })
    app.get('/x', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
    const response = await app.inject({ url: '/x', headers: { authorization: `Bearer ${signed(claims())}` } })
    await app.close()
    return { status: response.statusCode, body: response.json() }
  }

  test('a rejecting async validate refuses the token (401), and nothing is left unhandled', async () => {
    const { status, body } = await viaApp(async () => {
      await new Promise((resolve) => setImmediate(resolve))
      throw new Error('tenant lookup said no')
    })
    assert.equal(status, 401)
    assert.equal(body.error_description, 'The access token was refused')
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(unhandled, [])
  })

  test('reason validate; an InvalidTokenError keeps its message', async () => {
    const refused = await refusal(signed(claims()), { validate: () => Promise.reject(new TypeError('bug')) })
    assert.deepEqual([refused.message, refused.reason], ['The access token was refused', 'validate'])
    const thrown = await refusal(signed(claims()), { validate: () => { throw new RangeError('bug') } })
    assert.deepEqual([thrown.message, thrown.reason], ['The access token was refused', 'validate'])
    const own = await refusal(signed(claims()), { validate: async () => { throw new InvalidTokenError('The access token is from another tenant') } })
    assert.equal(own.message, 'The access token is from another tenant')
  })

  test('a resolving async validate lets the token through, with the claims it was given', async () => {
    const seen: unknown[] = []
    const { status, body } = await viaApp(async (verified) => {
      seen.push(verified.sub)
    })
    assert.equal(status, 200)
    assert.equal(body.uid, 'alice')
    assert.deepEqual(seen, ['alice'])
  })
})

describe('options refused at construction, naming the option', () => {
  const base = { issuer: ISSUER, audience: AUDIENCE }
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['validate not a function', { validate: 'yes' }, /jwtProvider: validate must be a function/],
    ['keys with jwksUri', { keys, jwksUri: 'https://issuer.strict.test/jwks' }, /keys and jwksUri/],
    ['clockTolerance -1', { clockTolerance: -1 }, /jwtProvider: clockTolerance must be a number from 0 to 600/],
    ['clockTolerance 5000 (ms by mistake)', { clockTolerance: 5000 }, /jwtProvider: clockTolerance/],
    ['clockTolerance NaN', { clockTolerance: Number.NaN }, /jwtProvider: clockTolerance/],
    ['clockTolerance "5"', { clockTolerance: '5' }, /jwtProvider: clockTolerance/],
    ['timeout 0', { timeout: 0 }, /jwtProvider: timeout must be a number from 1 to 300,000/],
    ['timeout Infinity', { timeout: Number.POSITIVE_INFINITY }, /jwtProvider: timeout/],
    ['jwks.cooldown -1', { jwks: { cooldown: -1 } }, /jwtProvider: jwks\.cooldown/],
    ['jwks.maxAge 0', { jwks: { maxAge: 0 } }, /jwtProvider: jwks\.maxAge/],
    ['jwks.maxStale -5', { jwks: { maxStale: -5 } }, /jwtProvider: jwks\.maxStale/],
    ['jwks.maxBytes 10', { jwks: { maxBytes: 10 } }, /jwtProvider: jwks\.maxBytes/],
    ['an unknown option', { audiences: ['x'] }, /jwtProvider\.audiences is not an option/],
    ['an unknown jwks option', { jwks: { maxage: 1000 } }, /jwtProvider: jwks\.maxage is not an option/],
    ['a map member that is not part of the mapping', { map: { getPayload: () => ({}) } }, /jwtProvider: map\.getPayload is not an option/],
    ['requireExp not a boolean', { requireExp: 'no' }, /jwtProvider: requireExp must be a boolean/],
  ]
  for (const [name, extra, message] of cases) {
    test(name, () => {
      assert.throws(() => jwtProvider({ ...base, ...extra }), (err: unknown) => err instanceof TypeError && message.test(err.message))
    })
  }

  test('in range: accepted', () => {
    assert.doesNotThrow(() => jwtProvider({ ...base, keys, clockTolerance: 0, timeout: 1, requireExp: false }))
    assert.doesNotThrow(() => jwtProvider({ ...base, jwksUri: 'https://issuer.strict.test/jwks', clockTolerance: 600, timeout: 300_000, jwks: { cooldown: 0, maxAge: 1, maxStale: 0, maxBytes: 1024 } }))
  })
})

test('an issuer with a query, a fragment or userinfo is refused at construction (RFC 8414 §2)', () => {
  for (const issuer of ['https://idp.example/?tenant=a', 'https://idp.example/#x', 'https://user:pw@idp.example/']) {
    assert.throws(() => jwtProvider({ issuer, audience: 'api', keys: { keys: [] } }), /jwtProvider: issuer/, issuer)
  }
})
