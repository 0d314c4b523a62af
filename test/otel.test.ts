// fastify-token-auth/otel with the real OpenTelemetry SDK and its in-memory exporters: spans and
// metrics from the real plugin (fastify.inject), a real identity provider that fails
// (test/helpers/fault-server.ts) and real JWKS and discovery fetches. No attribute ever holds a token.
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { once } from 'node:events'
import { after, afterEach, before, beforeEach, describe, test } from 'node:test'
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type DataPoint, type Histogram,
} from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyTokenAuth, { type AnyProvider } from '../src/index.js'
import { instrument } from '../src/otel.js'
import { introspectionProvider } from '../providers/introspection.js'
import { jwtProvider } from '../providers/jwt.js'
import { testProvider } from '../providers/test.js'
import { clearDiscoveryCache } from '../providers/discovery.js'
import { startFaultServer, type FaultServer } from './helpers/fault-server.js'

const spans = new InMemorySpanExporter()
// Every span of the file, never reset: the last test searches them all for tokens.
const allSpans = new InMemorySpanExporter()
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans), new SimpleSpanProcessor(allSpans)] })
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
const meterProvider = new MeterProvider({ readers: [reader] })
const contextManager = new AsyncLocalStorageContextManager()

let upstream: FaultServer
let uninstrument: () => void
let app: FastifyInstance | undefined
let counter = 0
const freshToken = (): string => `otel-token-${++counter}-${'x'.repeat(24)}.${Date.now()}`
const tokensSent: string[] = []

before(async () => {
  context.setGlobalContextManager(contextManager.enable())
  upstream = await startFaultServer()
})
after(async () => {
  await upstream.close()
  await meterProvider.shutdown()
  await tracerProvider.shutdown()
  context.disable()
})
beforeEach(() => {
  uninstrument = instrument({ tracerProvider, meterProvider })
  spans.reset()
  upstream.mode = 'ok'
  upstream.body = { active: true, sub: 'alice', scope: 'read', exp: Math.floor(Date.now() / 1000) + 3600 }
})
afterEach(async () => {
  uninstrument()
  await app?.close()
  app = undefined
})

async function appWith(provider: AnyProvider, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  app = Fastify()
  await app.register(fastifyTokenAuth, { provider, ...options })
  app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
  await app.ready()
  return app
}

async function get(token: string): Promise<number> {
  tokensSent.push(token)
  const response = await app!.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })
  return response.statusCode
}

const named = (name: string): ReadableSpan[] => spans.getFinishedSpans().filter((span) => span.name === name)

/** The data points of one metric (cumulative), read now. */
async function points(name: string): Promise<Array<DataPoint<number | Histogram>>> {
  metricExporter.reset()
  await reader.forceFlush()
  const found = metricExporter.getMetrics().flatMap((resource) => resource.scopeMetrics).flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === name)
  return found.flatMap((metric) => metric.dataPoints as Array<DataPoint<number | Histogram>>)
}

const valueWhere = (found: Array<DataPoint<number | Histogram>>, attributes: Attributes): number | Histogram | undefined =>
  found.find((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value))?.value

describe('validations and provider calls (introspection at a real local server)', () => {
  test('a miss then a hit: two validation spans, one provider call, counters by outcome and cache result', async () => {
    const name = `otel-ok-${++counter}`
    await appWith(introspectionProvider({ name, endpoint: `${upstream.url}/introspect`, clientId: 'api', clientSecret: 'secret' }))
    const token = freshToken()
    const parent = tracerProvider.getTracer('test').startSpan('request')
    const statuses = await context.with(trace.setSpan(ROOT_CONTEXT, parent), async () => [await get(token), await get(token)])
    parent.end()
    assert.deepEqual(statuses, [200, 200])

    const validations = named('token_auth.validate')
    assert.deepEqual(validations.map((span) => [span.attributes['token_auth.cache'], span.attributes['token_auth.outcome']]), [['miss', 'accepted'], ['hit', 'accepted']])
    for (const span of validations) {
      assert.equal(span.attributes['token_auth.provider'], name)
      assert.match(String(span.attributes['token_auth.token.fingerprint']), /^[\w-]{12}$/)
      assert.equal(span.kind, SpanKind.INTERNAL)
      assert.equal(span.status.code, SpanStatusCode.UNSET)
      // A child of the span active where the request ran.
      assert.equal(span.parentSpanContext?.spanId, parent.spanContext().spanId)
      assert.equal(span.spanContext().traceId, parent.spanContext().traceId)
    }
    const calls = named('token_auth.provider_call')
    assert.equal(calls.length, 1)
    assert.equal(calls[0]!.attributes['token_auth.attempt'], 1)
    assert.equal(calls[0]!.attributes['token_auth.outcome'], 'answered')
    assert.equal(calls[0]!.parentSpanContext?.spanId, parent.spanContext().spanId)
    // Real start and end times: the call took the time the server took, not zero.
    const [start, end] = [calls[0]!.startTime, calls[0]!.endTime]
    assert.ok(end[0] * 1e9 + end[1] > start[0] * 1e9 + start[1], 'the span has a duration')

    assert.equal(valueWhere(await points('token_auth.validations'), { 'token_auth.provider': name, 'token_auth.outcome': 'accepted', 'token_auth.cache': 'miss' }), 1)
    assert.equal(valueWhere(await points('token_auth.validations'), { 'token_auth.provider': name, 'token_auth.outcome': 'accepted', 'token_auth.cache': 'hit' }), 1)
    const lookups = await points('token_auth.cache.lookups')
    const hits = valueWhere(lookups, { 'token_auth.provider': name, 'token_auth.cache.result': 'hit' }) as number
    const misses = valueWhere(lookups, { 'token_auth.provider': name, 'token_auth.cache.result': 'miss' }) as number
    assert.equal(hits / (hits + misses), 0.5, 'the hit ratio follows from the lookups')
    const latency = valueWhere(await points('token_auth.provider.call.duration'), { 'token_auth.provider': name, 'token_auth.outcome': 'answered' }) as Histogram
    assert.equal(latency.count, 1)
    assert.ok(latency.sum !== undefined && latency.sum > 0 && latency.sum < 5, `latency in seconds: ${latency.sum}`)
  })

  test('an identity provider that fails: each attempt a span in error, the breaker state a gauge per provider', async () => {
    const name = `otel-down-${++counter}`
    await appWith(introspectionProvider({ name, endpoint: `${upstream.url}/introspect`, clientId: 'api', clientSecret: 'secret' }), { breaker: { threshold: 1, cooldown: 600_000 } })
    assert.equal(await get(freshToken()), 200)
    const closed = await points('token_auth.breaker.state')
    assert.equal(valueWhere(closed, { 'token_auth.provider': name, 'token_auth.breaker.state': 'closed' }), 1)
    assert.equal(valueWhere(closed, { 'token_auth.provider': name, 'token_auth.breaker.state': 'open' }), 0)

    upstream.mode = 'status'
    upstream.status = 500
    spans.reset()
    assert.equal(await get(freshToken()), 503)
    const calls = named('token_auth.provider_call')
    assert.deepEqual(calls.map((span) => span.attributes['token_auth.attempt']), [1], 'the open circuit stops the retry')
    assert.equal(calls[0]!.attributes['token_auth.outcome'], 'provider_unavailable')
    assert.equal(calls[0]!.attributes['error.type'], 'provider_unavailable')
    assert.equal(calls[0]!.status.code, SpanStatusCode.ERROR)
    const [failed] = named('token_auth.validate')
    assert.equal(failed!.attributes['token_auth.outcome'], 'provider_unavailable')
    assert.equal(failed!.status.code, SpanStatusCode.ERROR)

    const open = await points('token_auth.breaker.state')
    assert.equal(valueWhere(open, { 'token_auth.provider': name, 'token_auth.breaker.state': 'open' }), 1)
    assert.equal(valueWhere(open, { 'token_auth.provider': name, 'token_auth.breaker.state': 'closed' }), 0)

    // While the circuit is open, no call: the validation says why.
    spans.reset()
    assert.equal(await get(freshToken()), 503)
    assert.equal(named('token_auth.provider_call').length, 0)
    assert.equal(named('token_auth.validate')[0]!.attributes['token_auth.cache'], 'breaker')
    assert.equal(valueWhere(await points('token_auth.validations'), { 'token_auth.provider': name, 'token_auth.outcome': 'provider_unavailable', 'token_auth.cache': 'breaker' }), 1)
  })

  test('a retried fast failure: two attempts, each with its outcome', async () => {
    const name = `otel-retry-${++counter}`
    await appWith(introspectionProvider({ name, endpoint: `${upstream.url}/introspect`, clientId: 'api', clientSecret: 'secret' }), { breaker: false })
    upstream.mode = 'status'
    upstream.status = 503
    assert.equal(await get(freshToken()), 503)
    assert.deepEqual(named('token_auth.provider_call').map((span) => [span.attributes['token_auth.attempt'], span.attributes['token_auth.outcome']]), [[1, 'provider_unavailable'], [2, 'provider_unavailable']])
    const latency = valueWhere(await points('token_auth.provider.call.duration'), { 'token_auth.provider': name, 'token_auth.attempt': 2 }) as Histogram
    assert.equal(latency.count, 1)
  })

  test('a refused token is an answer: outcome invalid_token, no error status', async () => {
    await appWith(introspectionProvider({ name: `otel-refused-${++counter}`, endpoint: `${upstream.url}/introspect`, clientId: 'api', clientSecret: 'secret' }))
    upstream.body = { active: false }
    assert.equal(await get(freshToken()), 401)
    const [span] = named('token_auth.validate')
    assert.equal(span!.attributes['token_auth.outcome'], 'invalid_token')
    assert.equal(span!.status.code, SpanStatusCode.UNSET)
    assert.equal(span!.attributes['error.type'], undefined)
  })
})

describe('background re-validation', () => {
  test('each cached token checked again is counted by outcome', async () => {
    const name = `otel-reval-${++counter}`
    const provider = testProvider({ name, tokens: { 'reval-token.1': { sub: 'carol', exp: Math.floor(Date.now() / 1000) + 3600 } } })
    await appWith(provider, { revalidate: { interval: 50 } })
    assert.equal(await get('reval-token.1'), 200)
    provider.setToken('reval-token.1', undefined)
    await once(app!.tokenAuth.events, 'revoked')
    const found = await points('token_auth.revalidations')
    assert.equal(valueWhere(found, { 'token_auth.provider': name, 'token_auth.outcome': 'revoked' }), 1)
  })
})

describe('JWKS and discovery fetches', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const signed = (claims: Record<string, unknown>): string => {
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })}.${b64(claims)}`
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
  }
  let jwksStatus = 200
  beforeEach(() => {
    clearDiscoveryCache()
    jwksStatus = 200
    upstream.mode = 'respond'
    upstream.respond = (req) => {
      if (req.url === '/.well-known/openid-configuration') return { status: 200, body: { issuer: upstream.url, jwks_uri: `${upstream.url}/jwks?tenant=acme` } }
      if (req.url?.startsWith('/jwks')) return jwksStatus === 200 ? { status: 200, body: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] } } : { status: jwksStatus, body: { error: 'down' } }
      return { status: 404, body: { error: 'not_found' } }
    }
  })

  test('registration fetches discovery then the JWKS: a span and a duration each, the URL without its query', async () => {
    await appWith(jwtProvider({ issuer: upstream.url, audience: 'api://orders' }))
    const token = signed({ iss: upstream.url, aud: 'api://orders', sub: 'bob', exp: Math.floor(Date.now() / 1000) + 600 })
    assert.equal(await get(token), 200)
    const fetches = named('token_auth.fetch')
    assert.deepEqual(fetches.map((span) => [span.attributes['token_auth.fetch.document'], span.attributes['url.full'], span.attributes['http.response.status_code']]), [
      ['discovery', `${upstream.url}/.well-known/openid-configuration`, 200],
      ['jwks', `${upstream.url}/jwks`, 200],
    ])
    for (const span of fetches) {
      assert.equal(span.attributes['http.request.method'], 'GET')
      assert.equal(span.attributes['server.address'], '127.0.0.1')
      assert.equal(span.attributes['server.port'], upstream.port)
      assert.equal(span.status.code, SpanStatusCode.UNSET)
    }
    const durations = await points('token_auth.fetch.duration')
    assert.equal((valueWhere(durations, { 'token_auth.fetch.document': 'jwks', 'http.response.status_code': 200 }) as Histogram).count, 1)
    // A JWT whose key is at hand: validated without a call that could fail.
    assert.equal(named('token_auth.validate')[0]!.attributes['token_auth.outcome'], 'accepted')
  })

  test('a JWKS endpoint that fails: the fetch span is in error with the status; one that cannot be reached, with the reason', async () => {
    jwksStatus = 503
    await appWith(jwtProvider({ issuer: upstream.url, audience: 'api://orders' }))
    const jwks = named('token_auth.fetch').filter((span) => span.attributes['token_auth.fetch.document'] === 'jwks')
    assert.ok(jwks.length >= 1)
    assert.equal(jwks[0]!.attributes['http.response.status_code'], 503)
    assert.equal(jwks[0]!.attributes['error.type'], '503')
    assert.equal(jwks[0]!.status.code, SpanStatusCode.ERROR)
    await app!.close()

    const down = await startFaultServer()
    const url = down.url
    await down.close()
    spans.reset()
    await appWith(jwtProvider({ issuer: 'https://idp.example/', audience: 'api://orders', jwksUri: `${url}/keys` }))
    const token = signed({ iss: 'https://idp.example/', aud: 'api://orders', sub: 'bob', exp: Math.floor(Date.now() / 1000) + 600 })
    assert.equal(await get(token), 503)
    const unreachable = named('token_auth.fetch')
    assert.ok(unreachable.length >= 1)
    assert.equal(unreachable[0]!.attributes['error.type'], 'network')
    assert.equal(unreachable[0]!.attributes['http.response.status_code'], undefined)
    assert.equal(unreachable[0]!.status.code, SpanStatusCode.ERROR)
  })
})

describe('instrument()', () => {
  test('uninstrument() stops spans and metrics', async () => {
    await appWith(introspectionProvider({ name: `otel-off-${++counter}`, endpoint: `${upstream.url}/introspect`, clientId: 'api', clientSecret: 'secret' }))
    uninstrument()
    uninstrument()
    const counted = async (): Promise<number> => (await points('token_auth.validations')).reduce((sum, point) => sum + (point.value as number), 0)
    const before = await counted()
    assert.equal(await get(freshToken()), 200)
    assert.equal(spans.getFinishedSpans().length, 0)
    assert.equal(await counted(), before)
  })

  test('telemetry that throws never breaks a request', async () => {
    uninstrument()
    const broken = { getTracer: () => ({ startSpan: () => { throw new Error('exporter bug') }, startActiveSpan: () => { throw new Error('exporter bug') } }) }
    uninstrument = instrument({ tracerProvider: broken, meterProvider })
    const uncaught: unknown[] = []
    const onUncaught = (err: unknown): void => { uncaught.push(err) }
    process.on('uncaughtException', onUncaught)
    try {
      await appWith(introspectionProvider({ name: `otel-broken-${++counter}`, endpoint: `${upstream.url}/introspect`, clientId: 'api', clientSecret: 'secret' }))
      assert.equal(await get(freshToken()), 200)
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(uncaught, [])
    } finally {
      process.off('uncaughtException', onUncaught)
    }
  })

  test('strict options: an unknown option or a provider without its method is a TypeError naming it', () => {
    assert.throws(() => instrument({ tracer: tracerProvider } as never), { name: 'TypeError', message: /unknown option "tracer"/ })
    assert.throws(() => instrument({ meterProvider: {} as never }), { name: 'TypeError', message: /meterProvider/ })
    assert.throws(() => instrument(null as never), TypeError)
  })
})

test('no attribute of any span or data point holds a token sent, or a piece of one', async () => {
  // Everything this file produced, read last (the tests run in order): one more flow of each kind first.
  await appWith(introspectionProvider({ name: `otel-leak-${++counter}`, endpoint: `${upstream.url}/introspect`, clientId: 'api', clientSecret: 'secret' }), { breaker: { threshold: 1, cooldown: 600_000 } })
  await get(freshToken())
  upstream.mode = 'status'
  await get(freshToken())
  await get(freshToken())
  const values: string[] = []
  for (const span of allSpans.getFinishedSpans()) values.push(span.name, ...Object.values(span.attributes).map(String))
  metricExporter.reset()
  await reader.forceFlush()
  for (const metric of metricExporter.getMetrics().flatMap((resource) => resource.scopeMetrics).flatMap((scope) => scope.metrics)) {
    for (const point of metric.dataPoints) values.push(...Object.values(point.attributes).map(String))
  }
  assert.ok(allSpans.getFinishedSpans().length >= 20 && values.length > 100, 'there is something to search')
  assert.ok(tokensSent.length >= 10)
  for (const token of tokensSent) {
    // Any 16 characters of a token (the tokens here are unique well within that).
    const pieces = Array.from({ length: token.length - 15 }, (_, i) => token.slice(i, i + 16)).filter((piece) => !/^x+$/.test(piece))
    for (const value of values) {
      for (const piece of pieces) assert.ok(!value.includes(piece), `attribute value ${JSON.stringify(value)} holds part of a token`)
    }
  }
})
