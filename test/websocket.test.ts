import type { PluginExtras } from './helpers/extras.js'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import fastifyTokenAuth from '../src/index.js'
import { AuthFlow, bearerAuthHandler } from '../src/ws-client.js'
import { testProvider, type TestProvider } from '../providers/test.js'
import { connect, type Client } from './helpers/ws.js'

const SECRET_OLD = 'old-ticket-secret-0123456789abcdef-old'
const SECRET_NEW = 'new-ticket-secret-0123456789abcdef-new'
const nowS = (): number => Math.floor(Date.now() / 1000)
const longToken = 'reader-token.ws-1'

interface WsApp { app: FastifyInstance; provider: TestProvider; base: string; http: string }

async function startApp(options: PluginExtras = {}, provider?: TestProvider): Promise<WsApp> {
  const p = provider ?? testProvider({ tokens: {
    [longToken]: { sub: 'reader', scope: 'orders:read', exp: nowS() + 3600 },
    'admin-token.ws-1': { sub: 'root', scope: 'orders:read admin', exp: nowS() + 3600 },
  } })
  const app = Fastify()
  await app.register(fastifyWebsocket)
  await app.register(fastifyTokenAuth, { provider: p, ticketSecret: SECRET_OLD, ...options })
  const echo = (socket: WebSocket & { auth?: { uid: string } | null }) => {
    socket.on('message', (data) => socket.send(JSON.stringify({ echo: String(data), uid: socket.auth?.uid ?? null })))
  }
  app.get('/ws', { websocket: true, config: { auth: { scopes: ['orders:read'] } } }, echo)
  app.get('/ws-admin', { websocket: true, config: { auth: { scopes: ['admin'] } } }, echo)
  app.get('/ws-first', { websocket: true, config: { auth: { firstMessage: true, authTimeout: 400 } } }, echo)
  app.get('/ws-close', { websocket: true, config: { auth: { onExpire: 'close' } } }, echo)
  app.get('/ws-reauth', { websocket: true, config: { auth: { onExpire: 'reauth', reauthGrace: 600 } } }, echo)
  app.get('/ticket', { config: { auth: true } }, async (request) => {
    const query = request.query as { ttl?: string; route?: string }
    return { ticket: app.tokenAuth.issueTicket(request.auth, { route: query.route ?? '/ws', ttl: Number(query.ttl ?? 30_000) }) }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  return { app, provider: p, base: `ws://127.0.0.1:${port}`, http: `http://127.0.0.1:${port}` }
}

async function ticketFrom(http: string, token: string, ttl?: number, route = '/ws'): Promise<string> {
  const response = await fetch(`${http}/ticket?route=${route}${ttl === undefined ? '' : `&ttl=${ttl}`}`, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(response.status, 200)
  return ((await response.json()) as { ticket: string }).ticket
}

describe('upgrade', () => {
  let s: WsApp
  before(async () => { s = await startApp() })
  after(() => s.app.close())

  test('without a token: HTTP 401 with the challenge, no open event', async () => {
    const client = connect(`${s.base}/ws`)
    await assert.rejects(client.opened)
    const refused = await client.refused
    assert.equal(refused?.status, 401)
    assert.equal(refused?.headers['www-authenticate'], 'Bearer realm="api"')
  })

  test('with a bad token: 401', async () => {
    const client = connect(`${s.base}/ws`, { headers: { authorization: 'Bearer unknown-token.x' } })
    await assert.rejects(client.opened)
    assert.equal((await client.refused)?.status, 401)
  })

  test('missing scope: 403 naming it', async () => {
    const client = connect(`${s.base}/ws-admin`, { headers: { authorization: `Bearer ${longToken}` } })
    await assert.rejects(client.opened)
    const refused = await client.refused
    assert.equal(refused?.status, 403)
    assert.match(String(refused?.headers['www-authenticate']), /scope="admin"/)
  })

  test('Authorization header: open, socket.auth set', async () => {
    const client = connect(`${s.base}/ws`, { headers: { authorization: `Bearer ${longToken}` } })
    await client.opened
    client.ws.send('hi')
    assert.deepEqual(await client.next(), { echo: 'hi', uid: 'reader' })
    client.ws.close()
  })

  test('Sec-WebSocket-Protocol "bearer, <token>": open, and only "bearer" is echoed', async () => {
    const client = connect(`${s.base}/ws`, { protocols: ['bearer', longToken] })
    const response = await client.opened
    assert.equal(response.headers['sec-websocket-protocol'], 'bearer')
    assert.equal(client.ws.protocol, 'bearer')
    client.ws.send('via-protocol')
    assert.deepEqual(await client.next(), { echo: 'via-protocol', uid: 'reader' })
    client.ws.close()
  })

  test('a raw access token in the query is refused unless allowQuery', async () => {
    const client = connect(`${s.base}/ws?access_token=${longToken}`)
    await assert.rejects(client.opened)
    assert.equal((await client.refused)?.status, 401)
  })
})

describe('tickets', () => {
  let s: WsApp
  before(async () => { s = await startApp() })
  after(() => s.app.close())

  test('works once; the replay is a 401; the access token is in no URL', async () => {
    const ticket = await ticketFrom(s.http, longToken)
    const url = `${s.base}/ws?ticket=${ticket}`
    assert.ok(!url.includes(longToken))
    const first = connect(url)
    await first.opened
    first.ws.send('with-ticket')
    assert.deepEqual(await first.next(), { echo: 'with-ticket', uid: 'reader' })
    first.ws.close()
    const replay = connect(url)
    await assert.rejects(replay.opened)
    const refused = await replay.refused
    assert.equal(refused?.status, 401)
    assert.match(String(refused?.headers['www-authenticate']), /already used/)
  })

  test('expired: 401', async () => {
    const ticket = await ticketFrom(s.http, longToken, 50)
    await sleep(100)
    const client = connect(`${s.base}/ws?ticket=${ticket}`)
    await assert.rejects(client.opened)
    const refused = await client.refused
    assert.equal(refused?.status, 401)
    assert.match(String(refused?.headers['www-authenticate']), /expired/)
  })

  test('tampered (one character): 401', async () => {
    const ticket = await ticketFrom(s.http, longToken)
    const i = 10
    const tampered = ticket.slice(0, i) + (ticket[i] === 'A' ? 'B' : 'A') + ticket.slice(i + 1)
    const client = connect(`${s.base}/ws?ticket=${tampered}`)
    await assert.rejects(client.opened)
    assert.equal((await client.refused)?.status, 401)
  })

  test('the ticket carries the scopes of its token: a reader ticket cannot open an admin route', async () => {
    const ticket = await ticketFrom(s.http, longToken, undefined, '/ws-admin')
    const client = connect(`${s.base}/ws-admin?ticket=${ticket}`)
    await assert.rejects(client.opened)
    assert.equal((await client.refused)?.status, 403)
  })

  test('rotation: signed with a secret still in the list is accepted; one no longer listed is a 401', async () => {
    // The same provider: a ticket is good only for the API (namespace) that minted it.
    const rotated = await startApp({ ticketSecret: [SECRET_NEW, SECRET_OLD] }, s.provider)
    const rotatedOut = await startApp({ ticketSecret: [SECRET_NEW] }, s.provider)
    try {
      const fromOld = await ticketFrom(s.http, longToken)
      const accepted = connect(`${rotated.base}/ws?ticket=${fromOld}`)
      await accepted.opened
      accepted.ws.close()
      const refused = connect(`${rotatedOut.base}/ws?ticket=${await ticketFrom(s.http, longToken)}`)
      await assert.rejects(refused.opened)
      assert.equal((await refused.refused)?.status, 401)
    } finally {
      await rotated.app.close()
      await rotatedOut.app.close()
    }
  })

  test('ticketSecret shorter than 32 bytes is refused at registration', async () => {
    const app = Fastify()
    await assert.rejects(async () => {
      await app.register(fastifyTokenAuth, { provider: testProvider({ tokens: {} }), ticketSecret: 'short' })
      await app.ready()
    }, /at least 32 bytes/)
    await app.close()
  })
})

describe('first-message authentication', () => {
  let s: WsApp
  before(async () => { s = await startApp() })
  after(() => s.app.close())

  test('a message before auth is not delivered; after auth_ok, messages flow', async () => {
    const client = connect(`${s.base}/ws-first`)
    await client.opened
    client.ws.send('before-auth')
    client.ws.send(JSON.stringify({ type: 'auth', token: longToken }))
    client.ws.send('after-auth')
    const first = await client.next() as Record<string, unknown>
    assert.equal(first.type, 'auth_ok')
    assert.equal(first.uid, 'reader')
    assert.deepEqual(await client.next(), { echo: 'after-auth', uid: 'reader' })
    await sleep(50)
    assert.ok(!client.messages.some((message) => JSON.stringify(message).includes('before-auth')), 'not delivered')
    client.ws.close()
  })

  test('a bad token closes with 4401', async () => {
    const client = connect(`${s.base}/ws-first`)
    await client.opened
    client.ws.send(JSON.stringify({ type: 'auth', token: 'unknown-token.first' }))
    const { code, reason } = await client.closed
    assert.equal(code, 4401)
    assert.equal(reason, 'invalid_token')
  })

  test('silence closes at authTimeout with 4401', async () => {
    const started = Date.now()
    const client = connect(`${s.base}/ws-first`)
    await client.opened
    const { code, reason } = await client.closed
    assert.equal(code, 4401)
    assert.equal(reason, 'authentication timeout')
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 380 && elapsed < 1500, `closed after ${elapsed} ms`)
  })

  test('the AuthFlow client authenticates a first-message socket', async () => {
    const client = connect(`${s.base}/ws-first`)
    await client.opened
    const flow = new AuthFlow({ getToken: () => longToken })
    const state = await flow.authenticate(client.ws)
    assert.equal(state.authenticated, true)
    assert.equal(state.uid, 'reader')
    client.ws.send('flow')
    await sleep(50)
    assert.ok(client.messages.some((message) => JSON.stringify(message) === JSON.stringify({ echo: 'flow', uid: 'reader' })))
    client.ws.close()
  })
})

describe('expiry and re-authentication', () => {
  let s: WsApp
  let serial = 0
  before(async () => { s = await startApp() })
  after(() => s.app.close())

  /** A fresh token for `uid` that expires in about two seconds. */
  function shortToken(uid = 'walker'): { token: string; exp: number } {
    const token = `short-token.${++serial}.${Date.now()}`
    const exp = nowS() + 2
    s.provider.setToken(token, { sub: uid, scope: 'orders:read', exp })
    return { token, exp }
  }

  test("onExpire 'close': closed with 4401 within exp + 1 s", async () => {
    const { token, exp } = shortToken()
    const client = connect(`${s.base}/ws-close`, { headers: { authorization: `Bearer ${token}` } })
    await client.opened
    const { code, reason } = await client.closed
    assert.equal(code, 4401)
    assert.equal(reason, 'token expired')
    assert.ok(Date.now() <= exp * 1000 + 1000, `closed ${Date.now() - exp * 1000} ms after exp`)
  })

  test("onExpire 'reauth': the AuthFlow client keeps the socket open across three expiries", async () => {
    let issued = 0
    const first = shortToken()
    const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: `Bearer ${first.token}` } })
    await client.opened
    // The client renews only when the server asks (reauth_required), never on its own timer.
    const handler = bearerAuthHandler({ getToken: () => { issued++; return shortToken().token } })
    const flow = new AuthFlow({ ...handler, needsReauthentication: (state) => state.reauthRequired })
    flow.attach(client.ws)
    const started = Date.now()
    let closed = false
    void client.closed.then(() => { closed = true })
    // Three renewals (each token lives 1-2 s), with room for a loaded machine; the socket must
    // stay open all along.
    const deadline = first.exp * 1000 + 12_000
    while (!closed && issued < 3 && Date.now() < deadline) await sleep(100)
    await sleep(200)
    assert.equal(closed, false, 'still open')
    assert.ok(issued >= 3, `re-authenticated ${issued} times in ${Date.now() - started} ms`)
    assert.ok(client.messages.filter((message) => (message as { type?: string }).type === 'reauth_required').length >= 3)
    client.ws.send('still-here')
    await sleep(50)
    assert.ok(client.messages.some((message) => (message as { echo?: string }).echo === 'still-here'))
    flow.detach()
    client.ws.close()
  })

  test('a client that ignores reauth_required is closed at the end of the grace', async () => {
    const { token, exp } = shortToken()
    const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: `Bearer ${token}` } })
    await client.opened
    const { code } = await client.closed
    assert.equal(code, 4401)
    assert.ok(client.messages.some((message) => (message as { type?: string }).type === 'reauth_required'))
    const late = Date.now() - exp * 1000
    assert.ok(late >= 550 && late < 1_800, `closed ${late} ms after exp (grace 600 ms)`)
  })

  test('re-authentication with another uid closes with 4403', async () => {
    const { token } = shortToken('walker')
    const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: `Bearer ${token}` } })
    await client.opened
    client.ws.send(JSON.stringify({ type: 'auth', token: shortToken('somebody-else').token }))
    const { code, reason } = await client.closed
    assert.equal(code, 4403)
    assert.equal(reason, 'uid mismatch')
  })

  test('proactive renewal ahead of exp: the flow renews on its own timer and the socket lives on', async () => {
    const first = shortToken()
    const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: `Bearer ${first.token}` } })
    await client.opened
    const flow = new AuthFlow({ getToken: () => shortToken().token, refreshAhead: 900 })
    let renewed = 0
    flow.on('renewed', () => { renewed++ })
    // One fresh token first, so that the flow learns an exp; from there it renews ahead of it.
    await flow.authenticate(client.ws)
    await sleep(first.exp * 1000 + 2_200 - Date.now())
    assert.equal(client.ws.readyState, 1)
    assert.ok(renewed >= 1, `renewed ${renewed} times`)
    flow.dispose()
    client.ws.close()
  })
})

describe('many sockets', () => {
  test('1,000 authenticated sockets with expiry timers: one timer in all, and the memory per socket', async () => {
    const tokens: Record<string, Record<string, unknown>> = {}
    for (let i = 0; i < 20; i++) tokens[`many-token.${i}`] = { sub: `user-${i}`, exp: nowS() + 600 + i * 7 }
    const s = await startApp({}, testProvider({ tokens }))
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    const clients: Client[] = []
    for (let batch = 0; batch < 10; batch++) {
      const opened = Array.from({ length: 100 }, (_, i) => {
        const client = connect(`${s.base}/ws-close`, { headers: { authorization: `Bearer many-token.${(batch * 100 + i) % 20}` } })
        clients.push(client)
        return client.opened
      })
      await Promise.all(opened)
    }
    assert.equal(s.app.tokenAuth.sockets.size, 1000)
    assert.equal(s.app.tokenAuth.sockets.timers, 1, 'one timer for every expiry')
    gc?.()
    const perSocket = (process.memoryUsage().heapUsed - heapBefore) / 1000
    console.log(`# 1,000 sockets (server and clients in one process): ${Math.round(perSocket)} bytes of heap per socket pair`)
    for (const client of clients) client.ws.close()
    await Promise.all(clients.map((client) => client.closed))
    await sleep(50)
    assert.equal(s.app.tokenAuth.sockets.size, 0)
    await s.app.close()
  })
})
