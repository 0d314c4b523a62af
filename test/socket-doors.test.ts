// WebSocket doors hold every rule (issue 13): tickets and subprotocol tokens only on a real upgrade
// to a WebSocket route (F5); first-message auth and in-band re-auth apply sender binding and the
// dpop mode as HTTP does (F6). Real server, real `ws` clients and raw HTTP.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import fastifyTokenAuth from '../src/index.js'
import { testProvider } from '../providers/test.js'
import type { DpopMode } from '../src/dpop.js'
import { rawRequest } from './helpers/raw-http.js'
import { connect } from './helpers/ws.js'

const exp = (): number => Math.floor(Date.now() / 1000) + 3600
const TOKENS = {
  plain: 'plain-token.1',
  dpopBound: 'dpop-bound-token.1',
  certBound: 'cert-bound-token.1',
  malformedCnf: 'malformed-cnf-token.1',
}

async function server(dpop: DpopMode = 'allowed'): Promise<{ app: FastifyInstance; base: string }> {
  const provider = testProvider({ tokens: {
    [TOKENS.plain]: { sub: 'u', scope: 'orders:read', exp: exp() },
    [TOKENS.dpopBound]: { sub: 'u', scope: 'orders:read', exp: exp(), cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } },
    [TOKENS.certBound]: { sub: 'u', scope: 'orders:read', exp: exp(), cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } },
    [TOKENS.malformedCnf]: { sub: 'u', scope: 'orders:read', exp: exp(), cnf: { jkt: 123 } },
  } })
  const app = Fastify()
  await app.register(fastifyWebsocket)
  await app.register(fastifyTokenAuth, { provider, dpop, ticketSecret: 'socket-doors-ticket-secret-0123456789abc' })
  app.get('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid, strategy: request.auth.strategy }))
  app.post('/orders', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
  app.get('/ws', { websocket: true, config: { auth: true } }, (socket) => { socket.on('message', () => socket.send('ok')) })
  app.get('/ws-first', { websocket: true, config: { auth: { firstMessage: true } } }, (socket) => { socket.on('message', () => socket.send('ok')) })
  app.get('/ticket', { config: { auth: true } }, async (request) => ({ ticket: app.tokenAuth.issueTicket(request.auth, { route: (request.query as { route?: string }).route ?? '/ws' }) }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, base: `127.0.0.1:${(app.server.address() as { port: number }).port}` }
}

async function ticketFor(app: FastifyInstance, route: string): Promise<string> {
  const response = await app.inject({ url: `/ticket?route=${route}`, headers: { authorization: `Bearer ${TOKENS.plain}` } })
  assert.equal(response.statusCode, 200)
  return response.json<{ ticket: string }>().ticket
}

describe('F5: tickets and subprotocol tokens only on a real upgrade to a WebSocket route', () => {
  let s: { app: FastifyInstance; base: string }
  before(async () => { s = await server() })
  after(() => s.app.close())

  const upgradeish: Array<[string, Record<string, string>]> = [
    ['only an Upgrade header', { upgrade: 'websocket' }],
    ['Upgrade and Connection: upgrade, but on an ordinary route', { upgrade: 'websocket', connection: 'upgrade' }],
  ]
  for (const [what, headers] of upgradeish) {
    for (const method of ['GET', 'POST'] as const) {
      test(`${method} /orders with ${what} and ?ticket=: no credential, 401`, async () => {
        const ticket = await ticketFor(s.app, '/orders')
        const response = await s.app.inject({ method, url: `/orders?ticket=${ticket}`, headers })
        assert.equal(response.statusCode, 401)
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"')
      })

      test(`${method} /orders with ${what} and a Sec-WebSocket-Protocol token: 401`, async () => {
        const response = await s.app.inject({ method, url: '/orders', headers: { ...headers, 'sec-websocket-protocol': `bearer, ${TOKENS.plain}` } })
        assert.equal(response.statusCode, 401)
      })
    }
  }

  test('a ticket over a real socket with an Upgrade header (no Connection: upgrade): 401', async () => {
    const ticket = await ticketFor(s.app, '/orders')
    const port = Number(s.base.split(':')[1])
    const response = await rawRequest(port, `GET /orders?ticket=${ticket} HTTP/1.1\r\nHost: ${s.base}\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n`)
    assert.equal(response.status, 401)
  })

  test('the same ticket on a real upgrade of its WebSocket route: opens', async () => {
    const client = connect(`ws://${s.base}/ws?ticket=${await ticketFor(s.app, '/ws')}`)
    await client.opened
    client.ws.close()
  })
})

describe('F6: sockets apply sender binding and the dpop mode as HTTP does', () => {
  async function firstMessage(base: string, token: string): Promise<{ code: number; reason: string; ok: boolean }> {
    const client = connect(`ws://${base}/ws-first`)
    await client.opened
    client.ws.send(JSON.stringify({ type: 'auth', token }))
    const closed = await Promise.race([client.closed, client.next().then((message) => ({ code: 0, reason: String((message as { type?: string }).type) }))])
    client.ws.terminate()
    return { ...closed, ok: closed.reason === 'auth_ok' }
  }

  describe("dpop: 'allowed'", () => {
    let s: { app: FastifyInstance; base: string }
    before(async () => { s = await server('allowed') })
    after(() => s.app.close())

    test('first message with a DPoP-bound token (cnf.jkt): 4401, never auth_ok', async () => {
      assert.deepEqual(await firstMessage(s.base, TOKENS.dpopBound), { code: 4401, reason: 'invalid_token', ok: false })
    })

    test('first message with a certificate-bound token over a connection without that certificate: 4401', async () => {
      assert.deepEqual(await firstMessage(s.base, TOKENS.certBound), { code: 4401, reason: 'invalid_token', ok: false })
    })

    test('first message with a malformed cnf: 4401 (never a plain bearer token)', async () => {
      assert.deepEqual(await firstMessage(s.base, TOKENS.malformedCnf), { code: 4401, reason: 'invalid_token', ok: false })
    })

    test('in-band re-auth with a DPoP-bound token of the same uid: closes 4401', async () => {
      const client = connect(`ws://${s.base}/ws-first`)
      await client.opened
      client.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.plain }))
      assert.equal((await client.next() as { type: string }).type, 'auth_ok')
      client.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.dpopBound }))
      assert.equal((await client.closed).code, 4401)
    })

    test('the upgrade by subprotocol with a DPoP-bound token (no DPoP scheme possible): 401', async () => {
      const client = connect(`ws://${s.base}/ws`, { protocols: ['bearer', TOKENS.dpopBound] })
      await assert.rejects(client.opened)
      assert.equal((await client.refused)?.status, 401)
    })
  })

  describe("dpop: 'required'", () => {
    let s: { app: FastifyInstance; base: string }
    before(async () => { s = await server('required') })
    after(() => s.app.close())

    test('first message with an unbound token: 4401, as over HTTP', async () => {
      assert.equal((await s.app.inject({ url: '/orders', headers: { authorization: `Bearer ${TOKENS.plain}` } })).statusCode, 401)
      assert.deepEqual(await firstMessage(s.base, TOKENS.plain), { code: 4401, reason: 'invalid_token', ok: false })
    })
  })

  describe("dpop: 'disabled'", () => {
    let s: { app: FastifyInstance; base: string }
    before(async () => { s = await server('disabled') })
    after(() => s.app.close())

    test('first message with a DPoP-bound token: 4401; an unbound one passes', async () => {
      assert.deepEqual(await firstMessage(s.base, TOKENS.dpopBound), { code: 4401, reason: 'invalid_token', ok: false })
      assert.deepEqual(await firstMessage(s.base, TOKENS.plain), { code: 0, reason: 'auth_ok', ok: true })
    })
  })
})
