// A real browser against a real server: Debian's chromium (puppeteer-core, never a downloaded
// browser) loads a page from a Fastify + @fastify/websocket server on 127.0.0.1 with the test
// provider; the page (page.mjs) imports the ws-client as esbuild bundles it for browsers. Covers
// fetch with and without a token, ticket → WebSocket, the subprotocol's character limits,
// first-message auth with AuthFlow through expiry and renewal, and the refusals a page can read.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
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
  app.post('/ws-ticket', { config: { auth: true } }, async (request) => ({ ticket: app.tokenAuth.issueTicket(request.auth, { route: '/stream' }) }))
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
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
}

/** Runs a scenario of page.mjs in the page and returns what it returned. */
function scenario<T = Record<string, unknown>>(name: string, arg: Record<string, unknown> = {}): Promise<T> {
  return page.evaluate(`globalThis.scenarios[${JSON.stringify(name)}](${JSON.stringify(arg)})`) as Promise<T>
}

describe('in a real browser (Debian chromium)', { timeout: 60_000 }, () => {
  before(async () => {
    const [base, launched] = await Promise.all([startServer(), launchBrowser()])
    chromium = launched
    page = await chromium.browser.newPage()
    page.on('pageerror', (err) => { pageErrors.push(String(err)) })
    await page.goto(`${base}/`)
    await page.waitForFunction('globalThis.ready === true', { timeout: 10_000 })
  })
  after(async () => {
    await chromium?.close()
    await app?.close()
  })

  test('fetch without a token: 401 with the challenge; with it: 200', async () => {
    const result = await scenario<{ without: { status: number; challenge: string; body: { error: string } }; with: { status: number; body: { uid: string } } }>('fetchMe', { token: READER })
    assert.equal(result.without.status, 401)
    assert.equal(result.without.challenge, 'Bearer realm="api"')
    assert.equal(result.with.status, 200)
    assert.deepEqual(result.with.body, { uid: 'reader' })
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

  test('no uncaught error in the page', () => {
    assert.deepEqual(pageErrors, [])
  })
})
