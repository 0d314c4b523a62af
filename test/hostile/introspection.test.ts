// Hostile or broken introspection answers (RFC 7662): only a clean `"active": true` for this API
// passes; a misbehaving endpoint is a 503, never a pass, never cached. And the challenge header
// cannot be broken through what a provider says.
import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth, { defineProvider, InvalidTokenError } from '../../src/index.js'
import { introspectionProvider } from '../../providers/introspection.js'
import { startFaultServer, type FaultServer } from '../helpers/fault-server.js'
import { catalogue, counted, type Row, type Target } from './harness.js'
import { captureLogs } from '../helpers/logs.js'

const ISSUER = 'https://issuer.hostile.test/'
const now = (): number => Math.floor(Date.now() / 1000)
let upstream: FaultServer
let elsewhere: FaultServer
let target: Target
const { stream: logStream, lines: logLines } = captureLogs()

before(async () => {
  upstream = await startFaultServer()
  elsewhere = await startFaultServer()
  const provider = counted(introspectionProvider({
    endpoint: `${upstream.url}/introspect`, issuer: ISSUER, clientId: 'api', clientSecret: 'api-secret', audience: 'api://hostile', timeout: 1000,
  }))
  const app = Fastify({ logger: { level: 'warn', stream: logStream } })
  await app.register(fastifyTokenAuth, { provider, cache: { negativeTtl: 60_000 }, breaker: false })
  app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
  await app.ready()
  target = { app, provider }
})
after(async () => {
  await target.app.close()
  await upstream.close()
  await elsewhere.close()
})

let unique = 0
const token = (): string => `opaque-${++unique}-${Date.now()}`
const active = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ active: true, sub: 'alice', scope: 'read', iss: ISSUER, aud: 'api://hostile', exp: now() + 600, token_type: 'Bearer', ...extra })
const answer = (body: unknown) => () => { upstream.mode = 'ok'; upstream.body = body }
/** A row's setup: how the endpoint misbehaves (headers made when the row runs, on its clock). */
const fault = (mode: FaultServer['mode'], status = 500, headers: Record<string, string> | (() => Record<string, string>) = {}, body: unknown = { error: 'fault' }) => () => {
  upstream.mode = mode
  upstream.status = status
  upstream.headers = typeof headers === 'function' ? headers() : headers
  upstream.statusBody = typeof body === 'string' ? body : JSON.stringify(body)
}
const refused = (name: string, status: number, body?: unknown): Row =>
  ({ name, setup: fault('status', status, {}, body), token, status: 401, error: 'invalid_token', calls: 1, cached: 'negative' })
const GENERIC_OUTAGE = { error: 'provider_unavailable', error_description: 'The identity provider is unavailable' }
const invalid = (name: string, body: unknown): Row => ({ name, setup: answer(body), token, status: 401, error: 'invalid_token', calls: 1, cached: 'negative' })
const unavailable = (name: string, setup: () => void, also?: Row['also'], calls = 1): Row => ({ name, setup, token, status: 503, error: 'provider_unavailable', calls, cached: 'none', also })

describe('hostile introspection answers', () => {
  catalogue([
    { name: 'control: active for this API', setup: answer(active()), token, status: 200, error: null, calls: 1, cached: 'positive' },
    invalid('active missing', active({ active: undefined })),
    invalid('active null', active({ active: null })),
    invalid('active "true" (a string)', active({ active: 'true' })),
    invalid('active 1', active({ active: 1 })),
    invalid('active false', { active: false }),
    invalid('active with exp in the past', active({ exp: now() - 60 })),
    invalid('active with nbf in the future', active({ nbf: now() + 600 })),
    invalid('active with a non-numeric exp', active({ exp: 'tomorrow' })),
    invalid('active for another audience', active({ aud: 'api://other' })),
    invalid('active with no audience', active({ aud: undefined })),
    invalid('active from another issuer', active({ iss: 'https://evil.test/' })),
    invalid('a refresh token (token_type)', active({ token_type: 'refresh_token' })),
    invalid('an ID token (token_use)', active({ token_use: 'id' })),
    invalid('active but no subject at all', active({ sub: undefined })),
    unavailable('a JSON array', answer([active()])),
    unavailable('JSON null', answer(null)),
    unavailable('HTML with 200', fault('html')),
    unavailable('garbage with 200', fault('garbage')),
    unavailable('50 MB body', fault('huge')),
    unavailable('endless body', fault('endless')),
    unavailable('reset mid-body (retried once)', fault('reset'), undefined, 2),
    unavailable('500 (retried once)', fault('status', 500), undefined, 2),
    unavailable('503 with Retry-After 120: not retried', fault('status', 503, { 'retry-after': '120' }), ({ headers }) => assert.equal(headers['retry-after'], '120')),
    unavailable('429 with Retry-After 9: passed on', fault('status', 429, { 'retry-after': '9' }), ({ headers }) => assert.equal(headers['retry-after'], '9')),
    unavailable('401 from the endpoint: our credentials, loud in the log, generic to the client', fault('status', 401, {}, { error: 'invalid_client' }), ({ body }) => {
      assert.ok(logLines.some((line) => line.includes('"level":50') && line.includes('refused this API')))
      assert.deepEqual(JSON.parse(body), GENERIC_OUTAGE)
    }),
    unavailable('403 from the endpoint: our credentials, loud', fault('status', 403), ({ body }) => assert.deepEqual(JSON.parse(body), GENERIC_OUTAGE)),
    unavailable('400 invalid_client: our credentials (RFC 6749 §5.2)', fault('status', 400, {}, { error: 'invalid_client' }), ({ body }) => assert.deepEqual(JSON.parse(body), GENERIC_OUTAGE)),
    unavailable('404: the endpoint is missing, the same for every token', fault('status', 404)),
    unavailable('403 with X-RateLimit-Remaining: 0: a rate limit, with Retry-After', fault('status', 403, () => ({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now() + 30) })), ({ headers }) => {
      assert.ok(Number(headers['retry-after']) >= 28 && Number(headers['retry-after']) <= 31, String(headers['retry-after']))
    }),
    refused('400 unsupported_token_type (oidc-provider, for a JWT): about the token', 400, { error: 'unsupported_token_type', error_description: 'Structured JWT Tokens cannot be introspected' }),
    refused('400 invalid_request: about the token', 400, { error: 'invalid_request' }),
    refused('400 with an empty body: about the token', 400, ''),
    refused('413 for an oversized token', 413),
    refused('431 for an oversized token', 431),
    unavailable('302 to another host: not followed, the secret never sent there', () => {
      upstream.mode = 'redirect'
      upstream.location = `${elsewhere.url}/collect`
    }, () => assert.equal(elsewhere.requests.length, 0)),
  ], () => target)
})

describe('challenge header injection through descriptions', () => {
  const hostileMessages = [
    ['CRLF and a header', 'expired\r\nSet-Cookie: session=stolen'],
    ['a closing quote and a new parameter', 'x", error="none", realm="evil'],
    ['a backslash escape', 'x\\", scope="admin'],
    ['non-ASCII and control characters', 'caf\u00e9 \u0000\u0007\u001b[31m'],
  ] as const
  let next = ''
  const liar = counted(defineProvider({ name: 'liar', getPayload: () => Promise.reject(new InvalidTokenError(next)) }))
  const holder: { target?: Target } = {}
  before(async () => {
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider: liar })
    app.get('/x', { config: { auth: true } }, async () => 'x')
    await app.ready()
    holder.target = { app, provider: liar }
  })
  after(() => holder.target?.app.close())
  catalogue(hostileMessages.map(([name, message]): Row => ({
    name: `${name}: one well-formed challenge`,
    setup: () => { next = message },
    token,
    status: 401,
    error: 'invalid_token',
    calls: 1,
    cached: 'none',
    also: ({ headers }) => {
      assert.match(String(headers['www-authenticate']), /^Bearer realm="api", error="invalid_token", error_description="[\x20\x21\x23-\x5B\x5D-\x7E]*"$/)
      assert.equal(headers['set-cookie'], undefined)
    },
  })), () => holder.target!)
})
