// A refused upgrade a page can read (issue 18): with upgradeRefusal 'close' the upgrade is accepted
// and closed at once with 4000 + the status (1013 for an outage), the failure key as the reason,
// after an auth_error message; the route's handler never runs. 'http' (the default) stays a plain
// HTTP refusal. Real server, real `ws` clients.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import WebSocket from 'ws'
import fastifyTokenAuth from '../src/index.js'
import { testProvider, type TestProvider } from '../providers/test.js'
import { connect } from './helpers/ws.js'

let app: FastifyInstance
let base: string
let provider: TestProvider
let handled = 0

before(async () => {
  provider = testProvider({ tokens: { 'reader-token.1': { sub: 'reader', scope: 'orders:read', exp: Math.floor(Date.now() / 1000) + 600 } } })
  app = Fastify()
  await app.register(fastifyWebsocket)
  await app.register(fastifyTokenAuth, { provider, upgradeRefusal: 'close', ticketSecret: 'upgrade-refusal-ticket-secret-0123456789' })
  const handler = (socket: WebSocket): void => { handled++; socket.on('message', () => socket.send('ok')) }
  app.get('/stream', { websocket: true, config: { auth: true } }, handler)
  app.get('/admin', { websocket: true, config: { auth: { scopes: ['admin'] } } }, handler)
  app.get('/plain', { websocket: true, config: { auth: { upgradeRefusal: 'http' } } }, handler)
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}`
})
after(() => app.close())

/** Opens a socket and waits for it to close: what a page sees (the message before, and the close). */
function outcome(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<{ opened: boolean; messages: unknown[]; code: number; reason: string }> {
  const socket = new WebSocket(url, options.protocols ?? [], options)
  const messages: unknown[] = []
  let opened = false
  socket.on('open', () => { opened = true })
  socket.on('message', (data) => messages.push(JSON.parse(String(data))))
  socket.on('error', () => {})
  return new Promise((resolve) => socket.on('close', (code, reason) => resolve({ opened, messages, code, reason: reason.toString() })))
}

describe("upgradeRefusal: 'close'", () => {
  test('no token: opened, auth_error, closed 4401 missing_token; the handler never ran', async () => {
    const before = handled
    const seen = await outcome(`${base}/stream`)
    assert.equal(seen.opened, true)
    assert.deepEqual(seen.messages, [{ type: 'auth_error', error: 'missing_token', error_description: 'An access token is required' }])
    assert.deepEqual([seen.code, seen.reason], [4401, 'missing_token'])
    assert.equal(handled, before)
  })

  test('a bad token: 4401 invalid_token; a missing scope: 4403 insufficient_scope', async () => {
    const bad = await outcome(`${base}/stream`, { protocols: ['bearer', 'unknown-token.1'] })
    assert.deepEqual([bad.code, bad.reason], [4401, 'invalid_token'])
    const scoped = await outcome(`${base}/admin`, { headers: { authorization: 'Bearer reader-token.1' } })
    assert.deepEqual([scoped.code, scoped.reason], [4403, 'insufficient_scope'])
  })

  test('an expired or tampered ticket, and an outage (1013)', async () => {
    const ticket = await outcome(`${base}/stream?ticket=tampered.ticket`)
    assert.deepEqual([ticket.code, ticket.reason], [4401, 'invalid_token'])
    provider.unavailable = true
    try {
      const down = await outcome(`${base}/stream`, { headers: { authorization: 'Bearer another-token.2' } })
      assert.deepEqual([down.code, down.reason], [1013, 'provider_unavailable'])
    } finally {
      provider.unavailable = false
    }
  })

  test('a good token still opens the route, and the handler runs', async () => {
    const before = handled
    const client = connect(`${base}/stream`, { headers: { authorization: 'Bearer reader-token.1' } })
    await client.opened
    client.ws.send('hi')
    assert.equal(await client.next(), 'ok')
    client.ws.close()
    assert.equal(handled, before + 1)
  })

  test("a route that says 'http' keeps the plain HTTP refusal", async () => {
    const client = connect(`${base}/plain`)
    await assert.rejects(client.opened)
    const refused = await client.refused
    assert.equal(refused?.status, 401)
    assert.equal(refused?.headers['www-authenticate'], 'Bearer realm="api"')
  })
})
