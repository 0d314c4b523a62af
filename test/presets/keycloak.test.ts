import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { keycloak } from '../../providers/presets/keycloak.js'
import { nowS, startJwtStandIn, type JwtStandIn } from '../helpers/stand-in.js'

let idp: JwtStandIn
before(async () => { idp = await startJwtStandIn() })
after(() => idp.close())

// Shaped after a Keycloak 2x access token with an audience mapper for `orders-api`.
const token = (extra: Record<string, unknown> = {}) => idp.sign({
  exp: nowS() + 300, iat: nowS(), jti: 'onrtac:7f3c…', iss: 'https://sso.acme.com/realms/acme', aud: ['orders-api', 'account'],
  sub: 'f1e2d3c4-b5a6-4789-8abc-def012345678', typ: 'Bearer', azp: 'web-app', sid: 'a1b2c3', acr: '1',
  'allowed-origins': ['https://app.acme.com'],
  realm_access: { roles: ['offline_access', 'uma_authorization', 'admin'] },
  resource_access: { 'orders-api': { roles: ['approve'] }, account: { roles: ['manage-account'] } },
  scope: 'openid profile email', email_verified: true, name: 'Alice Smith', preferred_username: 'alice',
  given_name: 'Alice', family_name: 'Smith', email: 'alice@acme.com', ...extra,
})

test('keycloak: a valid token; realm and client roles join the scopes; profile into info', async () => {
  const provider = keycloak({ url: 'https://sso.acme.com/', realm: 'acme', audience: 'orders-api', jwksUri: idp.jwksUri })
  const auth = await tokenAuth(token(), provider) as Auth
  assert.equal(auth.uid, 'f1e2d3c4-b5a6-4789-8abc-def012345678')
  assert.deepEqual(auth.credentials.scopes, ['openid', 'profile', 'email', 'offline_access', 'uma_authorization', 'admin', 'orders-api:approve', 'account:manage-account'])
  assert.deepEqual(auth.info, { name: 'Alice Smith', given_name: 'Alice', family_name: 'Smith', preferred_username: 'alice', email: 'alice@acme.com', email_verified: true })
})

test('keycloak: a token from another realm is refused', async () => {
  const provider = keycloak({ url: 'https://sso.acme.com', realm: 'acme', audience: 'orders-api', jwksUri: idp.jwksUri })
  assert.equal((await tokenAuth(token({ iss: 'https://sso.acme.com/realms/other' }), provider) as AuthFailure).status, 401)
})

test('keycloak: only access tokens (typ claim Bearer, or DPoP): an ID, refresh or typ-less token is refused', async () => {
  const provider = keycloak({ url: 'https://sso.acme.com', realm: 'acme', audience: 'orders-api', jwksUri: idp.jwksUri })
  for (const typ of ['ID', 'Refresh', 'Offline', 'Logout', undefined, 42]) {
    const failure = await tokenAuth(token({ typ }), provider) as AuthFailure
    assert.deepEqual([failure.status, failure.errors[0]?.message, failure.errors[0]?.reason], [401, 'The token is not an access token', 'type'], String(typ))
  }
  assert.equal((await tokenAuth(token({ typ: 'DPoP' }), provider) as Auth).uid, 'f1e2d3c4-b5a6-4789-8abc-def012345678')
})
