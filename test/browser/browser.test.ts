// A real browser against a real server: Debian's chromium (puppeteer-core, never a downloaded
// browser) loads a page from a Fastify + @fastify/websocket server on 127.0.0.1 with the test
// provider; the page (page.mjs) imports the ws-client as esbuild bundles it for browsers. Covers
// fetch with and without a token (same origin, and cross-origin to a second server with
// @fastify/cors), ticket → WebSocket, the subprotocol's character limits, first-message auth with
// AuthFlow through expiry and renewal, and the refusals a page can read (first message, and
// upgrades refused with upgradeRefusal: 'close').
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyCors from '@fastify/cors'
import fastifyWebsocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import type { Page } from 'puppeteer-core'
import fastifyTokenAuth from '../../src/index.js'
import { testProvider, type TestProvider } from '../../providers/test.js'
import { bundleWsClient, launchBrowser, type TestBrowser } from '../helpers/browser.js'

const READER = 'reader-token.browser'
/** Shaped like a JWT (base64url segments and dots): every character is allowed in a subprotocol. */
const JWT_SHAPED = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJqd3QtdXNlciJ9.c2lnbmF0dXJl-_x'
const nowS = (): number => Math.floor(Date.now() / 1000)

let app: FastifyInstance
/** Another origin (another port): an API the page calls with CORS. */
let api: FastifyInstance
let apiBase: string
let preflights = 0
/** Handlers of the routes whose refused upgrades are closed with a reason: none may run. */
let closeRoutesHandled = 0
let provider: TestProvider
let chromium: TestBrowser
let page: Page
const pageErrors: string[] = []
let serial = 0

async function startServer(): Promise<string> {
  provider = testProvider({ tokens: {
    [READER]: { sub: 'reader', scope: 'orders:read', exp: nowS() + 3600 },
    [JWT_SHAPED]: { sub: 'jwt-user', scope: 'orders:read', exp: nowS() + 3600 },
  } })
  const [bundle, pageScript] = await Promise.all([bundleWsClient(), readFile(resolve(import.meta.dirname, 'page.mjs'), 'utf8')])
  app = Fastify()
  await app.register(fastifyWebsocket)
  await app.register(fastifyTokenAuth, { provider, ticketSecret: 'browser-test-ticket-secret-0123456789abcdef' })
  app.get('/', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>ws-client</title><script type="module" src="/page.mjs"></script>'))
  app.get('/page.mjs', async (_request, reply) => reply.type('text/javascript').send(pageScript))
  app.get('/ws-client.js', async (_request, reply) => reply.type('text/javascript').send(bundle.code))
  app.get('/api/me', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
  app.post('/ws-ticket', { config: { auth: true } }, async (request) => {
    const { route = '/stream', ttl } = request.query as { route?: string; ttl?: string }
    return { ticket: app.tokenAuth.issueTicket(request.auth, { route, ...(ttl === undefined ? {} : { ttl: Number(ttl) }) }) }
  })
  // What a login would hand the page: a fresh token that lives `life` whole seconds.
  app.get('/test/token', async (request) => {
    const token = `browser-token.${++serial}`
    provider.setToken(token, { sub: 'walker', scope: 'orders:read', exp: nowS() + Number((request.query as { life?: string }).life ?? 60) })
    return { token }
  })
  const echo = (socket: WebSocket & { auth?: { uid: string } | null }): void => {
    socket.on('message', (data) => socket.send(JSON.stringify({ echo: String(data), uid: socket.auth?.uid ?? null })))
  }
  app.get('/stream', { websocket: true, config: { auth: { scopes: ['orders:read'] } } }, echo)
  app.get('/first', { websocket: true, config: { auth: { firstMessage: true, onExpire: 'reauth', reauthGrace: 5_000 } } }, echo)
  app.get('/first-admin', { websocket: true, config: { auth: { firstMessage: true, scopes: ['admin'] } } }, echo)
  // Refused upgrades a page can read: accepted and closed with 4000 + status and the failure key.
  const counted = (socket: WebSocket): void => { closeRoutesHandled++; echo(socket) }
  app.get('/stream-close', { websocket: true, config: { auth: { scopes: ['orders:read'], upgradeRefusal: 'close' } } }, counted)
  app.get('/admin-close', { websocket: true, config: { auth: { scopes: ['admin'], upgradeRefusal: 'close' } } }, counted)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
}

/**
 * The API on another origin, as the README's CORS section says: @fastify/cors registered before
 * the plugin, for the page's origin, exposing WWW-Authenticate and Retry-After (no `credentials`:
 * a bearer token in Authorization needs none). Its
 * /bare scope has @fastify/cors with default options, to show what a page then cannot read.
 */
async function startApi(pageOrigin: string): Promise<string> {
  api = Fastify()
  api.addHook('onRequest', async (request) => { if (request.method === 'OPTIONS') preflights++ })
  // Two scopes with a prefix each: @fastify/cors declares OPTIONS * in the scope it is registered in.
  await api.register(async (scope) => {
    await scope.register(fastifyCors, { origin: pageOrigin, exposedHeaders: ['WWW-Authenticate', 'Retry-After'] })
    await scope.register(fastifyTokenAuth, { provider })
    scope.get('/me', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
  }, { prefix: '/api' })
  await api.register(async (scope) => {
    await scope.register(fastifyCors, { origin: pageOrigin })
    await scope.register(fastifyTokenAuth, { provider })
    scope.get('/me', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
  }, { prefix: '/bare' })
  await api.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(api.server.address() as { port: number }).port}`
}

/** Runs a scenario of page.mjs in the page and returns what it returned. */
function scenario<T = Record<string, unknown>>(name: string, arg: Record<string, unknown> = {}): Promise<T> {
  return page.evaluate(`globalThis.scenarios[${JSON.stringify(name)}](${JSON.stringify(arg)})`) as Promise<T>
}

describe('in a real browser (Debian chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    const [base, launched] = await Promise.all([startServer().then(async (origin) => {
      apiBase = await startApi(origin)
      return origin
    }), launchBrowser()])
    chromium = launched
    page = await chromium.browser.newPage()
    page.on('pageerror', (err) => { pageErrors.push(String(err)) })
    await page.goto(`${base}/`)
    await page.waitForFunction('globalThis.ready === true', { timeout: 10_000 })
  })
  after(async () => {
    await chromium?.close()
    await app?.close()
    await api?.close()
  })

  test('fetch without a token: 401 with the challenge; with it: 200', async () => {
    const result = await scenario<{ without: { status: number; challenge: string; body: { error: string } }; with: { status: number; body: { uid: string } } }>('fetchMe', { token: READER })
    assert.equal(result.without.status, 401)
    assert.equal(result.without.challenge, 'Bearer realm="api"')
    assert.equal(result.with.status, 200)
    assert.deepEqual(result.with.body, { uid: 'reader' })
  })

  test('cross-origin fetch (@fastify/cors before the plugin, exposedHeaders): 401 with a readable challenge, then 200 after a preflight', async () => {
    const before = preflights
    const result = await scenario<{
      without: { status: number; challenge: string | null; body: { error: string } }
      with: { status: number; body: { uid: string } }
      bare: { status: number; challenge: string | null; body: { error: string } }
    }>('crossOrigin', { api: apiBase, token: READER })
    assert.notEqual(new URL(apiBase).origin, new URL(page.url()).origin, 'another origin')
    assert.deepEqual(result.without, { status: 401, challenge: 'Bearer realm="api"', body: { error: 'missing_token', error_description: 'An access token is required' } })
    assert.deepEqual(result.with, { status: 200, body: { uid: 'reader' } })
    assert.ok(preflights > before, 'the Authorization header made the browser send a preflight')
    // Without exposedHeaders the page gets the 401 but cannot read the challenge.
    assert.equal(result.bare.status, 401)
    assert.equal(result.bare.body.error, 'missing_token')
    assert.equal(result.bare.challenge, null)
  })

  test('cross-origin, an outage: the page reads the 503 and, exposed, its Retry-After', async () => {
    provider.unavailable = true
    try {
      const result = await scenario<{ exposed: { status: number; retryAfter: string | null; error: string }; bare: { status: number; retryAfter: string | null; error: string } }>('crossOriginOutage', { api: apiBase })
      assert.deepEqual(result.exposed, { status: 503, retryAfter: '5', error: 'provider_unavailable' })
      assert.deepEqual(result.bare, { status: 503, retryAfter: null, error: 'provider_unavailable' })
    } finally {
      provider.unavailable = false
    }
  })

  test('ticket → WebSocket: the socket opens as the token\'s uid; the token is in no URL', async () => {
    const result = await scenario<{ status: number; url: string; reply: unknown }>('ticket', { token: READER })
    assert.equal(result.status, 200)
    assert.ok(!result.url.includes(READER))
    assert.deepEqual(result.reply, { echo: 'with-ticket', uid: 'reader' })
  })

  test('the subprotocol carries a JWT-shaped token; one with / or = is a SyntaxError in the page (+ and ~ pass)', async () => {
    const badTokens = ['opaque/token', 'opaque-token==', 'opaque+to~ken']
    const result = await scenario<{ thrown: Record<string, { name: string; mentionsToken: boolean } | null>; protocol: string; reply: unknown }>('subprotocol', { token: JWT_SHAPED, badTokens })
    // RFC 6455 subprotocols are RFC 7230 tokens: '/' and '=' are delimiters, '+' and '~' are not.
    assert.deepEqual(result.thrown, {
      'opaque/token': { name: 'SyntaxError', mentionsToken: true },
      'opaque-token==': { name: 'SyntaxError', mentionsToken: true },
      'opaque+to~ken': null,
    })
    assert.equal(result.protocol, 'bearer')
    assert.deepEqual(result.reply, { echo: 'with-subprotocol', uid: 'jwt-user' })
  })

  test('AuthFlow, first-message auth: 1-2 s tokens (shorter than refreshAhead) renewed through expiry, no storm', async () => {
    const result = await scenario<{
      first: { authenticated: boolean; uid: string }
      events: Array<{ type: string; at: number; expiresAt: number | null; reason: string | null }>
      fetched: number; elapsed: number; open: boolean; reply: unknown; reauthRequired: number
    }>('renewal', { life: 2, renewals: 3 })
    assert.deepEqual(result.first, { authenticated: true, uid: 'walker' })
    assert.equal(result.open, true, JSON.stringify(result.events))
    const renewed = result.events.filter((event) => event.type === 'renewed')
    assert.ok(renewed.length >= 3)
    // Past the first token's exp: the socket outlived it.
    const firstExp = result.events.find((event) => event.type === 'authenticated')!.expiresAt!
    assert.ok(renewed.at(-1)!.at > firstExp * 1000, 'renewed through at least one expiry')
    assert.deepEqual(result.events.filter((event) => event.type === 'error'), [])
    // One token per renewal (a fifth may be under way when the page stops): the old client
    // fetched hundreds a second in this very setting.
    assert.ok(result.fetched >= 4 && result.fetched <= 5, `${result.fetched} tokens fetched`)
    assert.deepEqual(result.reply, { echo: 'after-renewals', uid: 'walker' })
    console.log(`# browser: 3 renewals of 1-2 s tokens in ${result.elapsed} ms, ${result.fetched} tokens fetched, ${result.reauthRequired} reauth_required`)
  })

  test('a refused first message: the page reads 4401 invalid_token and 4403 insufficient_scope', async () => {
    for (const [path, token, code, error] of [['/first', 'unknown-token.browser', 4401, 'invalid_token'], ['/first-admin', READER, 4403, 'insufficient_scope']] as const) {
      const result = await scenario<{ rejection: Record<string, unknown>; refused: unknown; raw: { code: number; reason: string; refusal: unknown } }>('refusedFirstMessage', { path, token })
      assert.deepEqual(result.rejection, { name: 'AuthFlowError', reason: 'refused', code, error })
      assert.deepEqual(result.refused, { code, error, description: '' })
      assert.deepEqual(result.raw, { code, reason: error, refusal: { code, error, description: '' } })
    }
  })

  test('an upgrade refused with HTTP 401 is only "close 1006" to a page: nothing to read', async () => {
    assert.deepEqual(await scenario('refusedUpgrade'), { code: 1006, reason: '', refusal: null })
  })

  test("upgradeRefusal: 'close': the flow's refused event says why (tampered or expired ticket, missing scope, outage); no handler ran", async () => {
    type Seen = { opened: boolean; refused: { code: number; error: string; description: string } | null; raw: { code: number; reason: string }; authError: unknown }
    const cases: Array<[string, Record<string, unknown>, number, string]> = [
      ['a tampered ticket', { path: '/stream-close', token: READER, ticket: 'tampered' }, 4401, 'invalid_token'],
      ['an expired ticket', { path: '/stream-close', token: READER, ticket: 'expired' }, 4401, 'invalid_token'],
      ['a reader ticket on an admin route', { path: '/admin-close', token: READER, ticket: 'fresh' }, 4403, 'insufficient_scope'],
    ]
    for (const [name, arg, code, error] of cases) {
      const seen = await scenario<Seen>('refusedUpgradeClose', arg)
      assert.equal(seen.opened, true, `${name}: the upgrade is accepted, to be closed`)
      assert.deepEqual(seen.raw, { code, reason: error }, name)
      assert.equal(seen.refused?.code, code, name)
      assert.equal(seen.refused?.error, error, name)
      assert.ok(typeof seen.refused?.description === 'string' && seen.refused.description.length > 0, `${name}: the server's description`)
    }
    provider.unavailable = true
    try {
      // A token the server has not seen yet, in the subprotocol: the identity provider must be asked.
      const down = await scenario<Seen>('refusedUpgradeClose', { path: '/stream-close', protocols: ['bearer', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkb3duIn0.c2ln'] })
      assert.deepEqual(down.raw, { code: 1013, reason: 'provider_unavailable' })
      assert.deepEqual([down.refused?.code, down.refused?.error], [1013, 'provider_unavailable'])
    } finally {
      provider.unavailable = false
    }
    assert.equal(closeRoutesHandled, 0, 'no refused upgrade reached the route handler')
    // The same route opens for a good ticket, and only then does its handler run.
    const ok = await scenario<{ opened: boolean; reply: unknown }>('ticketTo', { path: '/stream-close', token: READER })
    assert.deepEqual(ok, { opened: true, reply: { echo: 'with-ticket', uid: 'reader' } })
    assert.equal(closeRoutesHandled, 1)
  })

  test('no uncaught error in the page', () => {
    assert.deepEqual(pageErrors, [])
  })
})
