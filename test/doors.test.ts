// One engine, many doors (DESIGN §7): every way a credential gets in refuses a revoked token, a
// token accepted only under another registration's rules (another namespace, one shared cache),
// a sender-constrained token without its proof, and a token lacking the route's scope. Real HTTP
// and real WebSockets against one listening server with two registrations sharing a cache.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import fastifyTokenAuth, { createCache, isAuthFailure, tokenAuth, type Auth, type AuthFailure } from '../src/index.js'
import { testProvider, type TestProvider } from '../providers/test.js'
import { connect, upgradeStatus } from './helpers/ws.js'

const SCOPE = 'orders:read'
const TICKET_SECRET = 'doors-test-ticket-secret-0123456789abcdef'
const exp = (): number => Math.floor(Date.now() / 1000) + 3600
const cache = createCache()

/** Tokens of registration A, one per case; all of uid `reader` so that re-auth may use them. */
const A = {
  good: 'a-good.1',
  revoked: 'a-revoked.1',
  noScope: 'a-noscope.1',
  bound: 'a-bound.1',
  ticketRevoked: 'a-ticket-revoked.1',
}
/** A token only registration B accepts (same uid): once B cached it, A must not answer from it. */
const FOREIGN = 'b-only.1'

let app: FastifyInstance
let base: string
let providerA: TestProvider
let providerB: TestProvider

/** Each registration's decorator, read from inside its scope. */
const decorators = new Map<string, FastifyInstance['tokenAuth']>()

async function registration(scope: FastifyInstance, provider: TestProvider, prefix: string): Promise<void> {
  await scope.register(fastifyTokenAuth, { provider, cache, ticketSecret: TICKET_SECRET })
  decorators.set(prefix, scope.tokenAuth)
  const echo = (socket: { on(event: 'message', listener: (data: unknown) => void): void; send(data: string): void }): void => {
    socket.on('message', (data) => socket.send(`echo ${String(data)}`))
  }
  scope.get(`${prefix}/hook`, { config: { auth: { scopes: [SCOPE] } } }, async (request) => ({ uid: request.auth.uid }))
  scope.get(`${prefix}/require`, { preHandler: scope.requireAuth({ scopes: [SCOPE] }) }, async (request) => ({ uid: request.auth.uid }))
  scope.post(`${prefix}/verify`, { config: { auth: false } }, async (request) => scope.tokenAuth.verify((request.body as { token: string }).token, { scopes: [SCOPE] }))
  scope.get(`${prefix}/ws`, { websocket: true, config: { auth: { scopes: [SCOPE] } } }, echo)
  scope.get(`${prefix}/ws-first`, { websocket: true, config: { auth: { scopes: [SCOPE], firstMessage: true } } }, echo)
  scope.get(`${prefix}/ticket`, { config: { auth: true } }, async (request) => ({
    ticket: scope.tokenAuth.issueTicket(request.auth, { route: (request.query as { route?: string }).route ?? `${prefix}/ws` }),
  }))
}

before(async () => {
  const reader = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ sub: 'reader', scope: SCOPE, exp: exp(), ...extra })
  providerA = testProvider({ tokens: {
    [A.good]: reader(),
    [A.revoked]: reader(),
    [A.noScope]: reader({ scope: 'other' }),
    [A.bound]: reader({ cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } }),
    [A.ticketRevoked]: { sub: 'ticket-holder', scope: SCOPE, exp: exp() },
  } })
  providerB = testProvider({ tokens: { [FOREIGN]: reader() } })
  app = Fastify()
  await app.register(fastifyWebsocket)
  await app.register(async (scope) => registration(scope, providerA, '/a'))
  await app.register(async (scope) => registration(scope, providerB, '/b'))
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `127.0.0.1:${(app.server.address() as { port: number }).port}`
  // B accepts and caches its token in the shared cache; A revokes one of its own.
  assert.equal((await fetch(`http://${base}/b/hook`, { headers: { authorization: `Bearer ${FOREIGN}` } })).status, 200)
  assert.equal(cache.size, 1)
  assert.equal((await app.inject({ url: '/a/hook', headers: { authorization: `Bearer ${A.revoked}` } })).statusCode, 200)
  await decorators.get('/a')!.revoke(A.revoked)
})
after(() => app.close())

interface Case { name: string; token: string; status: number; error: string }
const CASES: Case[] = [
  { name: 'a revoked token', token: A.revoked, status: 401, error: 'invalid_token' },
  { name: 'a token of another namespace (accepted and cached by registration B)', token: FOREIGN, status: 401, error: 'invalid_token' },
  { name: 'a DPoP-bound token without its proof', token: A.bound, status: 401, error: 'invalid_token' },
  { name: "a token lacking the route's scope", token: A.noScope, status: 403, error: 'insufficient_scope' },
  { name: 'a token longer than maxTokenLength (never reaches the provider)', token: 'x'.repeat(8_193), status: 400, error: 'invalid_request' },
]
const WS_CLOSE: Record<number, number> = { 400: 4400, 401: 4401, 403: 4403 }

describe('every door refuses what the HTTP hook refuses', () => {
  test('sanity: the good token passes every door', async () => {
    for (const path of ['/a/hook', '/a/require']) {
      assert.equal((await fetch(`http://${base}${path}`, { headers: { authorization: `Bearer ${A.good}` } })).status, 200, path)
    }
    const verified = await (await fetch(`http://${base}/a/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: A.good }) })).json() as Auth
    assert.equal(verified.uid, 'reader')
    const upgraded = connect(`ws://${base}/a/ws`, { headers: { authorization: `Bearer ${A.good}` } })
    await upgraded.opened
    upgraded.ws.close()
  })

  for (const c of CASES) {
    describe(c.name, () => {
      test('the preParsing hook (config.auth)', async () => {
        const calls = providerA.calls
        const response = await fetch(`http://${base}/a/hook`, { headers: { authorization: `Bearer ${c.token}` } })
        assert.equal(response.status, c.status)
        assert.match(response.headers.get('www-authenticate') ?? '', new RegExp(`error="${c.error}"`))
        if (c.status === 400) assert.equal(providerA.calls, calls, 'bad input never reaches the provider')
      })

      test('requireAuth()', async () => {
        const response = await fetch(`http://${base}/a/require`, { headers: { authorization: `Bearer ${c.token}` } })
        assert.equal(response.status, c.status)
      })

      test('app.tokenAuth.verify()', async () => {
        const response = await fetch(`http://${base}/a/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: c.token }) })
        const result = await response.json() as AuthFailure
        assert.equal(result.errors?.[0]?.messageKey, c.error)
      })

      test('tokenAuth() with the same provider and cache', async () => {
        const result = await tokenAuth(c.token, providerA, { cache, scopes: [SCOPE] })
        assert.ok(isAuthFailure(result))
        assert.equal(result.errors[0]?.messageKey, c.error)
      })

      test('the WebSocket upgrade, Authorization header', async () => {
        const client = connect(`ws://${base}/a/ws`, { headers: { authorization: `Bearer ${c.token}` } })
        await assert.rejects(client.opened)
        assert.equal((await client.refused)?.status, c.status)
      })

      test('the WebSocket upgrade, Sec-WebSocket-Protocol token', async () => {
        const client = connect(`ws://${base}/a/ws`, { protocols: ['bearer', c.token] })
        await assert.rejects(client.opened)
        assert.equal((await client.refused)?.status, c.status)
      })

      test('first-message authentication', async () => {
        const client = connect(`ws://${base}/a/ws-first`)
        await client.opened
        client.ws.send(JSON.stringify({ type: 'auth', token: c.token }))
        const closed = await client.closed
        assert.equal(closed.code, WS_CLOSE[c.status])
        assert.equal(closed.reason, c.error)
        assert.ok(!client.messages.some((message) => (message as { type?: string }).type === 'auth_ok'))
      })

      test('in-band re-authentication on an open socket', async () => {
        const client = connect(`ws://${base}/a/ws-first`)
        await client.opened
        client.ws.send(JSON.stringify({ type: 'auth', token: A.good }))
        assert.equal((await client.next() as { type: string }).type, 'auth_ok')
        client.ws.send(JSON.stringify({ type: 'auth', token: c.token }))
        const closed = await client.closed
        assert.equal(closed.code, WS_CLOSE[c.status])
        assert.equal(client.messages.filter((message) => (message as { type?: string }).type === 'auth_ok').length, 1)
      })
    })
  }
})

describe('the ticket door', () => {
  async function ticket(prefix: string, token: string, route?: string): Promise<Response> {
    return fetch(`http://${base}${prefix}/ticket${route === undefined ? '' : `?route=${route}`}`, { headers: { authorization: `Bearer ${token}` } })
  }
  const redeem = (path: string, value: string): Promise<number | undefined> => upgradeStatus(connect(`ws://${base}${path}?ticket=${encodeURIComponent(value)}`))

  test('a good ticket opens its route once', async () => {
    const { ticket: value } = await (await ticket('/a', A.good)).json() as { ticket: string }
    assert.equal(await redeem('/a/ws', value), 101)
    assert.equal(await redeem('/a/ws', value), 401, 'spent')
  })

  test('a ticket of a token revoked after it was minted', async () => {
    const { ticket: value } = await (await ticket('/a', A.ticketRevoked)).json() as { ticket: string }
    const auth = await tokenAuth(A.ticketRevoked, providerA, { cache })
    assert.ok(!isAuthFailure(auth))
    await decorators.get('/a')!.revoke(A.ticketRevoked)
    assert.equal(await redeem('/a/ws', value), 401)
  })

  test("a ticket minted by another registration (namespace) with the same ticketSecret", async () => {
    const response = await ticket('/b', FOREIGN, '/a/ws')
    assert.equal(response.status, 200)
    const { ticket: value } = await response.json() as { ticket: string }
    assert.equal(await redeem('/a/ws', value), 401)
  })

  test('a DPoP-bound token cannot mint a ticket', async () => {
    const decorator = decorators.get('/a')!
    const bound = { uid: 'reader', provider: 'test', strategy: 'dpop', credentials: { token: A.bound, tokenType: 'DPoP', expires: false, scopes: [SCOPE], other: { cnf: { jkt: 'x' } } }, info: {}, extra: { rawInfo: {} } }
    assert.throws(() => decorator.issueTicket(bound, { route: '/a/ws' }), /DPoP-bound/)
  })

  test("a ticket of a token lacking the route's scope: 403", async () => {
    const { ticket: value } = await (await ticket('/a', A.noScope)).json() as { ticket: string }
    assert.equal(await redeem('/a/ws', value), 403)
  })

  test('a ticket for another route', async () => {
    const { ticket: value } = await (await ticket('/a', A.good, '/a/other')).json() as { ticket: string }
    assert.equal(await redeem('/a/ws', value), 401)
  })
})
