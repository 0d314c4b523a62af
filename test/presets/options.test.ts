// What every preset shares: unknown options refused (with the likely intended name), numbers in
// range, issuer-shaped settings without query, fragment or userinfo, and the user's
// `clockTolerance`, `validate` and `map` passed through to the provider underneath.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { InvalidTokenError, tokenAuth, type Auth, type AnyProvider, type AuthFailure } from '../../src/index.js'
import { auth0 } from '../../providers/presets/auth0.js'
import { cognito } from '../../providers/presets/cognito.js'
import { entra } from '../../providers/presets/entra.js'
import { github } from '../../providers/presets/github.js'
import { googleAccessToken, googleIdToken } from '../../providers/presets/google.js'
import { hydra } from '../../providers/presets/hydra.js'
import { keycloak } from '../../providers/presets/keycloak.js'
import { okta } from '../../providers/presets/okta.js'
import { zitadel } from '../../providers/presets/zitadel.js'
import { nowS, startJwtStandIn, type JwtStandIn } from '../helpers/stand-in.js'

let idp: JwtStandIn
let opaque: Server
let opaqueUrl: string
/** The exp the opaque stand-in answers with (introspection and tokeninfo alike). */
let opaqueExp = 0
before(async () => {
  idp = await startJwtStandIn()
  // One server plays the introspection endpoints (Hydra, ZITADEL) and Google's tokeninfo.
  opaque = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const answer = req.url === '/tokeninfo'
        ? { aud: GOOGLE_CLIENT, azp: GOOGLE_CLIENT, sub: 'u1', scope: 'openid', exp: String(opaqueExp) }
        : { active: true, sub: 'u1', client_id: 'web', scope: 'read', exp: opaqueExp, iss: req.url === '/oauth/v2/introspect' ? 'https://acme.zitadel.cloud' : 'https://auth.acme.com/', aud: ['p1'] }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
    })
  })
  await new Promise<void>((resolve) => opaque.listen(0, '127.0.0.1', resolve))
  opaqueUrl = `http://127.0.0.1:${(opaque.address() as AddressInfo).port}`
})
after(async () => {
  await idp.close()
  opaque.close()
})

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const GOOGLE_CLIENT = '1234987819200-abc123def456.apps.googleusercontent.com'

interface Case {
  name: string
  /** Builds the preset with the given extra options. */
  build: (extra: Record<string, unknown>) => AnyProvider
  /** A token the preset accepts, expiring at `exp`. */
  token: (exp: number) => string
}

const jwtCases: Case[] = [
  {
    name: 'auth0',
    build: (extra) => auth0({ domain: 'acme.eu.auth0.com', audience: 'https://api.acme.com', jwksUri: idp.jwksUri, ...extra }),
    token: (exp) => idp.sign({ iss: 'https://acme.eu.auth0.com/', aud: 'https://api.acme.com', sub: 'u1', exp, iat: nowS() - 60 }),
  },
  {
    name: 'keycloak',
    build: (extra) => keycloak({ url: 'https://sso.acme.com', realm: 'acme', audience: 'orders-api', jwksUri: idp.jwksUri, ...extra }),
    token: (exp) => idp.sign({ iss: 'https://sso.acme.com/realms/acme', aud: 'orders-api', sub: 'u1', typ: 'Bearer', exp, iat: nowS() - 60 }),
  },
  {
    name: 'okta',
    build: (extra) => okta({ domain: 'acme.okta.com', jwksUri: idp.jwksUri, ...extra }),
    token: (exp) => idp.sign({ iss: 'https://acme.okta.com/oauth2/default', aud: 'api://default', sub: 'u1', exp, iat: nowS() - 60 }),
  },
  {
    name: 'entra',
    build: (extra) => entra({ tenantId: TENANT, audience: 'client-1', jwksUri: idp.jwksUri, ...extra }),
    token: (exp) => idp.sign({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, aud: 'client-1', tid: TENANT, sub: 'u1', scp: 'read', exp, iat: nowS() - 60 }),
  },
  {
    name: 'cognito',
    build: (extra) => cognito({ region: 'eu-west-1', userPoolId: 'eu-west-1_AbC', clientId: 'app-1', jwksUri: idp.jwksUri, ...extra }),
    token: (exp) => idp.sign({ iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC', client_id: 'app-1', token_use: 'access', sub: 'u1', exp, iat: nowS() - 60 }),
  },
  {
    name: 'googleIdToken',
    build: (extra) => googleIdToken({ clientId: GOOGLE_CLIENT, jwksUri: idp.jwksUri, ...extra }),
    token: (exp) => idp.sign({ iss: 'https://accounts.google.com', aud: GOOGLE_CLIENT, sub: 'u1', exp, iat: nowS() - 60 }),
  },
]

/** Opaque tokens: the stand-in answers every token with `opaqueExp`. */
const opaqueToken = (exp: number): string => {
  opaqueExp = exp
  return `opaque-${exp}-${Math.random()}`
}
const opaqueCases: Case[] = [
  { name: 'hydra', build: (extra) => hydra({ adminUrl: opaqueUrl, issuer: 'https://auth.acme.com/', ...extra }), token: opaqueToken },
  { name: 'zitadel', build: (extra) => zitadel({ domain: 'acme.zitadel.cloud', baseUrl: opaqueUrl, clientId: 'c', clientSecret: 's', projectId: 'p1', ...extra }), token: opaqueToken },
  { name: 'googleAccessToken', build: (extra) => googleAccessToken({ clientId: GOOGLE_CLIENT, tokeninfoUrl: `${opaqueUrl}/tokeninfo`, ...extra }), token: opaqueToken },
]

const refuse = (claims: Record<string, unknown>): void => {
  if (claims.sub === 'u1') throw new InvalidTokenError('Not this user', { reason: 'validate' })
}

describe('presets pass clockTolerance, validate and map through', () => {
  for (const preset of [...jwtCases, ...opaqueCases]) {
    test(`${preset.name}`, async () => {
      assert.equal((await tokenAuth(preset.token(nowS() + 600), preset.build({})) as Auth).uid, 'u1', 'the baseline token is accepted')
      const refused = await tokenAuth(preset.token(nowS() + 600), preset.build({ validate: refuse })) as AuthFailure
      assert.deepEqual([refused.status, refused.errors[0]?.message], [401, 'Not this user'], 'validate')
      const mapped = await tokenAuth(preset.token(nowS() + 600), preset.build({ map: { getUid: (claims: Record<string, unknown>) => `mapped:${String(claims.sub)}` } })) as Auth
      assert.equal(mapped.uid, 'mapped:u1', 'map')
      // Expired 30 s ago: refused with the default tolerance (5 s), accepted with 60 s.
      assert.equal((await tokenAuth(preset.token(nowS() - 30), preset.build({})) as AuthFailure).status, 401, 'default clockTolerance')
      assert.equal((await tokenAuth(preset.token(nowS() - 30), preset.build({ clockTolerance: 60 })) as Auth).uid, 'u1', 'clockTolerance')
    })
  }
})

describe('preset options are checked at construction', () => {
  const every = [...jwtCases, ...opaqueCases]
  test('an unknown option is refused with the likely name: mapping → map', () => {
    for (const preset of every) {
      assert.throws(() => preset.build({ mapping: {} }), { name: 'TypeError', message: `${preset.name}: unknown option "mapping", did you mean map?` }, preset.name)
      assert.throws(() => preset.build({ timeuot: 100 }), { name: 'TypeError', message: `${preset.name}: unknown option "timeuot", did you mean timeout?` }, preset.name)
    }
  })

  test('numbers out of range, and validate that is not a function, are refused naming the option', () => {
    for (const preset of every) {
      assert.throws(() => preset.build({ timeout: 0 }), { name: 'TypeError', message: new RegExp(`^${preset.name}: timeout must be an integer from 1 to 600,000 \\(ms\\)`) }, preset.name)
      assert.throws(() => preset.build({ clockTolerance: -1 }), { name: 'TypeError', message: new RegExp(`^${preset.name}: clockTolerance must be a number from 0 to 600`) }, preset.name)
      assert.throws(() => preset.build({ validate: true }), { name: 'TypeError', message: `${preset.name}: validate must be a function` }, preset.name)
    }
    assert.throws(() => hydra({ adminUrl: opaqueUrl, ttl: 1e12 }), /^TypeError: hydra: ttl must be an integer from 0 to 86,400,000/)
    assert.throws(() => github({ timeout: 1.5 }), /^TypeError: github: timeout must be an integer/)
  })

  test('issuer-shaped settings: no query, fragment, userinfo or path where a host name goes (RFC 8414 §2)', () => {
    const refused: Array<[string, () => unknown, RegExp]> = [
      ['auth0 domain with a query', () => auth0({ domain: 'acme.auth0.com/?x=1', audience: 'a' }), /^auth0: domain must be a host name/],
      ['auth0 domain with userinfo', () => auth0({ domain: 'user:pw@acme.auth0.com', audience: 'a' }), /^auth0: domain must be a host name/],
      ['okta domain with a path', () => okta({ domain: 'acme.okta.com/oauth2' }), /^okta: domain must be a host name/],
      ['okta server id with a slash', () => okta({ domain: 'acme.okta.com', authorizationServerId: 'default/../x' }), /^okta: authorizationServerId/],
      ['keycloak url with a query', () => keycloak({ url: 'https://sso.acme.com/?realm=x', realm: 'acme', audience: 'a' }), /^keycloak: url must not have a query/],
      ['keycloak url with a fragment', () => keycloak({ url: 'https://sso.acme.com/#x', realm: 'acme', audience: 'a' }), /^keycloak: url must not have a fragment/],
      ['entra authority with userinfo', () => entra({ tenantId: TENANT, audience: 'a', authority: 'https://u:p@login.microsoftonline.com' }), /^entra: authority must not have userinfo/],
      ['entra tenant with a slash', () => entra({ tenantId: `${TENANT}/v2.0?x`, audience: 'a' }), /^entra: tenantId must be a tenant GUID or domain/],
      ['cognito pool with a slash', () => cognito({ region: 'eu-west-1', userPoolId: 'pool/../x', clientId: 'c' }), /^cognito: userPoolId/],
      ['hydra issuer with a query', () => hydra({ adminUrl: 'http://hydra:4445', issuer: 'https://auth.acme.com/?x' }), /^hydra: issuer must not have a query/],
      ['zitadel domain with a fragment', () => zitadel({ domain: 'acme.zitadel.cloud#x', clientId: 'c', clientSecret: 's' }), /^zitadel: domain must be a host name/],
    ]
    for (const [name, build, message] of refused) {
      assert.throws(build, (err: Error) => err.name === 'TypeError' && message.test(err.message) && !err.message.includes(':pw@'), name)
    }
  })
})
