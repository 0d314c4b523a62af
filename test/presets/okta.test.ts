import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { okta } from '../../providers/presets/okta.js'
import { nowS, startJwtStandIn, type JwtStandIn } from '../helpers/stand-in.js'

let idp: JwtStandIn
before(async () => { idp = await startJwtStandIn() })
after(() => idp.close())

// Shaped after an Okta custom authorization server's access token.
const token = (extra: Record<string, unknown> = {}) => idp.sign({
  ver: 1, jti: 'AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE', iss: 'https://acme.okta.com/oauth2/default', aud: 'api://default',
  iat: nowS(), exp: nowS() + 3600, cid: '0oa1a2b3c4d5e6f7g8h9', uid: '00u1a2b3c4d5e6f7g8h9', scp: ['openid', 'orders.read'],
  auth_time: nowS() - 60, sub: 'alice@acme.com', ...extra,
})

test('okta: a valid token; uid from `uid`, scopes from `scp`', async () => {
  const provider = okta({ domain: 'acme.okta.com', jwksUri: idp.jwksUri })
  const auth = await tokenAuth(token(), provider) as Auth
  assert.equal(auth.uid, '00u1a2b3c4d5e6f7g8h9')
  assert.deepEqual(auth.credentials.scopes, ['openid', 'orders.read'])
})

test('okta: a token of another authorization server is refused', async () => {
  const provider = okta({ domain: 'acme.okta.com', jwksUri: idp.jwksUri })
  assert.equal((await tokenAuth(token({ iss: 'https://acme.okta.com/oauth2/aus1other' }), provider) as AuthFailure).status, 401)
  assert.equal((await tokenAuth(token({ iss: 'https://other.okta.com/oauth2/default' }), provider) as AuthFailure).status, 401)
})
