import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { cognito } from '../../providers/presets/cognito.js'
import { nowS, startJwtStandIn, type JwtStandIn } from '../helpers/stand-in.js'

let idp: JwtStandIn
before(async () => { idp = await startJwtStandIn() })
after(() => idp.close())

const POOL = 'eu-west-1_AbCdEf123'
const CLIENT = '7d8a9b0c1d2e3f4g5h6i7j8k9l'
const ISS = `https://cognito-idp.eu-west-1.amazonaws.com/${POOL}`
// Shaped after Cognito's access and ID tokens.
const access = (extra: Record<string, unknown> = {}) => idp.sign({
  sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', 'cognito:groups': ['admins', 'ops'], iss: ISS, version: 2, client_id: CLIENT,
  origin_jti: 'bbbbbbbb-…', event_id: 'cccccccc-…', token_use: 'access', scope: 'aws.cognito.signin.user.admin orders/read',
  auth_time: nowS() - 30, exp: nowS() + 3600, iat: nowS(), jti: 'dddddddd-…', username: 'alice', ...extra,
})
const id = (extra: Record<string, unknown> = {}) => idp.sign({
  sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', aud: CLIENT, email_verified: true, token_use: 'id', auth_time: nowS() - 30, iss: ISS,
  'cognito:username': 'alice', exp: nowS() + 3600, iat: nowS(), email: 'alice@acme.com', ...extra,
})

test('cognito: an access token (no aud, client_id binds it); groups join the scopes; username into info', async () => {
  const provider = cognito({ region: 'eu-west-1', userPoolId: POOL, clientId: CLIENT, jwksUri: idp.jwksUri })
  const auth = await tokenAuth(access(), provider) as Auth
  assert.equal(auth.uid, 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee')
  assert.deepEqual(auth.credentials.scopes, ['aws.cognito.signin.user.admin', 'orders/read', 'admins', 'ops'])
  assert.deepEqual(auth.info, { preferred_username: 'alice' })
})

test('cognito: another pool, another app client, or an ID token where access is expected: refused', async () => {
  const provider = cognito({ region: 'eu-west-1', userPoolId: POOL, clientId: CLIENT, jwksUri: idp.jwksUri })
  assert.equal((await tokenAuth(access({ iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other999' }), provider) as AuthFailure).status, 401)
  assert.equal((await tokenAuth(access({ client_id: 'another-app-client' }), provider) as AuthFailure).status, 401)
  assert.equal((await tokenAuth(id(), provider) as AuthFailure).errors[0]?.message, 'The token is not an access token')
})

test('cognito: tokenUse id accepts ID tokens for the client (aud)', async () => {
  const provider = cognito({ region: 'eu-west-1', userPoolId: POOL, clientId: CLIENT, tokenUse: 'id', jwksUri: idp.jwksUri })
  const auth = await tokenAuth(id(), provider) as Auth
  assert.deepEqual(auth.info, { preferred_username: 'alice', email: 'alice@acme.com' })
  assert.equal((await tokenAuth(access(), provider) as AuthFailure).status, 401)
})
