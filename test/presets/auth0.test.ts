import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { auth0 } from '../../providers/presets/auth0.js'
import { nowS, startJwtStandIn, type JwtStandIn } from '../helpers/stand-in.js'

let idp: JwtStandIn
before(async () => { idp = await startJwtStandIn() })
after(() => idp.close())

// Shaped after Auth0's access token for an API with RBAC and "Add Permissions in the Access Token".
const token = (extra: Record<string, unknown> = {}) => idp.sign({
  iss: 'https://acme.eu.auth0.com/', sub: 'auth0|64f1c2a9b3e4d5f6a7b8c9d0',
  aud: ['https://api.acme.com', 'https://acme.eu.auth0.com/userinfo'], iat: nowS(), exp: nowS() + 86_400,
  azp: 'AbC123dEf456GhI789', scope: 'openid profile read:orders', permissions: ['read:orders', 'write:orders'], ...extra,
})

test('auth0: a valid token; permissions join the scopes', async () => {
  const provider = auth0({ domain: 'acme.eu.auth0.com', audience: 'https://api.acme.com', jwksUri: idp.jwksUri })
  const auth = await tokenAuth(token(), provider) as Auth
  assert.equal(auth.uid, 'auth0|64f1c2a9b3e4d5f6a7b8c9d0')
  assert.equal(auth.provider, 'auth0')
  assert.deepEqual(auth.credentials.scopes, ['openid', 'profile', 'read:orders', 'write:orders'])
  assert.equal(auth.credentials.other.azp, 'AbC123dEf456GhI789')
})

test('auth0: a token of another tenant, or for another API, is refused', async () => {
  const provider = auth0({ domain: 'acme.eu.auth0.com', audience: 'https://api.acme.com', jwksUri: idp.jwksUri })
  assert.equal((await tokenAuth(token({ iss: 'https://other.eu.auth0.com/' }), provider) as AuthFailure).status, 401)
  assert.equal((await tokenAuth(token({ aud: 'https://api.other.com' }), provider) as AuthFailure).status, 401)
})
