// Hostile requests at the door: header and query shapes, raw bytes, duplicates, prototype keys.
// None of the refused ones reaches the provider or the cache.
import { after, before, describe } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth, { defineProvider, InvalidTokenError } from '../../src/index.js'
import { bearer, catalogue, counted, type Row, type Target } from './harness.js'

// Accepts any token that starts with "ok-"; everything else is invalid (negative-cached).
const acceptOk = () => counted(defineProvider({
  name: 'hostile-headers',
  getPayload: async (token) => {
    if (!token.startsWith('ok-')) throw new InvalidTokenError()
    return { sub: 'user', exp: Math.floor(Date.now() / 1000) + 600 }
  },
}))

/** A qs-style parser (brackets make arrays and objects), as apps that install `qs` get. */
function qsStyle(query: string): Record<string, unknown> {
  const result: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const pair of query.split('&')) {
    if (pair.length === 0) continue
    const [rawKey = '', rawValue = ''] = pair.split('=')
    const key = decodeURIComponent(rawKey)
    const value = decodeURIComponent(rawValue)
    const match = /^([^[]+)\[([^\]]*)\]$/.exec(key)
    if (match === null) result[key] = key in result ? ([] as unknown[]).concat(result[key], value) : value
    else if (match[2] === '') result[match[1]!] = ([] as unknown[]).concat(result[match[1]!] ?? [], value)
    else result[match[1]!] = { ...(result[match[1]!] as object | undefined), [match[2]!]: value }
  }
  return result
}

async function appWith(options: { allowQuery?: boolean; qs?: boolean; listen?: boolean }): Promise<Target> {
  const provider = acceptOk()
  const app = Fastify(options.qs === true ? { routerOptions: { querystringParser: qsStyle } } : {})
  await app.register(fastifyTokenAuth, { provider, allowQuery: options.allowQuery ?? false, cache: { negativeTtl: 60_000 } })
  app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
  let port: number | undefined
  if (options.listen === true) {
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as { port: number }).port
  } else await app.ready()
  return { app, provider, port }
}

let unique = 0
const ok = (): string => `ok-${++unique}-${Date.now()}`
const refused = (name: string, authorization: string, status = 400, error = 'invalid_request'): Row =>
  ({ name, request: { headers: { authorization } }, status, error, calls: 0, cached: 'none' })

describe('hostile headers (inject)', () => {
  let target: Target
  before(async () => { target = await appWith({}) })
  after(() => target.app.close())
  catalogue([
    { name: 'no Authorization header', status: 401, error: 'missing_token', calls: 0, cached: 'none' },
    refused('Basic scheme', 'Basic dXNlcjpwYXNz', 401, 'missing_token'),
    refused('Digest scheme', 'Digest username="a", realm="b"', 401, 'missing_token'),
    refused('Token scheme', 'Token ok-1', 401, 'missing_token'),
    refused('scheme glued to the token', 'Bearerok-1', 401, 'missing_token'),
    refused('NBSP after the scheme', 'Bearer\u00a0ok-1', 401, 'missing_token'),
    refused('scheme alone', 'Bearer'),
    refused('tab separator', 'Bearer\tok-1'),
    refused('inner space', 'Bearer ok-1 ok-2'),
    refused('comma list of credentials', 'Bearer ok-1, Basic dXNlcjpwYXNz'),
    refused('two bearer credentials in one header', 'Bearer ok-1,Bearer ok-2'),
    refused('quoted token', 'Bearer "ok-1"'),
    refused('semicolon', 'Bearer ok-1;'),
    refused('percent-encoding', 'Bearer ok%2D1'),
    refused('padding in the middle', 'Bearer ok-1=x'),
    refused('only padding', 'Bearer =='),
    refused('non-ASCII (latin1)', 'Bearer ok-\u00e9'),
    refused('a 9000-character token', `Bearer ok-${'a'.repeat(8997)}`),
    refused('a 1 MB token', `Bearer ok-${'a'.repeat(1024 * 1024)}`),
    { name: 'several spaces after the scheme', request: bearer(`  ${ok()}`), status: 200, error: null, calls: 1, cached: 'positive' },
    { name: 'lower-case scheme', request: { headers: { authorization: `bearer ${ok()}` } }, status: 200, error: null, calls: 1, cached: 'positive' },
    { name: 'upper-case scheme', request: { headers: { authorization: `BEARER ${ok()}` } }, status: 200, error: null, calls: 1, cached: 'positive' },
    { name: 'trailing padding is b64token', request: bearer(`${ok()}==`), status: 200, error: null, calls: 1, cached: 'positive' },
    { name: 'exactly maxTokenLength characters', request: bearer(`ok-${'b'.repeat(8189)}`), status: 200, error: null, calls: 1, cached: 'positive' },
    { name: 'a token the provider refuses is negative-cached', request: bearer('not-ok-token.1'), status: 401, error: 'invalid_token', calls: 1, cached: 'negative' },
    { name: 'the same refused token again: from the negative cache', request: bearer('not-ok-token.1'), status: 401, error: 'invalid_token', calls: 0, cached: 'none' },
    { name: 'a token in the query is ignored without allowQuery', request: { url: `/x?access_token=${ok()}` }, status: 401, error: 'missing_token', calls: 0, cached: 'none' },
  ], () => target)
})

describe('hostile headers (raw socket)', () => {
  let target: Target
  before(async () => { target = await appWith({ listen: true }) })
  after(() => target.app.close())
  const head = (...lines: string[]) => `GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.map((line) => `${line}\r\n`).join('')}Connection: close\r\n\r\n`
  catalogue([
    { name: 'raw bytes 0x80-0xff in the token', raw: Buffer.concat([Buffer.from('GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ok-'), Buffer.from([0x80, 0xc3, 0xa9, 0xff]), Buffer.from('\r\nConnection: close\r\n\r\n')]), status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'two Authorization headers', raw: head('Authorization: Bearer ok-raw-1', 'Authorization: Bearer ok-raw-2'), status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'Basic then Bearer headers', raw: head('Authorization: Basic dXNlcjpwYXNz', 'Authorization: Bearer ok-raw-3'), status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'two headers differing in case', raw: head('authorization: Bearer ok-raw-4', 'AUTHORIZATION: Bearer ok-raw-4'), status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'one header over a real socket passes', raw: head('Authorization: Bearer ok-raw-5'), status: 200, error: null, calls: 1, cached: 'positive' },
  ], () => target)
})

describe('hostile query strings (allowQuery)', () => {
  let target: Target
  before(async () => { target = await appWith({ allowQuery: true }) })
  after(() => target.app.close())
  catalogue([
    { name: 'access_token in the query', request: { url: `/x?access_token=${ok()}` }, status: 200, error: null, calls: 1, cached: 'positive' },
    { name: 'repeated access_token', request: { url: '/x?access_token=ok-q1&access_token=ok-q2' }, status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'NUL via the query', request: { url: '/x?access_token=ok-%00' }, status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'empty access_token', request: { url: '/x?access_token=' }, status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'CRLF via the query', request: { url: '/x?access_token=ok-%0D%0ASet-Cookie:%20a=b' }, status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'a percent-encoded plus decodes to a b64token', request: { url: `/x?access_token=${ok()}%2Bplus` }, status: 200, error: null, calls: 1, cached: 'positive' },
    { name: 'header and query together', request: { url: '/x?access_token=ok-both', headers: { authorization: 'Bearer ok-both' } }, status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: '__proto__ in the query', request: { url: '/x?__proto__=ok-proto' }, status: 401, error: 'missing_token', calls: 0, cached: 'none' },
    { name: 'constructor in the query', request: { url: '/x?constructor=ok-ctor' }, status: 401, error: 'missing_token', calls: 0, cached: 'none' },
  ], () => target)
})

describe('hostile query strings with a qs-style parser', () => {
  let target: Target
  before(async () => { target = await appWith({ allowQuery: true, qs: true }) })
  after(() => target.app.close())
  catalogue([
    { name: 'access_token as an array', request: { url: '/x?access_token[]=ok-arr' }, status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: 'access_token as an object', request: { url: '/x?access_token[value]=ok-obj' }, status: 400, error: 'invalid_request', calls: 0, cached: 'none' },
    { name: '__proto__[access_token] does not pose as a token', request: { url: '/x?__proto__[access_token]=ok-polluted' }, status: 401, error: 'missing_token', calls: 0, cached: 'none' },
    { name: 'a plain token still works', request: { url: `/x?access_token=${ok()}` }, status: 200, error: null, calls: 1, cached: 'positive' },
  ], () => target)
})
