import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth from '../../src/index.js'
import { userinfoProvider, type UserinfoProviderOptions } from '../../providers/userinfo.js'
import { useIdp } from '../helpers/idp.js'

const ctx = useIdp()

async function apiWith(options: Partial<UserinfoProviderOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyTokenAuth, { provider: userinfoProvider({ issuer: ctx.idp.issuer, timeout: 1000, ...options }) })
  app.get('/me', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid, info: request.auth.info, scopes: request.auth.credentials.scopes }))
  await app.ready()
  return app
}
const get = (app: FastifyInstance, token: string) => app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })

describe('userinfo provider against oidc-provider', () => {
  test('a user token: 200 with uid and the OIDC profile', async () => {
    const app = await apiWith()
    const { access_token } = await ctx.idp.userToken('alice')
    const response = await get(app, access_token)
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), {
      uid: 'alice',
      info: { name: 'User alice', preferred_username: 'alice', email: 'alice@example.test', email_verified: true },
      scopes: [],
    })
    await app.close()
  })

  test('the endpoint refuses the token (401 from it): invalid_token', async () => {
    const app = await apiWith()
    const unknown = await get(app, 'never-issued-token-value')
    assert.equal(unknown.statusCode, 401)
    assert.equal(unknown.json().error, 'invalid_token')
    // A client_credentials token carries an audience; userinfo refuses it.
    const { access_token } = await ctx.idp.token('web-opaque')
    assert.equal((await get(app, access_token)).statusCode, 401)
    await app.close()
  })

  test('mapping turns an API answer and its headers into claims', async () => {
    const app = await apiWith({
      endpoint: `${ctx.idp.issuer}/me`,
      mapping: (body, headers) => ({ sub: `user:${String(body.sub)}`, name: body.name, scope: headers['cache-control'] === undefined ? '' : 'profile:read' }),
    })
    const { access_token } = await ctx.idp.userToken('bob')
    const body = (await get(app, access_token)).json()
    assert.equal(body.uid, 'user:bob')
    assert.deepEqual(body.info, { name: 'User bob' })
    assert.deepEqual(body.scopes, ['profile:read'])
    await app.close()
  })

  test('identity provider down: 503', async () => {
    const app = await apiWith()
    const { access_token } = await ctx.idp.userToken('carol')
    await ctx.idp.stop()
    try {
      assert.equal((await get(app, access_token)).statusCode, 503)
    } finally {
      await ctx.idp.start()
    }
    assert.equal((await get(app, access_token)).statusCode, 200)
    await app.close()
  })
})
