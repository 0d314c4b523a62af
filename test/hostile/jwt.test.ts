// Hostile JWTs against the jwt provider, its keys served by a real local JWKS endpoint: the bug
// classes of the advisories against jsonwebtoken, fast-jwt, express-jwt, @fastify/jwt and jose
// (alg confusion, none, kid injection, header-supplied keys, crit, time boundaries, claim types).
import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth from '../../src/index.js'
import { jwtProvider } from '../../providers/jwt.js'
import { catalogue, counted, type Row, type Target } from './harness.js'

const ISSUER = 'https://issuer.hostile.test/'
const AUDIENCE = 'api://hostile'
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 })
const SYMMETRIC = 'a-symmetric-secret-in-the-jwks-0123456789'
const now = (): number => Math.floor(Date.now() / 1000)
const jwk = (key: KeyObject, kid: string): Record<string, unknown> => ({ ...key.export({ format: 'jwk' }), kid })

interface Served { server: Server; url: string; hits: number; body: () => string; status: number; headers: Record<string, string> }
async function serve(body: () => string, status = 200, headers: Record<string, string> = {}): Promise<Served> {
  const served = { hits: 0, body, status, headers } as Served
  served.server = createServer((_req, res) => {
    served.hits++
    res.writeHead(served.status, { 'content-type': 'application/json', ...served.headers }).end(served.body())
  })
  await new Promise<void>((resolve) => served.server.listen(0, '127.0.0.1', resolve))
  served.url = `http://127.0.0.1:${(served.server.address() as AddressInfo).port}`
  return served
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', scope: 'read', iat: now(), exp: now() + 600, jti: `j${Math.random()}`, ...extra })

/** Signs any header and payload (objects or raw JSON text) with the key the alg names. */
function jws(header: Record<string, unknown> | string, payload: Record<string, unknown> | string, key: KeyObject | string = rsa.privateKey): string {
  const input = `${b64(header)}.${b64(payload)}`
  const alg = typeof header === 'string' ? (JSON.parse(header) as { alg: string }).alg : String(header.alg)
  let signature: Buffer
  if (alg.startsWith('HS')) signature = createHmac(`sha${alg.slice(2)}`, key).update(input).digest()
  else if (alg.startsWith('ES')) signature = sign('sha256', Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' })
  else if (alg === 'none' || alg.toLowerCase() === 'none') signature = Buffer.alloc(0)
  else signature = sign('sha256', Buffer.from(input), key)
  return `${input}.${signature.toString('base64url')}`
}
const rs = (extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string =>
  jws({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-1', ...header }, claims(extra))

let jwks: Served
let evil: Served
let target: Target
before(async () => {
  jwks = await serve(() => JSON.stringify({ keys: [
    jwk(rsa.publicKey, 'rsa-1'), jwk(ec.publicKey, 'ec-1'),
    { kty: 'oct', k: Buffer.from(SYMMETRIC).toString('base64url'), kid: 'oct-1' },
    jwk(attacker.privateKey, 'private-1'),
  ] }))
  evil = await serve(() => JSON.stringify({ keys: [jwk(attacker.publicKey, 'evil-1')] }))
  const provider = counted(jwtProvider({ issuer: ISSUER, audience: AUDIENCE, jwksUri: `${jwks.url}/jwks`, typ: 'at+jwt' }))
  const app = Fastify()
  await app.register(fastifyTokenAuth, { provider, cache: { negativeTtl: 60_000 } })
  app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
  await app.ready()
  target = { app, provider }
})
after(async () => {
  await target.app.close()
  jwks.server.close()
  evil.server.close()
})

const noOutbound = (): void => assert.equal(evil.hits, 0, 'no request to a header-supplied URL')
const invalid = (name: string, token: () => string): Row =>
  ({ name, token, status: 401, error: 'invalid_token', calls: 1, cached: 'negative', also: noOutbound })
const accepted = (name: string, token: () => string, cached: Row['cached'] = 'positive'): Row =>
  ({ name, token, status: 200, error: null, calls: 1, cached })

describe('hostile JWTs', () => {
  catalogue([
    accepted('control: a valid RS256 token', () => rs()),
    accepted('control: a valid ES256 token', () => jws({ alg: 'ES256', typ: 'at+jwt', kid: 'ec-1' }, claims(), ec.privateKey)),
    ...['none', 'None', 'NONE', 'nOnE'].map((alg) => invalid(`alg ${alg}`, () => jws({ alg, typ: 'at+jwt', kid: 'rsa-1' }, claims()))),
    invalid('alg none with a signature', () => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims())}.${b64('sig')}`),
    invalid('HS256 signed with the RSA public key (PEM)', () => jws({ alg: 'HS256', typ: 'at+jwt', kid: 'rsa-1' }, claims(), rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString())),
    invalid('HS256 signed with the RSA public key (JWK JSON)', () => jws({ alg: 'HS256', typ: 'at+jwt', kid: 'rsa-1' }, claims(), JSON.stringify(jwk(rsa.publicKey, 'rsa-1')))),
    invalid('HS256 with a symmetric key published in the JWKS', () => jws({ alg: 'HS256', typ: 'at+jwt', kid: 'oct-1' }, claims(), SYMMETRIC)),
    invalid('a private key published in the JWKS is ignored', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'private-1' }, claims(), attacker.privateKey)),
    invalid('alg/key-type mismatch: RS256 header, EC kid', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'ec-1' }, claims())),
    invalid('alg/key-type mismatch: ES256 header, RSA kid', () => jws({ alg: 'ES256', typ: 'at+jwt', kid: 'rsa-1' }, claims(), ec.privateKey)),
    invalid('PS256 over an RS256-only key is refused', () => jws({ alg: 'ES384', typ: 'at+jwt', kid: 'ec-1' }, claims(), ec.privateKey)),
    invalid('kid __proto__', () => rs({}, { kid: '__proto__' })),
    invalid('kid constructor', () => rs({}, { kid: 'constructor' })),
    invalid('kid as a path', () => rs({}, { kid: '../../../../etc/passwd' })),
    invalid('kid as SQL', () => rs({}, { kid: "x' OR '1'='1" })),
    invalid('kid of 4 KB', () => rs({}, { kid: 'k'.repeat(4096) })),
    { name: 'kid of 10 KB: over maxTokenLength, refused before the provider', token: () => rs({}, { kid: 'k'.repeat(10_240) }), status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    invalid('kid as a number', () => rs({}, { kid: 42 })),
    invalid('kid as an object', () => rs({}, { kid: { $ne: null } })),
    invalid('kid as an array', () => rs({}, { kid: ['rsa-1'] })),
    invalid('jku to an attacker JWKS', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'evil-1', jku: `${evil.url}/jwks` }, claims(), attacker.privateKey)),
    invalid('x5u to an attacker', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'evil-1', x5u: `${evil.url}/cert` }, claims(), attacker.privateKey)),
    invalid('embedded jwk of the attacker', () => jws({ alg: 'RS256', typ: 'at+jwt', jwk: jwk(attacker.publicKey, 'evil-1') }, claims(), attacker.privateKey)),
    invalid('embedded jwk with a known kid', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-1', jwk: jwk(attacker.publicKey, 'rsa-1') }, claims(), attacker.privateKey)),
    invalid('crit with an unknown extension', () => rs({}, { crit: ['exp'], exp: 1 })),
    invalid('crit b64:false (unencoded payload)', () => rs({}, { crit: ['b64'], b64: false })),
    invalid('b64:false without crit', () => rs({}, { b64: false })),
    invalid('duplicate alg in the header, RS256 last', () => jws('{"alg":"none","typ":"at+jwt","kid":"rsa-1","alg":"RS256"}', claims())),
    invalid('duplicate kid in the header', () => jws('{"alg":"RS256","typ":"at+jwt","kid":"evil-1","kid":"rsa-1"}', claims())),
    // 3 s, not 4: exp has whole seconds, so 'now() - 4' can be up to 4.999 s ago.
    accepted('exp 3 s ago (inside the 5 s tolerance)', () => rs({ exp: now() - 3 }), 'none'),
    invalid('exp 6 s ago (outside the tolerance)', () => rs({ exp: now() - 6 })),
    invalid('exp now - 1 day', () => rs({ exp: now() - 86_400 })),
    accepted('nbf 4 s ahead (inside the tolerance)', () => rs({ nbf: now() + 4 })),
    invalid('nbf 6 s ahead', () => rs({ nbf: now() + 6 })),
    invalid('iat one hour in the future', () => rs({ iat: now() + 3600 })),
    invalid('exp as a numeric string', () => rs({ exp: String(now() + 600) })),
    invalid('exp null', () => rs({ exp: null })),
    invalid('exp NaN-like object', () => rs({ exp: { $gt: 0 } })),
    invalid('iss as an array containing the issuer', () => rs({ iss: [ISSUER] })),
    invalid('iss with a trailing difference', () => rs({ iss: ISSUER.slice(0, -1) })),
    invalid('iss missing', () => rs({ iss: undefined })),
    accepted('aud as an array containing this API', () => rs({ aud: ['api://other', AUDIENCE] })),
    invalid('aud as an array without this API', () => rs({ aud: ['api://other', 'api://another'] })),
    invalid('aud missing', () => rs({ aud: undefined })),
    invalid('aud empty string', () => rs({ aud: '' })),
    invalid('aud as an object', () => rs({ aud: { 0: AUDIENCE } })),
    invalid('aud differing in case', () => rs({ aud: AUDIENCE.toUpperCase() })),
    accepted('typ application/at+jwt', () => rs({}, { typ: 'application/at+jwt' })),
    invalid('typ JWT when at+jwt is required', () => rs({}, { typ: 'JWT' })),
    invalid('typ missing when at+jwt is required', () => rs({}, { typ: undefined })),
    invalid('typ as an array', () => rs({}, { typ: ['at+jwt'] })),
    invalid('a JWE (five segments)', () => `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: 'rsa-1' })}.${b64('k')}.${b64('iv')}.${b64('ct')}.${b64('tag')}`),
    invalid('a nested JWT (cty JWT) as the payload', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-1', cty: 'JWT' }, rs())),
    invalid('payload is a JSON array', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-1' }, '[1,2,3]')),
    invalid('payload is null', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-1' }, 'null')),
    invalid('payload is a string', () => jws({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa-1' }, '"sub"')),
    invalid('header is not JSON', () => `${b64('not json')}.${b64(claims())}.${b64('sig')}`),
    invalid('four segments', () => `${rs()}.extra`),
    invalid('empty signature with RS256', () => `${rs().split('.').slice(0, 2).join('.')}.`),
    invalid('signature of another token', () => `${rs({ sub: 'admin' }).split('.').slice(0, 2).join('.')}.${rs().split('.')[2]!}`),
    invalid('payload changed after signing', () => { const [h, , s] = rs().split('.'); return `${h!}.${b64(claims({ scope: 'admin' }))}.${s!}` }),
  ], () => target)
})

describe('hostile JWKS endpoints', () => {
  async function freshApp(jwksUri: string): Promise<Target> {
    const provider = counted(jwtProvider({ issuer: ISSUER, audience: AUDIENCE, jwksUri, timeout: 1000 }))
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider, breaker: false })
    app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
    await app.ready()
    return { app, provider }
  }
  let oversized: Served
  let redirecting: Served
  const targets: Target[] = []
  before(async () => {
    oversized = await serve(() => JSON.stringify({ keys: [jwk(rsa.publicKey, 'rsa-1')], padding: 'x'.repeat(2 * 1024 * 1024) }))
    redirecting = await serve(() => '', 302, { location: `${evil.url}/jwks` })
  })
  after(async () => {
    for (const t of targets) await t.app.close()
    oversized.server.close()
    redirecting.server.close()
  })
  const holder: { current?: Target } = {}
  for (const [name, url] of [['an oversized JWKS (2 MB)', () => `${oversized.url}/jwks`], ['a JWKS that redirects to another host', () => `${redirecting.url}/jwks`]] as const) {
    describe(name, () => {
      before(async () => {
        holder.current = await freshApp(url())
        targets.push(holder.current)
      })
      catalogue([{ name: `${name}: 503, never a pass, nothing cached`, token: () => rs(), status: 503, error: 'provider_unavailable', calls: 1, cached: 'none', also: noOutbound }], () => holder.current!)
    })
  }
})
