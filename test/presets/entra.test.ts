import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { entra } from '../../providers/presets/entra.js'
import { nowS, startJwtStandIn, type JwtStandIn } from '../helpers/stand-in.js'

let idp: JwtStandIn
before(async () => { idp = await startJwtStandIn() })
after(() => idp.close())

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const CLIENT = '6e74172b-be56-4843-9ff4-e66a39bb12e3'
// Shaped after Microsoft's documented v2.0 access token (delegated), and a v1.0 app-only one.
const v2 = (extra: Record<string, unknown> = {}) => idp.sign({
  aud: CLIENT, iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, iat: nowS(), nbf: nowS(), exp: nowS() + 3600,
  aio: 'AXQAi/8I…', azp: '6e74172b-be56-4843-9ff4-e66a39bb12e3', azpacr: '0', name: 'Abe Lincoln',
  oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474', preferred_username: 'abeli@microsoft.com', rh: 'I',
  scp: 'access_as_user Orders.Read', sub: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ', tid: TENANT, uti: 'fqiBqXLPj0eQa82S-IYFAA', ver: '2.0', ...extra,
})
const v1AppOnly = (extra: Record<string, unknown> = {}) => idp.sign({
  aud: 'api://orders', iss: `https://sts.windows.net/${TENANT}/`, iat: nowS(), nbf: nowS(), exp: nowS() + 3600,
  appid: 'b0a1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d', appidacr: '1', idp: `https://sts.windows.net/${TENANT}/`,
  oid: '9f8e7d6c-5b4a-4938-8271-605f4e3d2c1b', roles: ['Orders.ReadWrite.All'], sub: '9f8e7d6c-5b4a-4938-8271-605f4e3d2c1b',
  tid: TENANT, ver: '1.0', ...extra,
})

test('entra v2: a delegated token; uid is oid, scp into scopes, profile into info, tid kept', async () => {
  const provider = entra({ tenantId: TENANT, audience: CLIENT, jwksUri: idp.jwksUri })
  const auth = await tokenAuth(v2(), provider) as Auth
  assert.equal(auth.uid, '690222be-ff1a-4d56-abd1-7e4f7d38e474')
  assert.deepEqual(auth.credentials.scopes, ['access_as_user', 'Orders.Read'])
  assert.deepEqual(auth.info, { name: 'Abe Lincoln', preferred_username: 'abeli@microsoft.com' })
  assert.equal(auth.credentials.other.tid, TENANT)
})

test('entra v1: an app-only token; roles into scopes', async () => {
  const provider = entra({ tenantId: TENANT, audience: 'api://orders', version: 1, jwksUri: idp.jwksUri })
  const auth = await tokenAuth(v1AppOnly(), provider) as Auth
  assert.deepEqual(auth.credentials.scopes, ['Orders.ReadWrite.All'])
  assert.equal(auth.credentials.other.appid, 'b0a1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d')
})

test('entra: a token of another tenant is refused (issuer, and tid)', async () => {
  const provider = entra({ tenantId: TENANT, audience: CLIENT, jwksUri: idp.jwksUri })
  const other = 'f0e1d2c3-b4a5-4697-8889-7a6b5c4d3e2f'
  assert.equal((await tokenAuth(v2({ iss: `https://login.microsoftonline.com/${other}/v2.0`, tid: other }), provider) as AuthFailure).status, 401)
  const tidOnly = await tokenAuth(v2({ tid: other }), provider) as AuthFailure
  assert.equal(tidOnly.errors[0]?.message, 'The access token is from another tenant')
})

test('entra: a token with neither scp nor roles is refused (IDW10201), even when aud is the API\'s own client id', async () => {
  const provider = entra({ tenantId: TENANT, audience: CLIENT, jwksUri: idp.jwksUri })
  // What a client gets when it asks for a token for the API's client id with no scope of it (or an ID token).
  for (const token of [v2({ scp: undefined }), v2({ scp: '' }), v1AppOnly({ aud: CLIENT, iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, roles: [] })]) {
    const failure = await tokenAuth(token, provider) as AuthFailure
    assert.deepEqual([failure.status, failure.errors[0]?.message, failure.errors[0]?.reason], [401, 'The access token carries neither scopes nor roles', 'missing_claim'])
  }
  // Either one is enough.
  assert.equal((await tokenAuth(v2({ scp: undefined, roles: ['Orders.Read.All'] }), provider) as Auth).uid, '690222be-ff1a-4d56-abd1-7e4f7d38e474')
})
