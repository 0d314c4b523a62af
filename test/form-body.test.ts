// Form-encoded body tokens (RFC 6750 §2.2, issue 17): opt-in with allowBody, read once the body is
// parsed (@fastify/formbody), one way per request (with a header or a query token: 400).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyFormbody from '@fastify/formbody'
import fastifyTokenAuth from '../src/index.js'
import { testProvider, type TestProvider } from '../providers/test.js'

const TOKEN = 'form-token.1'
const form = (fields: Record<string, string | string[]>): string => {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) for (const item of ([] as string[]).concat(value)) params.append(name, item)
  return params.toString()
}
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

describe('allowBody: true', () => {
  let app: FastifyInstance
  let provider: TestProvider
  before(async () => {
    provider = testProvider({ tokens: { [TOKEN]: { sub: 'form-user', scope: 'orders:write', exp: Math.floor(Date.now() / 1000) + 600 } } })
    app = Fastify()
    await app.register(fastifyFormbody)
    await app.register(fastifyTokenAuth, { provider, allowBody: true, allowQuery: true })
    app.post('/orders', { config: { auth: { scopes: ['orders:write'] } } }, async (request) => ({ uid: request.auth.uid, item: (request.body as { item?: string }).item }))
    app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
    await app.ready()
  })
  after(() => app.close())

  test('access_token in a form body authenticates the request; the handler gets its fields', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders', headers: FORM, payload: form({ access_token: TOKEN, item: 'tea' }) })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { uid: 'form-user', item: 'tea' })
  })

  test('one way per request: a header or a query token with a body token is a 400, before the provider', async () => {
    const calls = provider.calls
    for (const extra of [{ headers: { authorization: `Bearer ${TOKEN}` } }, { query: { access_token: TOKEN } }]) {
      const response = await app.inject({ method: 'POST', url: '/orders', ...extra, headers: { ...FORM, ...extra.headers }, payload: form({ access_token: TOKEN }) })
      assert.equal(response.statusCode, 400)
      assert.equal(response.json().error, 'invalid_request')
    }
    assert.equal(provider.calls, calls)
  })

  test('access_token twice, or empty, is a 400', async () => {
    for (const value of [[TOKEN, TOKEN], ['']]) {
      const response = await app.inject({ method: 'POST', url: '/orders', headers: FORM, payload: form({ access_token: value }) })
      assert.equal(response.statusCode, 400, JSON.stringify(value))
    }
  })

  test('only form-encoded bodies: a JSON body\'s access_token is no credential', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders', payload: { access_token: TOKEN } })
    assert.equal(response.statusCode, 401)
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"')
  })

  test('a form request with the token in the header still authenticates (after the body is parsed)', async () => {
    const response = await app.inject({ method: 'POST', url: '/orders', headers: { ...FORM, authorization: `Bearer ${TOKEN}` }, payload: form({ item: 'milk' }) })
    assert.deepEqual(response.json(), { uid: 'form-user', item: 'milk' })
  })
})

test('without allowBody a body token is no credential', async () => {
  const app = Fastify()
  await app.register(fastifyFormbody)
  await app.register(fastifyTokenAuth, { provider: testProvider({ tokens: { [TOKEN]: { sub: 'x' } } }) })
  app.post('/orders', { config: { auth: true } }, async () => 'ok')
  const response = await app.inject({ method: 'POST', url: '/orders', headers: FORM, payload: form({ access_token: TOKEN }) })
  assert.equal(response.statusCode, 401)
  await app.close()
})

test('allowBody without a form parser fails at startup, naming what to register', async () => {
  const app = Fastify()
  await app.register(fastifyTokenAuth, { provider: testProvider({ tokens: {} }), allowBody: true })
  await assert.rejects(async () => { await app.ready() }, /allowBody needs a parser .* @fastify\/formbody/)
  await app.close()
})
