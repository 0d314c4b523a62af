// RFC 9728: the metadata document, where it is served, and the challenges that point at it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth from '../src/index.js'
import { testProvider } from '../providers/test.js'

const METADATA = 'https://api.acme.com/.well-known/oauth-protected-resource/orders'

async function app(allowQuery = false) {
  const instance = Fastify()
  await instance.register(fastifyTokenAuth, {
    provider: testProvider({ tokens: { 'reader-token.rm': { sub: 'r', scope: 'orders:read' } } }),
    allowQuery,
    resourceMetadata: {
      resource: 'https://api.acme.com/orders',
      authorization_servers: ['https://login.acme.com/'],
      scopes_supported: ['orders:read', 'orders:write'],
      resource_name: 'Orders API',
    },
  })
  instance.get('/orders', { config: { auth: { scopes: ['orders:write'] } } }, async () => 'ok')
  await instance.ready()
  return instance
}

test('the document is served at the well-known path of the resource, without authentication', async () => {
  const instance = await app()
  const response = await instance.inject({ url: '/.well-known/oauth-protected-resource/orders' })
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), {
    resource: 'https://api.acme.com/orders',
    authorization_servers: ['https://login.acme.com/'],
    scopes_supported: ['orders:read', 'orders:write'],
    resource_name: 'Orders API',
    bearer_methods_supported: ['header'],
  })
  const withQuery = await app(true)
  assert.deepEqual((await withQuery.inject({ url: '/.well-known/oauth-protected-resource/orders' })).json().bearer_methods_supported, ['header', 'query'])
  await instance.close()
  await withQuery.close()
})

test('every challenge carries resource_metadata: 401 without and with an error, 403, 400', async () => {
  const instance = await app()
  const cases: Array<[Record<string, string>, number, string]> = [
    [{}, 401, `Bearer realm="api", resource_metadata="${METADATA}"`],
    [{ authorization: 'Bearer unknown-token.rm' }, 401, `Bearer realm="api", resource_metadata="${METADATA}", error="invalid_token"`],
    [{ authorization: 'Bearer reader-token.rm' }, 403, `Bearer realm="api", resource_metadata="${METADATA}", error="insufficient_scope"`],
    [{ authorization: 'Bearer a b' }, 400, `Bearer realm="api", resource_metadata="${METADATA}", error="invalid_request"`],
  ]
  for (const [headers, status, prefix] of cases) {
    const response = await instance.inject({ url: '/orders', headers })
    assert.equal(response.statusCode, status)
    assert.ok(String(response.headers['www-authenticate']).startsWith(prefix), String(response.headers['www-authenticate']))
  }
  await instance.close()
})

test('a resource with a query or fragment is refused at registration', async () => {
  const instance = Fastify()
  await assert.rejects(async () => {
    await instance.register(fastifyTokenAuth, { provider: testProvider({ tokens: {} }), resourceMetadata: { resource: 'https://api.acme.com/?x=1' } })
    await instance.ready()
  }, /no query or fragment/)
  await instance.close()
})
