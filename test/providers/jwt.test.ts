import type { PluginExtras } from '../helpers/extras.js'
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose'
import fastifyTokenAuth, { tokenAuth } from '../../src/index.js'
import { jwtProvider, type JwtProvider } from '../../providers/jwt.js'
import { useVirtualTime } from '../helpers/clock.js'
import { API_AUDIENCE, b64url, claimsOf, OTHER_AUDIENCE, useIdp } from '../helpers/idp.js'

const ctx = useIdp()

async function apiWith(provider: JwtProvider, options: PluginExtras = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyTokenAuth, { provider, ...options })
  app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => ({
    uid: request.auth.uid, scopes: request.auth.credentials.scopes, aud: request.auth.credentials.other.aud,
  }))
  await app.ready()
  return app
}

const get = (app: FastifyInstance, token: string) => app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })

describe('jwt provider against oidc-provider', () => {
  test('a valid RS256 token: 200 with uid and scopes', async () => {
    const provider = jwtProvider({ issuer: ctx.idp.issuer, audience: API_AUDIENCE })
    const app = await apiWith(provider)
    const { access_token } = await ctx.idp.token('web-jwt')
    const response = await get(app, access_token)
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { uid: 'web-jwt', scopes: ['orders:read', 'orders:write', 'admin'], aud: API_AUDIENCE })
    await app.close()
  })

  test('a valid ES256 token, and the RFC 9068 typ when asked', async () => {
    const provider = jwtProvider({ issuer: ctx.idp.issuer, audience: API_AUDIENCE, typ: 'at+jwt' })
    const app = await apiWith(provider)
    const { access_token } = await ctx.idp.token('web-jwt-es')
    assert.equal(JSON.parse(Buffer.from(access_token.split('.')[0]!, 'base64url').toString()).alg, 'ES256')
    assert.equal((await get(app, access_token)).statusCode, 200)
    await app.close()
  })

  describe('rejections: each a 401 invalid_token', () => {
    let app: FastifyInstance
    let provider: JwtProvider
    let valid: string
    test('setup', async () => {
      provider = jwtProvider({ issuer: ctx.idp.issuer, audience: API_AUDIENCE, clockTolerance: 0 })
      app = await apiWith(provider, { cache: false })
      valid = (await ctx.idp.token('web-jwt')).access_token
      assert.equal((await get(app, valid)).statusCode, 200)
    })

    const expect401 = async (token: string, description: RegExp): Promise<void> => {
      const response = await get(app, token)
      assert.equal(response.statusCode, 401, response.body)
      assert.equal(response.json().error, 'invalid_token')
      assert.match(response.headers['www-authenticate'] as string, description)
    }

    test('wrong audience', async () => {
      const { access_token } = await ctx.idp.token('web-jwt', { resource: OTHER_AUDIENCE })
      assert.equal(claimsOf(access_token).aud, OTHER_AUDIENCE)
      await expect401(access_token, /not meant for this API/)
    })

    test('wrong issuer', async () => {
      const strict = jwtProvider({ issuer: 'https://login.other.example/', audience: API_AUDIENCE, jwksUri: `${ctx.idp.issuer}/jwks` })
      const other = await apiWith(strict)
      const response = await get(other, valid)
      assert.equal(response.statusCode, 401)
      assert.match(response.headers['www-authenticate'] as string, /issued by another issuer/)
      await other.close()
    })

    test('expired', async (t) => {
      // Virtual Date from a whole second (the identity provider in this process reads it too).
      const clock = useVirtualTime(t, { timers: false })
      const { access_token } = await ctx.idp.token('web-jwt-short')
      const exp = claimsOf(access_token).exp as number
      assert.equal((await get(app, access_token)).statusCode, 200)
      await clock.advanceTo(exp * 1000 - 1)
      assert.equal((await get(app, access_token)).statusCode, 200, 'valid to its last ms')
      await clock.advanceTo(exp * 1000 + 50)
      await expect401(access_token, /expired/)
    })

    test('tampered signature', async () => {
      const [header, payload, signature] = valid.split('.') as [string, string, string]
      const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11)
      await expect401(`${header}.${payload}.${flipped}`, /signature is invalid/)
    })

    test('tampered payload', async () => {
      const [header, , signature] = valid.split('.') as [string, string, string]
      const forged = b64url({ ...claimsOf(valid), sub: 'admin', scope: 'admin orders:read' })
      await expect401(`${header}.${forged}.${signature}`, /signature is invalid/)
    })

    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      test(`alg: ${alg}`, async () => {
        const fetches = provider.jwks!.fetches
        const unsigned = `${b64url({ alg, typ: 'at+jwt', kid: 'rsa-1' })}.${b64url(claimsOf(valid))}.`
        await expect401(unsigned, /algorithm this API does not accept/)
        assert.equal(provider.jwks!.fetches, fetches, 'no key lookup for an unsigned token')
      })
    }

    test('HS256 signed with the public key as the secret', async () => {
      const jwks = await (await fetch(`${ctx.idp.issuer}/jwks`)).json() as { keys: JWK[] }
      const rsa = jwks.keys.find((key) => key.kty === 'RSA')!
      const pem = await exportSPKI(await importJWK(rsa, 'RS256') as Parameters<typeof exportSPKI>[0])
      const input = `${b64url({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid })}.${b64url(claimsOf(valid))}`
      for (const secret of [pem, JSON.stringify(rsa), rsa.n!]) {
        const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
        await expect401(forged, /algorithm this API does not accept/)
      }
    })

    test('unknown kid', async () => {
      const { privateKey } = await generateKeyPair('RS256')
      const forged = await new SignJWT(claimsOf(valid)).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'not-a-known-kid' }).sign(privateKey)
      await expect401(forged, /unknown key/)
    })

    test('a JWE (five segments) is not looked at', async () => {
      await expect401(`${b64url({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, /not a signed JWT/)
    })

    test('teardown', () => app.close())
  })

  test('key rotation: new tokens pass with exactly one extra JWKS fetch, old ones still pass', async () => {
    const provider = jwtProvider({ issuer: ctx.idp.issuer, audience: API_AUDIENCE })
    const app = await apiWith(provider, { cache: false })
    const before = (await ctx.idp.token('web-jwt')).access_token
    assert.equal((await get(app, before)).statusCode, 200)
    const fetchesBefore = provider.jwks!.fetches
    const jwksCallsBefore = ctx.idp.calls['/jwks'] ?? 0
    const kid = await ctx.idp.rotateSigningKey()
    const after = (await ctx.idp.token('web-jwt')).access_token
    assert.equal(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid, kid)
    const burst = await Promise.all(Array.from({ length: 20 }, () => get(app, after)))
    for (const response of burst) assert.equal(response.statusCode, 200, 'not a single 401 for the new key')
    assert.equal((await get(app, before)).statusCode, 200)
    assert.equal(provider.jwks!.fetches, fetchesBefore + 1)
    assert.equal((ctx.idp.calls['/jwks'] ?? 0) - jwksCallsBefore, 1, 'counted at the identity provider')
    await app.close()
  })

  test('100 tokens with random unknown kids within the cooldown: at most 1 JWKS fetch', async () => {
    const provider = jwtProvider({ issuer: ctx.idp.issuer, audience: API_AUDIENCE })
    const app = await apiWith(provider, { cache: false })
    const valid = (await ctx.idp.token('web-jwt')).access_token
    assert.equal((await get(app, valid)).statusCode, 200)
    const callsBefore = ctx.idp.calls['/jwks'] ?? 0
    const { privateKey } = await generateKeyPair('RS256')
    const tokens = await Promise.all(Array.from({ length: 100 }, () =>
      new SignJWT(claimsOf(valid)).setProtectedHeader({ alg: 'RS256', kid: randomBytes(8).toString('hex') }).sign(privateKey)))
    const responses = await Promise.all(tokens.map((token) => get(app, token)))
    for (const response of responses) assert.equal(response.statusCode, 401)
    assert.ok((ctx.idp.calls['/jwks'] ?? 0) - callsBefore <= 1, `JWKS fetched ${(ctx.idp.calls['/jwks'] ?? 0) - callsBefore} times`)
    assert.equal((await get(app, valid)).statusCode, 200, 'valid tokens still pass')
    await app.close()
  })

  test('identity provider down at startup: the app starts, answers 503, then recovers by itself', async () => {
    const valid = (await ctx.idp.token('web-jwt')).access_token
    await ctx.idp.stop()
    const provider = jwtProvider({ issuer: ctx.idp.issuer, audience: API_AUDIENCE, timeout: 1000 })
    let app: FastifyInstance
    try {
      app = await apiWith(provider)
      const down = await get(app, valid)
      assert.equal(down.statusCode, 503)
      assert.ok(Number(down.headers['retry-after']) >= 1)
    } finally {
      await ctx.idp.start()
    }
    assert.equal((await get(app, valid)).statusCode, 200)
    await app.close()
  })
})

describe('jwt provider with local keys (no network)', () => {
  test('verifies, enforces typ and required claims, refuses symmetric keys', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    const jwk = { ...(await exportJWK(publicKey)), kid: 'local-1' }
    const secretKey = { kty: 'oct', k: Buffer.from('a-shared-secret-that-must-be-ignored').toString('base64url'), kid: 'oct-1' }
    const provider = jwtProvider({ issuer: 'https://issuer.test/', audience: 'api://local', keys: { keys: [jwk, secretKey] }, typ: 'at+jwt', requiredClaims: ['jti'] })
    const sign = (claims: Record<string, unknown>, typ = 'at+jwt') => new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'local-1', typ }).setIssuer('https://issuer.test/').setAudience('api://local')
      .setIssuedAt().setExpirationTime('5m').sign(privateKey)
    const ok = await tokenAuth(await sign({ sub: 'u1', jti: 'j1' }), provider)
    assert.equal('uid' in ok && ok.uid, 'u1')
    const wrongTyp = await tokenAuth(await sign({ sub: 'u1', jti: 'j1' }, 'JWT'), provider)
    assert.equal('errors' in wrongTyp && wrongTyp.errors[0]!.message, 'The access token is not an access token of the expected type')
    const noJti = await tokenAuth(await sign({ sub: 'u1' }), provider)
    assert.equal('errors' in noJti && noJti.status, 401)
    const input = `${b64url({ alg: 'HS256', kid: 'oct-1', typ: 'at+jwt' })}.${b64url({ sub: 'x', jti: 'j', iss: 'https://issuer.test/', aud: 'api://local', exp: 9_999_999_999 })}`
    const hmac = `${input}.${createHmac('sha256', Buffer.from('a-shared-secret-that-must-be-ignored')).update(input).digest('base64url')}`
    const forged = await tokenAuth(hmac, provider)
    assert.equal('errors' in forged && forged.status, 401)
  })

  test('options are checked: audience required, no HMAC or none in algorithms', () => {
    assert.throws(() => jwtProvider({ issuer: 'https://i.test/' } as never), /audience is required/)
    assert.throws(() => jwtProvider({ issuer: 'https://i.test/', audience: 'a', algorithms: ['HS256'] }), /not accepted/)
    assert.throws(() => jwtProvider({ issuer: 'https://i.test/', audience: 'a', algorithms: ['none'] }), /not accepted/)
    assert.throws(() => jwtProvider({ issuer: 'not a url', audience: 'a' }), /issuer must be an absolute http\(s\) URL/)
  })
})
