// The plugin next to the Fastify plugins users register with it (issue 18): the real @fastify/cors,
// @fastify/helmet, @fastify/rate-limit and @fastify/websocket, each test in both registration
// orders (this plugin first, and theirs first). CORS and helmet headers on our 401/403, rate limits
// that count refused requests (a real identity provider counts the introspections), refused
// upgrades that leave no socket behind, error bodies that keep their shape under a strict response
// schema, and provider errors that quote the token (percent-encoded, base64-decoded) kept out of
// the body, the challenge and the log. Then what the README says about hooks of theirs that run
// too late, proxies (trustProxy, publicUrl) and logging (pino redact).
import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { connect as netConnect, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import fastifyRateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit'
import fastifyWebsocket from '@fastify/websocket'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose'
import type { WebSocket } from 'ws'
import fastifyTokenAuth, { defineProvider, InvalidTokenError, ProviderUnavailableError, type Claims, type TokenAuthPluginOptions } from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { testProvider } from '../providers/test.js'
import { startFaultServer, type FaultServer } from './helpers/fault-server.js'
import { API_CLIENT, useIdp } from './helpers/idp.js'
import { captureLogs } from './helpers/logs.js'

const ORDERS = ['ours first', 'theirs first'] as const
type Order = (typeof ORDERS)[number]

const ORIGIN = 'https://app.example'
const READER = 'reader-token.eco'
const nowS = (): number => Math.floor(Date.now() / 1000)

type Registration = (app: FastifyInstance) => unknown
interface StackOptions {
  /** Their plugins, registered as a block before or after ours. */
  theirs: Registration[]
  ours: TokenAuthPluginOptions
  fastify?: FastifyServerOptions
}

/** An app with this plugin and theirs in the given order, then the routes most tests use. */
async function stack(order: Order, options: StackOptions): Promise<FastifyInstance> {
  const app = Fastify(options.fastify)
  const ours: Registration = (instance) => instance.register(fastifyTokenAuth, options.ours)
  for (const register of order === 'ours first' ? [ours, ...options.theirs] : [...options.theirs, ours]) await register(app)
  app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => ({ uid: request.auth.uid }))
  app.get('/admin', { config: { auth: { scopes: ['admin'] } } }, async (request) => ({ uid: request.auth.uid }))
  return app
}

const readerProvider = () => testProvider({ tokens: { [READER]: { sub: 'reader', scope: 'orders:read', exp: nowS() + 3600 } } })
const cors: Registration = (app) => app.register(fastifyCors, { origin: ORIGIN, credentials: true, exposedHeaders: ['WWW-Authenticate', 'Retry-After'] })
const helmet: Registration = (app) => app.register(fastifyHelmet)
const websocket: Registration = (app) => app.register(fastifyWebsocket)
const rateLimit = (options: RateLimitPluginOptions): Registration => (app) => app.register(fastifyRateLimit, options)

/** Headers helmet sets with its defaults: each must be on our refusals too. */
const HELMET_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'cross-origin-opener-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
}

for (const order of ORDERS) {
  describe(`with the real Fastify plugins, ${order}`, () => {
    test('CORS and helmet headers are on our 401, 403, 503 and 429; a preflight passes without a token and asks nobody', async () => {
      const provider = readerProvider()
      const app = await stack(order, { theirs: [cors, helmet, websocket], ours: { provider, refusalLimit: { max: 3, window: 60_000 } } })
      /** What a page on ORIGIN needs on every refusal, and what helmet adds to every answer. */
      const assertHeaders = (response: Awaited<ReturnType<FastifyInstance['inject']>>, status: number): void => {
        assert.equal(response.headers['access-control-allow-origin'], ORIGIN, `CORS on the ${status}`)
        assert.equal(response.headers['access-control-allow-credentials'], 'true')
        assert.equal(response.headers['access-control-expose-headers'], 'WWW-Authenticate, Retry-After', 'a page may read the challenge')
        for (const [name, value] of Object.entries(HELMET_HEADERS)) assert.equal(response.headers[name], value, `helmet's ${name} on the ${status}`)
        assert.match(String(response.headers['content-security-policy']), /default-src 'self'/)
      }
      const cases = [
        { url: '/orders', headers: {}, status: 401, error: 'missing_token', challenge: 'Bearer realm="api"' },
        { url: '/orders', headers: { authorization: 'Bearer unknown-token.eco' }, status: 401, error: 'invalid_token', challenge: /^Bearer realm="api", error="invalid_token"/ },
        { url: '/admin', headers: { authorization: `Bearer ${READER}` }, status: 403, error: 'insufficient_scope', challenge: /error="insufficient_scope".*scope="admin"/ },
      ]
      for (const { url, headers, status, error, challenge } of cases) {
        const response = await app.inject({ url, headers: { origin: ORIGIN, ...headers } })
        assert.equal(response.statusCode, status, url)
        assert.equal(response.json().error, error)
        if (typeof challenge === 'string') assert.equal(response.headers['www-authenticate'], challenge)
        else assert.match(String(response.headers['www-authenticate']), challenge)
        assertHeaders(response, status)
      }
      provider.unavailable = true
      const down = await app.inject({ url: '/orders', headers: { origin: ORIGIN, authorization: 'Bearer unseen-token.eco' } })
      provider.unavailable = false
      assert.deepEqual([down.statusCode, down.headers['retry-after']], [503, '5'])
      assertHeaders(down, 503)
      // One refusal above (the unknown token); two more, and the refusal guard answers.
      for (const guess of ['guess-1.eco', 'guess-2.eco']) await app.inject({ url: '/orders', headers: { authorization: `Bearer ${guess}` } })
      const guarded = await app.inject({ url: '/orders', headers: { origin: ORIGIN, authorization: 'Bearer guess-3.eco' } })
      assert.deepEqual([guarded.statusCode, guarded.json().error], [429, 'too_many_attempts'])
      assertHeaders(guarded, 429)
      const calls = provider.calls
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/orders',
        headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      })
      assert.equal(preflight.statusCode, 204)
      assert.equal(preflight.headers['access-control-allow-origin'], ORIGIN)
      assert.equal(preflight.headers['access-control-allow-headers'], 'authorization')
      assert.equal(preflight.headers['access-control-allow-credentials'], 'true')
      assert.equal(provider.calls, calls, 'a preflight never reaches the identity provider')
      const ok = await app.inject({ url: '/orders', headers: { origin: ORIGIN, authorization: `Bearer ${READER}` } })
      assert.equal(ok.statusCode, 200)
      assert.equal(ok.headers['access-control-allow-origin'], ORIGIN)
      await app.close()
    })

    test('a second registration, beside theirs, fails ready() with a clear error; nothing is thrown past it', async () => {
      const uncaught: unknown[] = []
      const listener = (err: unknown): void => { uncaught.push(err) }
      process.on('uncaughtException', listener)
      try {
        for (const again of [
          (app: FastifyInstance) => app.register(fastifyTokenAuth, { provider: readerProvider() }),
          (app: FastifyInstance) => app.register(async (child) => { await child.register(fastifyTokenAuth, { provider: readerProvider() }) }),
        ]) {
          let app: FastifyInstance | undefined
          await assert.rejects(async () => {
            app = await stack(order, { theirs: [cors, helmet, websocket, rateLimit({ max: 100 })], ours: { provider: readerProvider() } })
            await again(app)
            await app.ready()
          }, /fastify-token-auth is already registered in this scope or a parent one/)
          await app?.close()
        }
      } finally {
        process.off('uncaughtException', listener)
      }
      assert.deepEqual(uncaught, [])
    })

    test("a route's strict 4xx response schema leaves our error body as it is", async () => {
      const app = await stack(order, { theirs: [cors, helmet, websocket], ours: { provider: readerProvider() } })
      // What an API that documents its own error shape declares: it would turn our body into
      // `"statusCode" is required!` (a 500) if our body went through it.
      const strict = { type: 'object', required: ['statusCode', 'code', 'message'], additionalProperties: false, properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } } }
      app.get('/strict', { config: { auth: { scopes: ['orders:read'] } }, schema: { response: { '4xx': strict, 503: strict } } }, async () => ({ ok: true }))
      app.get('/strict-admin', { config: { auth: { scopes: ['admin'] } }, schema: { response: { 401: strict, 403: strict } } }, async () => ({ ok: true }))
      const cases = [
        ['/strict', undefined, 401, { error: 'missing_token', error_description: 'An access token is required' }],
        ['/strict', 'unknown-token.eco', 401, { error: 'invalid_token', error_description: 'The access token is unknown' }],
        ['/strict-admin', READER, 403, { error: 'insufficient_scope', error_description: 'The access token lacks a required scope' }],
      ] as const
      for (const [url, token, status, body] of cases) {
        const response = await app.inject({ url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
        assert.equal(response.statusCode, status)
        assert.deepEqual(response.json(), body)
        assert.match(response.headers['content-type'] as string, /^application\/json/)
      }
      await app.close()
    })

    describe('@fastify/rate-limit, against a real identity provider (introspection)', () => {
      const ctx = useIdp()
      const introspections = (): number => ctx.idp.calls['/token/introspection'] ?? 0
      const provider = () => introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, timeout: 5_000 })
      const guess = (i: number): string => `guessed-${order.replace(' ', '-')}-${i}-${Math.random().toString(36).slice(2)}`

      test('max: 3 counts refused requests: 20 guessed tokens get 401 three times then 429, and at most 3 introspections', async () => {
        const app = await stack(order, { theirs: [rateLimit({ max: 3, timeWindow: 60_000 })], ours: { provider: provider() } })
        await app.ready()
        const before = introspections()
        const statuses: number[] = []
        for (let i = 0; i < 20; i++) statuses.push((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${guess(i)}` } })).statusCode)
        assert.deepEqual(statuses, [401, 401, 401, ...Array<number>(17).fill(429)])
        assert.ok(introspections() - before <= 3, `${introspections() - before} introspections`)
        await app.close()
      })

      test('the README recipe: only refused requests count (good tokens pass however many), 429 after the third refusal', async () => {
        const app = Fastify()
        const registerRecipe = async (): Promise<void> => {
          // README "Rate limiting": a limiter that counts only refused requests.
          await app.register(fastifyRateLimit, { global: false })
          const refusals = app.createRateLimit({ max: 3, timeWindow: 60_000 })
          app.addHook('onRequest', async (request, reply) => {
            const status = await refusals(request, { increment: false })
            if (!status.isAllowed && status.remaining === 0) {
              return reply.code(429).header('retry-after', String(status.ttlInSeconds)).send({ error: 'too_many_attempts' })
            }
          })
          app.addHook('onSend', async (request, reply) => {
            if (reply.statusCode === 401) await refusals(request)
          })
        }
        const registerOurs = async (): Promise<void> => { await app.register(fastifyTokenAuth, { provider: provider() }) }
        for (const register of order === 'ours first' ? [registerOurs, registerRecipe] : [registerRecipe, registerOurs]) await register()
        app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => ({ uid: request.auth.uid }))
        await app.ready()
        const { access_token: good } = await ctx.idp.token('web-opaque', { scope: 'orders:read' })
        const get = async (token: string): Promise<number> => (await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })).statusCode
        for (let i = 0; i < 10; i++) assert.equal(await get(good), 200, 'accepted requests are not counted')
        const before = introspections()
        const statuses: number[] = []
        for (let i = 0; i < 20; i++) statuses.push(await get(guess(i)))
        assert.deepEqual(statuses, [401, 401, 401, ...Array<number>(17).fill(429)])
        assert.equal(introspections() - before, 3)
        const limited = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${good}` } })
        assert.equal(limited.statusCode, 429, 'once limited, the client waits for the window, whatever it sends')
        assert.ok(Number(limited.headers['retry-after']) >= 1)
        await app.close()
      })
    })

    test('websocket: 20 refused upgrades leave no server connection open, and close() settles', async () => {
      let handled = 0
      const app = await stack(order, { theirs: [cors, helmet, websocket], ours: { provider: readerProvider() } })
      app.get('/stream', { websocket: true, config: { auth: { scopes: ['orders:read'] } } }, (socket: WebSocket) => { handled++; socket.close() })
      app.get('/stream-close', { websocket: true, config: { auth: { scopes: ['admin'], upgradeRefusal: 'close' } } }, (socket: WebSocket) => { handled++; socket.close() })
      await app.listen({ host: '127.0.0.1', port: 0 })
      const port = (app.server.address() as { port: number }).port
      let connections = 0
      app.server.on('connection', () => { connections++ })
      // Raw sockets that never close their side: only the server can end them.
      const refusals = await Promise.all(Array.from({ length: 20 }, (_, i) => upgrade(port, i % 2 === 0
        ? { path: '/stream', headers: i % 4 === 0 ? {} : { authorization: 'Bearer unknown-token.eco' } }
        : { path: '/stream-close', headers: { authorization: `Bearer ${READER}` } })))
      assert.equal(connections, 20)
      for (const [i, refusal] of refusals.entries()) {
        assert.equal(refusal.endedByServer, true, `upgrade ${i} was ended by the server`)
        assert.equal(refusal.status, i % 2 === 0 ? 401 : 101, `upgrade ${i}`)
        if (i % 2 === 1) assert.ok(refusal.text.includes('insufficient_scope'), 'closed with the reason')
      }
      assert.equal(await openConnections(app), 0)
      assert.equal(handled, 0, 'no refused upgrade reached a handler')
      const closed = await settles(app.close(), 5_000)
      assert.equal(closed, true, 'app.close() settled within 5 s')
    })

    describe('a provider error that quotes the token never reaches the body, the challenge or the log', () => {
      let upstream: FaultServer
      before(async () => { upstream = await startFaultServer({ mode: 'respond' }) })
      after(() => upstream.close())

      // An adapter of the kind users write: it passes the identity provider's own words on.
      const naiveProvider = () => defineProvider<Claims>({
        name: 'naive',
        async getPayload(token) {
          const response = await fetch(`${upstream.url}/check`, { method: 'POST', body: token })
          const answer = await response.json() as Claims & { message?: string }
          if (response.status >= 500) throw new ProviderUnavailableError(answer.message)
          if (response.status === 418) throw new Error(answer.message)
          if (response.status !== 200) throw new InvalidTokenError(answer.message)
          return answer
        },
      })

      test('percent-encoded (an opaque token with + / =) and base64-decoded, in 401s and 503s', async () => {
        const { stream, lines } = captureLogs()
        const app = await stack(order, {
          theirs: [cors, helmet, websocket],
          ours: { provider: naiveProvider(), breaker: false },
          fastify: { logger: { level: 'trace', stream } },
        })
        await app.ready()
        const opaque = 'k9+Qz/Lw8Tq+Rv/Xy2A==' // b64token: + and / twice, = as padding
        const secret = 'client=acme;secret=s3cr3t-value'
        const based = Buffer.from(secret).toString('base64') // decodes to readable text
        const quotes: Array<{ token: string; status: number; message: string; forms: string[] }> = [
          { token: opaque, status: 401, message: `unknown token ${encodeURIComponent(opaque)}`, forms: [opaque, encodeURIComponent(opaque)] },
          { token: opaque, status: 401, message: `unknown token ${lowerHex(encodeURIComponent(opaque))}`, forms: [opaque, lowerHex(encodeURIComponent(opaque))] },
          { token: based, status: 401, message: `no client for ${secret}`, forms: [based, secret] },
          { token: opaque, status: 503, message: `backend timeout for ?token=${encodeURIComponent(opaque)}`, forms: [opaque, encodeURIComponent(opaque)] },
          { token: based, status: 418, message: `cannot parse ${secret}`, forms: [based, secret] },
        ]
        for (const quote of quotes) {
          upstream.respond = () => ({ status: quote.status, body: { message: quote.message } })
          const response = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${quote.token}` } })
          const expected = quote.status === 401 ? 401 : 503
          assert.equal(response.statusCode, expected, quote.message)
          const visible = `${response.body}\n${String(response.headers['www-authenticate'] ?? '')}`
          for (const form of quote.forms) assert.ok(!visible.includes(form), `${form} reached the client`)
          assert.equal(response.json().error, expected === 401 ? 'invalid_token' : 'provider_unavailable')
        }
        assert.equal(upstream.requests.length >= quotes.length, true, 'every quote came from the upstream')
        const logged = lines.join('\n')
        for (const form of [opaque, encodeURIComponent(opaque), lowerHex(encodeURIComponent(opaque)), based, secret]) {
          assert.ok(!logged.includes(form), `${form} reached the log`)
        }
        assert.match(logged, /\[token redacted\]/, 'the provider messages were logged, scrubbed')
        await app.close()
      })
    })
  })
}

describe("their hooks that run after preParsing come too late for our refusals (README: keep their default hook)", () => {
  for (const corsHook of ['preValidation', 'preHandler'] as const) {
    test(`@fastify/cors with hook: '${corsHook}' puts no CORS header on our 401; @fastify/rate-limit with hook: 'preHandler' counts no refusal`, async () => {
      const app = Fastify()
      await app.register(fastifyCors, { origin: ORIGIN, hook: corsHook })
      await app.register(fastifyRateLimit, { max: 1, timeWindow: 60_000, hook: 'preHandler' })
      await app.register(fastifyTokenAuth, { provider: readerProvider(), refusalLimit: false })
      app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
      const refused = await app.inject({ url: '/orders', headers: { origin: ORIGIN } })
      assert.equal(refused.statusCode, 401)
      assert.equal(refused.headers['access-control-allow-origin'], undefined)
      for (let i = 0; i < 5; i++) assert.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer guess-${i}.x` } })).statusCode, 401)
      // Accepted requests do reach those hooks: CORS on a 200, and the limit counts them.
      const ok = await app.inject({ url: '/orders', headers: { origin: ORIGIN, authorization: `Bearer ${READER}` } })
      assert.deepEqual([ok.statusCode, ok.headers['access-control-allow-origin']], [200, ORIGIN])
      assert.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${READER}` } })).statusCode, 429)
      await app.close()
    })
  }
})

describe('behind a proxy', () => {
  type Key = Awaited<ReturnType<typeof generateKeyPair>>
  const BOUND = 'dpop-bound-token.eco'
  let key: Key
  before(async () => { key = await generateKeyPair('ES256', { extractable: true }) })

  async function proofFor(htu: string): Promise<string> {
    return new SignJWT({ jti: randomUUID(), htm: 'GET', htu, iat: nowS(), ath: createHash('sha256').update(BOUND).digest('base64url') })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(key.publicKey) }).sign(key.privateKey)
  }
  async function dpopApp(fastify: FastifyServerOptions, ours: { publicUrl?: string } = {}): Promise<FastifyInstance> {
    const jkt = await calculateJwkThumbprint(await exportJWK(key.publicKey), 'sha256')
    const app = Fastify(fastify)
    await app.register(fastifyTokenAuth, { provider: testProvider({ tokens: { [BOUND]: { sub: 'alice', exp: nowS() + 3600, cnf: { jkt } } } }), ...ours })
    app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
    return app
  }
  /** What a TLS-terminating proxy forwards for https://api.example/orders: the client's proof, its own Host. */
  const forwarded = async (app: FastifyInstance, headers: Record<string, string>, url = '/orders') =>
    app.inject({ url, headers: { host: 'orders-svc:8080', authorization: `DPoP ${BOUND}`, dpop: await proofFor('https://api.example/orders'), ...headers } })

  test('DPoP htu: with trustProxy, X-Forwarded-Proto and X-Forwarded-Host give the public URL; without it, the proof names another URL', async () => {
    const xfwd = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example' }
    const trusting = await dpopApp({ trustProxy: true })
    assert.equal((await forwarded(trusting, xfwd)).statusCode, 200)
    await trusting.close()
    const naive = await dpopApp({})
    const refused = await forwarded(naive, xfwd)
    assert.deepEqual([refused.statusCode, refused.json().error], [401, 'invalid_dpop_proof'])
    await naive.close()
  })

  test("publicUrl: for a proxy that sends only RFC 7239 Forwarded (Fastify reads none of it) or strips a prefix", async () => {
    const onlyForwarded = { forwarded: 'for=198.51.100.7;proto=https;host=api.example' }
    const trusting = await dpopApp({ trustProxy: true })
    assert.equal((await forwarded(trusting, onlyForwarded)).json().error, 'invalid_dpop_proof', 'trustProxy alone does not read Forwarded')
    await trusting.close()
    const stated = await dpopApp({ trustProxy: true }, { publicUrl: 'https://api.example' })
    assert.equal((await forwarded(stated, onlyForwarded)).statusCode, 200)
    await stated.close()
    // https://api.example/v1/orders reaches the service as /orders.
    const stripped = await dpopApp({}, { publicUrl: 'https://api.example/v1' })
    const response = await stripped.inject({ url: '/orders', headers: { host: 'orders-svc:8080', authorization: `DPoP ${BOUND}`, dpop: await proofFor('https://api.example/v1/orders') } })
    assert.equal(response.statusCode, 200)
    await stripped.close()
  })

  test('the refusal guard counts per request.ip: without trustProxy every client behind the proxy shares one budget', async () => {
    const otherClientStatus = async (trustProxy: boolean): Promise<number> => {
      const app = Fastify({ trustProxy })
      await app.register(fastifyTokenAuth, { provider: readerProvider(), refusalLimit: { max: 3, window: 60_000 } })
      app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
      for (let i = 0; i < 3; i++) await app.inject({ url: '/orders', headers: { authorization: `Bearer guess-${i}.x`, 'x-forwarded-for': '203.0.113.1' } })
      // Another client, behind the same proxy, sends its first (unknown) token.
      const other = await app.inject({ url: '/orders', headers: { authorization: 'Bearer other-client.x', 'x-forwarded-for': '203.0.113.2' } })
      await app.close()
      return other.statusCode
    }
    assert.equal(await otherClientStatus(true), 401, 'with trustProxy: its own budget')
    assert.equal(await otherClientStatus(false), 429, 'without: the proxy address is the client, shared by all')
  })
})

describe('logging', () => {
  test("Fastify's default request serializer logs no header: the token is in no line", async () => {
    const { stream, lines } = captureLogs()
    const app = Fastify({ logger: { level: 'trace', stream } })
    await app.register(fastifyTokenAuth, { provider: readerProvider() })
    app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
    for (const token of [READER, 'unknown-token.eco']) await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}`, dpop: 'proof.jwt.value' } })
    await app.close()
    const logged = lines.join('')
    assert.match(logged, /"url":"\/orders"/, 'requests are logged')
    assert.ok(!logged.includes(READER) && !logged.includes('unknown-token.eco') && !logged.includes('proof.jwt.value'))
  })

  test("pino redact keeps Authorization and DPoP headers out of a custom serializer's lines", async () => {
    const { stream, lines } = captureLogs()
    // A serializer that logs headers, as many do; redact is what keeps the credentials out.
    const app = Fastify({ logger: {
      stream,
      serializers: { req: (request) => ({ method: request.method, url: request.url, headers: request.headers }) },
      redact: ['req.headers.authorization', 'req.headers.dpop'],
    } })
    await app.register(fastifyTokenAuth, { provider: readerProvider() })
    app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
    await app.inject({ url: '/orders', headers: { authorization: `Bearer ${READER}`, dpop: 'proof.jwt.value', 'x-trace': 'kept' } })
    await app.close()
    const logged = lines.join('')
    assert.match(logged, /"x-trace":"kept"/, 'the headers are logged')
    assert.match(logged, /"authorization":"\[Redacted\]"/)
    assert.match(logged, /"dpop":"\[Redacted\]"/)
    assert.ok(!logged.includes(READER) && !logged.includes('proof.jwt.value'))
  })
})

/** Percent-encoding with lowercase hex digits, as some encoders write it. */
const lowerHex = (text: string): string => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())

/** An upgrade request on a raw socket that never ends its side: what came back, and whether the server ended it. */
function upgrade(port: number, { path, headers }: { path: string; headers: Record<string, string> }): Promise<{ status: number; text: string; endedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect(port, '127.0.0.1')
    socket.allowHalfOpen = true
    const chunks: Buffer[] = []
    let done = false
    const cap = setTimeout(() => { finish(false); socket.destroy() }, 5_000) // timing-ok: a cap on waiting for the server to let go, not a sleep
    const finish = (endedByServer: boolean): void => {
      if (done) return
      done = true
      clearTimeout(cap)
      const text = Buffer.concat(chunks).toString('latin1')
      resolve({ status: Number(text.split(' ')[1]), text, endedByServer })
    }
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => {})
    // A FIN, or a reset: either way the server let go of the connection.
    socket.on('end', () => { finish(true); socket.destroy() })
    socket.on('close', () => finish(true))
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: ${ORIGIN}\r\n${lines}\r\n`)
  })
}

/** The server's open connections, once they have had a moment to close (polled, up to 5 s). */
async function openConnections(app: FastifyInstance): Promise<number> {
  const count = (): Promise<number> => new Promise((resolve, reject) => app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))))
  const since = Date.now()
  let open = await count()
  while (open > 0 && Date.now() - since < 5_000) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    open = await count()
  }
  return open
}

/** Whether a promise settles within `ms` (a generous cap, never a speed test). */
async function settles(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([promise.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}
