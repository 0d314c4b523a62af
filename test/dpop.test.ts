// DPoP (RFC 9449): a token bound to a key (cnf.jkt) passes only with the DPoP scheme and a fresh,
// single-use proof for this request, signed by that key.
import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import fastifyTokenAuth from '../src/index.js'
import { testProvider } from '../providers/test.js'
import { rawRequest } from './helpers/raw-http.js'
import { useVirtualTime } from './helpers/clock.js'

type Key = Awaited<ReturnType<typeof generateKeyPair>>
const HTU = 'http://api.test/orders'
let client: Key
let stranger: Key
let clientJwk: JWK
const tokens = { bound: 'dpop-bound-token.1', plain: 'plain-bearer-token.1' }

async function proof(key: Key, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const jwk = await exportJWK(key.publicKey)
  return new SignJWT({ jti: randomUUID(), htm: 'GET', htu: HTU, iat: Math.floor(Date.now() / 1000), ath: createHash('sha256').update(tokens.bound).digest('base64url'), ...claims })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk, ...header }).sign(key.privateKey)
}

async function appWith(dpop?: 'allowed' | 'required' | 'disabled', extra: { publicUrl?: string } = {}): Promise<FastifyInstance> {
  const provider = testProvider({ tokens: {
    [tokens.bound]: { sub: 'alice', scope: 'orders:read', cnf: { jkt: await calculateJwkThumbprint(clientJwk, 'sha256') } },
    [tokens.plain]: { sub: 'bob', scope: 'orders:read' },
    'cnf-jwk-token.1': { sub: 'carol', scope: 'orders:read', cnf: { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } } },
    'cnf-kid-token.1': { sub: 'carol', scope: 'orders:read', cnf: { kid: 'key-1' } },
    'cnf-empty-token.1': { sub: 'carol', scope: 'orders:read', cnf: {} },
    'cnf-jkt-and-jwk-token.1': { sub: 'carol', scope: 'orders:read', cnf: { jkt: await calculateJwkThumbprint(clientJwk, 'sha256'), jwk: clientJwk } },
  } })
  const app = Fastify()
  await app.register(fastifyTokenAuth, { provider, ...(dpop === undefined ? {} : { dpop }), ...extra })
  app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid, strategy: request.auth.strategy }))
  app.get('/', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
  app.get('/~orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
  app.get('/files/*', { config: { auth: true } }, async (request) => ({ file: (request.params as Record<string, string>)['*'] }))
  await app.ready()
  return app
}
const call = (app: FastifyInstance, authorization: string, dpop?: string, host = 'api.test', url = '/orders') =>
  app.inject({ url, headers: { host, authorization, ...(dpop === undefined ? {} : { dpop }) } })

before(async () => {
  client = await generateKeyPair('ES256', { extractable: true })
  stranger = await generateKeyPair('ES256', { extractable: true })
  clientJwk = await exportJWK(client.publicKey)
})

describe('DPoP-bound tokens (dpop: allowed, the default)', () => {
  let app: FastifyInstance
  before(async () => { app = await appWith() })
  after(() => app.close())

  test('a valid proof: 200, strategy dpop', async () => {
    const response = await call(app, `DPoP ${tokens.bound}`, await proof(client))
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { uid: 'alice', strategy: 'dpop' })
  })

  const refusals: Array<[string, () => Promise<[string, string | undefined]>, string]> = [
    ['a replayed jti', async () => { const p = await proof(client); await call(app, `DPoP ${tokens.bound}`, p); return [`DPoP ${tokens.bound}`, p] }, 'invalid_dpop_proof'],
    ['the wrong htm', async () => [`DPoP ${tokens.bound}`, await proof(client, { htm: 'POST' })], 'invalid_dpop_proof'],
    ['the wrong htu', async () => [`DPoP ${tokens.bound}`, await proof(client, { htu: 'http://api.test/admin' })], 'invalid_dpop_proof'],
    ['a stale iat', async () => [`DPoP ${tokens.bound}`, await proof(client, { iat: Math.floor(Date.now() / 1000) - 600 })], 'invalid_dpop_proof'],
    ['the wrong ath', async () => [`DPoP ${tokens.bound}`, await proof(client, { ath: createHash('sha256').update('another token').digest('base64url') })], 'invalid_dpop_proof'],
    ['a proof signed by another key than cnf.jkt', async () => [`DPoP ${tokens.bound}`, await proof(stranger)], 'invalid_dpop_proof'],
    ['typ JWT instead of dpop+jwt', async () => [`DPoP ${tokens.bound}`, await proof(client, {}, { typ: 'JWT' })], 'invalid_dpop_proof'],
    ['no proof at all', async () => [`DPoP ${tokens.bound}`, undefined], 'invalid_dpop_proof'],
    ['the Bearer scheme for a DPoP-bound token', async () => [`Bearer ${tokens.bound}`, await proof(client)], 'invalid_token'],
    ['the DPoP scheme for an unbound token', async () => [`DPoP ${tokens.plain}`, await proof(client)], 'invalid_token'],
  ]
  for (const [name, make, error] of refusals) {
    test(`${name}: 401 ${error} with a DPoP challenge`, async () => {
      const [authorization, dpop] = await make()
      const response = await call(app, authorization, dpop)
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().error, error)
      const challenges = ([] as string[]).concat(response.headers['www-authenticate'] as string | string[])
      assert.match(challenges[0]!, new RegExp(`^DPoP realm="api", algs="ES256[^"]*", error="${error}"`))
    })
  }

  test('unbound Bearer tokens still pass, with the Bearer challenge unchanged on failure', async () => {
    assert.deepEqual((await call(app, `Bearer ${tokens.plain}`)).json(), { uid: 'bob', strategy: 'bearer' })
    const refused = await call(app, 'Bearer unknown-token.x')
    assert.match(String(refused.headers['www-authenticate']), /^Bearer realm="api", error="invalid_token"/)
  })
})

describe('dpop modes', () => {
  test("'required': an unbound Bearer token is refused, the challenge is DPoP only", async () => {
    const app = await appWith('required')
    const response = await call(app, `Bearer ${tokens.plain}`)
    assert.equal(response.statusCode, 401)
    assert.match(String(response.headers['www-authenticate']), /^DPoP realm="api", algs="/)
    assert.equal((await call(app, `DPoP ${tokens.bound}`, await proof(client))).statusCode, 200)
    await app.close()
  })

  test("'disabled': the DPoP scheme is no token, and a bound token is never downgraded to Bearer", async () => {
    const app = await appWith('disabled')
    assert.equal((await call(app, `DPoP ${tokens.bound}`, await proof(client))).json().error, 'missing_token')
    const downgraded = await call(app, `Bearer ${tokens.bound}`)
    assert.equal(downgraded.statusCode, 401)
    assert.equal(downgraded.json().error, 'invalid_token')
    await app.close()
  })
})

describe('the iat window, on virtual time from a whole second', () => {
  // A proof is fresh from 60 s before now to 5 s ahead (a client clock may run fast); the replay
  // memory must hold a jti for as long as its proof is fresh, and may forget it after.
  const description = async (app: FastifyInstance, dpop: string): Promise<string | undefined> => {
    const response = await call(app, `DPoP ${tokens.bound}`, dpop)
    return response.statusCode === 200 ? undefined : response.json<{ error_description: string }>().error_description
  }

  test('iat from now − 60 s to now + 5 s is fresh, one second beyond either end is not', async (t) => {
    const clock = useVirtualTime(t)
    const app = await appWith()
    try {
      const now = clock.nowS()
      for (const iat of [now - 60, now, now + 5]) assert.equal(await description(app, await proof(client, { iat })), undefined, `iat now${iat - now >= 0 ? '+' : ''}${iat - now}`)
      for (const iat of [now - 61, now + 6]) assert.equal(await description(app, await proof(client, { iat })), 'The DPoP proof is not fresh', `iat now${iat - now >= 0 ? '+' : ''}${iat - now}`)
    } finally {
      await app.close()
    }
  })

  test('a replay is refused for as long as the proof is fresh, then as stale', async (t) => {
    const clock = useVirtualTime(t)
    const app = await appWith()
    try {
      // Issued by a clock 5 s fast: fresh until 65 s from now.
      const ahead = await proof(client, { iat: clock.nowS() + 5 })
      assert.equal(await description(app, ahead), undefined)
      clock.tick(65_000)
      assert.equal(await description(app, ahead), 'The DPoP proof was already used', 'at the last instant it is fresh, its jti is still known')
      clock.tick(1_000)
      assert.equal(await description(app, ahead), 'The DPoP proof is not fresh')
    } finally {
      await app.close()
    }
  })
})

describe('FT: htu is checked against a trusted origin', () => {
  test('a Host that carries a path cannot make a proof for /intendedPath valid on another path: 400', async () => {
    const app = await appWith()
    for (const host of ['api.test/orders?', 'api.test/orders#', 'api.test/orders']) {
      const response = await call(app, `DPoP ${tokens.bound}`, await proof(client), host, '/')
      assert.equal(response.statusCode, 400, `Host: ${host}`)
      assert.equal(response.json().error, 'invalid_request')
    }
    await app.close()
  })

  test('publicUrl: behind a proxy that strips /api, the proof names the public URL', async () => {
    const app = await appWith('allowed', { publicUrl: 'https://public.example/api/' })
    const publicProof = await proof(client, { htu: 'https://public.example/api/orders' })
    assert.equal((await call(app, `DPoP ${tokens.bound}`, publicProof, 'internal:8080')).statusCode, 200)
    const internalProof = await proof(client, { htu: 'http://internal:8080/orders' })
    assert.equal((await call(app, `DPoP ${tokens.bound}`, internalProof, 'internal:8080')).json().error, 'invalid_dpop_proof')
    await app.close()
  })

  test('htu is compared after RFC 3986 normalization: case of scheme and host, default port, unreserved escapes', async () => {
    const app = await appWith()
    for (const htu of ['HTTP://API.TEST:80/%7Eorders', 'http://api.test/%7eorders', 'http://api.test/~orders?x=1#y']) {
      assert.equal((await call(app, `DPoP ${tokens.bound}`, await proof(client, { htu }), 'api.test', '/~orders')).statusCode, 200, htu)
    }
    assert.equal((await call(app, `DPoP ${tokens.bound}`, await proof(client, { htu: 'http://api.test/%7Forders' }), 'api.test', '/~orders')).statusCode, 401)
    await app.close()
  })

  test('publicUrl with a query, a fragment or credentials is refused at registration', async () => {
    for (const publicUrl of ['https://a.example/?x=1', 'https://a.example/#f', 'https://user:pw@a.example/', 'ftp://a.example/', 'not a url']) {
      await assert.rejects(appWith('allowed', { publicUrl }), /publicUrl/, publicUrl)
    }
  })
})

describe('binding methods and paths this API cannot check (the third review)', () => {
  test('a token bound by another confirmation method (cnf.jwk, cnf.kid) or an empty cnf is refused, never a bearer token', async () => {
    for (const mode of ['allowed', 'disabled'] as const) {
      const app = await appWith(mode)
      for (const token of ['cnf-jwk-token.1', 'cnf-kid-token.1', 'cnf-empty-token.1', 'cnf-jkt-and-jwk-token.1']) {
        const response = await call(app, `Bearer ${token}`)
        assert.equal(response.statusCode, 401, `${token} under dpop '${mode}'`)
        assert.equal(response.json().error, 'invalid_token')
      }
      await app.close()
    }
  })

  test('a proof for /admin does not pass for /files/a/../../admin, which the router serves as a file', async () => {
    const app = await appWith()
    await app.listen({ host: '127.0.0.1', port: 0 })
    // A real socket: inject would resolve the dot segments before the router saw them.
    const head = ['GET /files/a/../../admin HTTP/1.1', 'Host: api.test', `Authorization: DPoP ${tokens.bound}`, `DPoP: ${await proof(client, { htu: 'http://api.test/admin' })}`, 'Connection: close']
    const response = await rawRequest((app.server.address() as { port: number }).port, `${head.join('\r\n')}\r\n\r\n`)
    assert.equal(response.status, 401)
    assert.match(response.body, /invalid_dpop_proof/)
    const own = await call(app, `DPoP ${tokens.bound}`, await proof(client, { htu: 'http://api.test/files/report' }), 'api.test', '/files/report')
    assert.equal(own.statusCode, 200)
    await app.close()
  })
})
