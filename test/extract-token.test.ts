import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { extractToken, type ExtractResult } from '../src/index.js'
import { buildApp, TOKENS } from './helpers/app.js'
import { rawRequest } from './helpers/raw-http.js'
import type { TestProvider } from '../providers/test.js'

const OPTIONS = { maxTokenLength: 8192, allowQuery: false }
const key = (result: ExtractResult): string => (typeof result === 'string' ? `token:${result}` : result.key)

describe('extractToken (RFC 6750 §2.1)', () => {
  const rows: Array<[string, string | undefined, string]> = [
    ['no header', undefined, 'missing_token'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'missing_token'],
    ['a scheme that only starts with Bearer', 'Bearerabc', 'missing_token'],
    ['Bearer', 'Bearer abc', 'token:abc'],
    ['scheme is case-insensitive', 'bEaReR abc', 'token:abc'],
    ['several spaces before the token', 'Bearer    abc', 'token:abc'],
    ['every b64token character', 'Bearer AZaz09-._~+/==', 'token:AZaz09-._~+/=='],
    ['scheme alone', 'Bearer', 'invalid_request'],
    ['tab instead of space', 'Bearer\tabc', 'invalid_request'],
    ['inner space', 'Bearer abc def', 'invalid_request'],
    ['comma list', 'Bearer abc, Basic xyz', 'invalid_request'],
    ['padding in the middle', 'Bearer ab=c', 'invalid_request'],
    ['only padding', 'Bearer ==', 'invalid_request'],
    ['quote', 'Bearer "abc"', 'invalid_request'],
    ['non-ASCII', 'Bearer abcé', 'invalid_request'],
    ['byte 0xff as latin1', 'Bearer abc\u00ff', 'invalid_request'],
    ['NUL', 'Bearer abc\u0000', 'invalid_request'],
  ]
  for (const [name, header, expected] of rows) {
    test(name, () => {
      assert.equal(key(extractToken({ authorization: header }, OPTIONS)), expected)
    })
  }

  test('a token longer than maxTokenLength is invalid_request, at the limit it passes', () => {
    assert.equal(key(extractToken({ authorization: `Bearer ${'a'.repeat(8193)}` }, OPTIONS)), 'invalid_request')
    assert.equal(key(extractToken({ authorization: `Bearer ${'a'.repeat(8192)}` }, OPTIONS)), `token:${'a'.repeat(8192)}`)
  })

  test('two Authorization headers in rawHeaders are invalid_request', () => {
    const result = extractToken({ authorization: 'Bearer abc', rawHeaders: ['Authorization', 'Bearer abc', 'authorization', 'Bearer xyz'] }, OPTIONS)
    assert.equal(key(result), 'invalid_request')
  })

  describe('query (RFC 6750 §2.3)', () => {
    const withQuery = { ...OPTIONS, allowQuery: true }
    test('ignored unless allowQuery', () => {
      assert.equal(key(extractToken({ authorization: undefined, query: { access_token: 'abc' } }, OPTIONS)), 'missing_token')
    })
    test('accepted with allowQuery', () => {
      assert.equal(key(extractToken({ authorization: undefined, query: { access_token: 'abc' } }, withQuery)), 'token:abc')
    })
    test('sent two ways is invalid_request', () => {
      assert.equal(key(extractToken({ authorization: 'Bearer abc', query: { access_token: 'abc' } }, withQuery)), 'invalid_request')
    })
    test('another scheme in the header and a query token is one bearer token', () => {
      assert.equal(key(extractToken({ authorization: 'Basic dXNlcjpwYXNz', query: { access_token: 'abc' } }, withQuery)), 'token:abc')
    })
    for (const [name, value] of [['repeated', ['a', 'b']], ['an object', { a: 1 }], ['empty', ''], ['with NUL', 'ab\u0000c']] as const) {
      test(`${name} is invalid_request`, () => {
        assert.equal(key(extractToken({ authorization: undefined, query: { access_token: value } }, withQuery)), 'invalid_request')
      })
    }
    test('an inherited access_token is no token', () => {
      const query = Object.create({ access_token: 'inherited' }) as object
      assert.equal(key(extractToken({ authorization: undefined, query }, withQuery)), 'missing_token')
    })
  })
})

describe('extraction in the plugin: the provider is never called for a bad header', () => {
  let app: FastifyInstance
  let provider: TestProvider
  before(async () => {
    ({ app, provider } = await buildApp())
  })
  after(() => app.close())

  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['no header', {}, 401, 'missing_token'],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }, 401, 'missing_token'],
    ['scheme alone', { authorization: 'Bearer' }, 400, 'invalid_request'],
    ['inner space', { authorization: 'Bearer abc def' }, 400, 'invalid_request'],
    ['chars outside b64token', { authorization: 'Bearer abc$def' }, 400, 'invalid_request'],
    ['9000-char token', { authorization: `Bearer ${'a'.repeat(9000)}` }, 400, 'invalid_request'],
  ]
  for (const [name, headers, status, error] of cases) {
    test(name, async () => {
      const before = provider.calls
      const response = await app.inject({ method: 'GET', url: '/private', headers })
      assert.equal(response.statusCode, status)
      assert.equal(response.json().error, error)
      assert.match(response.headers['www-authenticate'] as string, /^Bearer realm="api"/)
      assert.equal(provider.calls, before, 'the provider must not be called')
    })
  }

  test('a token in the query is ignored unless allowQuery', async () => {
    const before = provider.calls
    const response = await app.inject({ method: 'GET', url: `/private?access_token=${TOKENS.alice}` })
    assert.equal(response.statusCode, 401)
    assert.equal(response.json().error, 'missing_token')
    assert.equal(provider.calls, before)
  })
})

describe('extraction over a real socket', () => {
  let app: FastifyInstance
  let provider: TestProvider
  let port: number
  before(async () => {
    ({ app, provider } = await buildApp())
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as { port: number }).port
  })
  after(() => app.close())

  test('two Authorization headers (Node keeps only the first) are a 400', async () => {
    const before = provider.calls
    const response = await rawRequest(port,
      `GET /private HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKENS.alice}\r\nAuthorization: Bearer other\r\nConnection: close\r\n\r\n`)
    assert.equal(response.status, 400)
    assert.match(response.headers['www-authenticate'] ?? '', /error="invalid_request"/)
    assert.equal(provider.calls, before)
  })

  test('raw bytes >= 0x80 in the token are a 400', async () => {
    const before = provider.calls
    const head = Buffer.concat([
      Buffer.from('GET /private HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer abc'),
      Buffer.from([0xc3, 0xa9, 0xff]),
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ])
    const response = await rawRequest(port, head)
    assert.equal(response.status, 400)
    assert.equal(provider.calls, before)
  })

  test('one header with a valid token passes', async () => {
    const response = await rawRequest(port,
      `GET /private HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKENS.alice}\r\nConnection: close\r\n\r\n`)
    assert.equal(response.status, 200)
    assert.equal(JSON.parse(response.body).uid, 'alice')
  })
})
