// WebSockets on real sockets: the upgrade's doors, tickets, first-message authentication, expiry
// and re-authentication. Deadlines (ticket expiry, authTimeout, exp, the re-auth grace) run on
// virtual time, checked 1 ms before and at the instant; the sockets' I/O is waited for.
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
import { useVirtualTime } from './helpers/clock.js'
import { until } from './helpers/poll.js'
import { connect, type Client } from './helpers/ws.js'

const SECRET_OLD = 'old-ticket-secret-0123456789abcdef-old'
const SECRET_NEW = 'new-ticket-secret-0123456789abcdef-new'
const nowS = (): number => Math.floor(Date.now() / 1000)
const longToken = 'reader-token.ws-1'

/** The app, and the server's side of every socket it opened (whose readyState changes at once when it closes one). */
interface WsApp { app: FastifyInstance; provider: TestProvider; base: string; http: string; sockets: WebSocket[] }
const OPEN = 1
const CLOSING = 2

async function startApp(options: PluginExtras = {}, provider?: TestProvider): Promise<WsApp> {
  const p = provider ?? testProvider({ tokens: {
    [longToken]: { sub: 'reader', scope: 'orders:read', exp: nowS() + 3600 },
    'admin-token.ws-1': { sub: 'root', scope: 'orders:read admin', exp: nowS() + 3600 },
  } })
  const app = Fastify()
  await app.register(fastifyWebsocket)
  await app.register(fastifyTokenAuth, { provider: p, ticketSecret: SECRET_OLD, ...options })
  const sockets: WebSocket[] = []
  const echo = (socket: WebSocket & { auth?: { uid: string } | null }) => {
    sockets.push(socket)
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
  return { app, provider: p, base: `ws://127.0.0.1:${port}`, http: `http://127.0.0.1:${port}`, sockets }
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

describe('a WebSocket route declared before the plugin', () => {
  test('is still a WebSocket route: its socket is closed on revocation, and a ticket for it opens it once', async () => {
    const provider = testProvider({ tokens: { 'early-token.1': { sub: 'early', scope: 'orders:read', exp: nowS() + 3600 } } })
    const app = Fastify()
    await app.register(fastifyWebsocket)
    app.get('/early-ws', { websocket: true, config: { auth: { scopes: ['orders:read'] } } }, (socket) => { socket.send('hello') })
    await app.register(fastifyTokenAuth, { provider, ticketSecret: SECRET_OLD })
    app.get('/ticket', { config: { auth: true } }, async (request) => ({ ticket: app.tokenAuth.issueTicket(request.auth, { route: '/early-ws' }) }))
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as { port: number }).port
    try {
      const byTicket = await ticketFrom(`http://127.0.0.1:${port}`, 'early-token.1', undefined, '/early-ws')
      const ticketed = connect(`ws://127.0.0.1:${port}/early-ws?ticket=${encodeURIComponent(byTicket)}`)
      await ticketed.opened
      const replayed = connect(`ws://127.0.0.1:${port}/early-ws?ticket=${encodeURIComponent(byTicket)}`)
      await assert.rejects(replayed.opened)
      assert.equal((await replayed.refused)?.status, 401, 'a ticket opens it once')
      const client = connect(`ws://127.0.0.1:${port}/early-ws`, { headers: { authorization: 'Bearer early-token.1' } })
      await client.opened
      await app.tokenAuth.revoke('early-token.1')
      const [closed, closedToo] = await Promise.all([client.closed, ticketed.closed])
      assert.equal(closed.code, 4401)
      assert.equal(closed.reason, 'token revoked')
      assert.equal(closedToo.code, 4401, 'the ticket\'s socket too')
    } finally {
      await app.close()
    }
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

  test('expired: 401 at its ttl, not 1 ms before', async (t) => {
    const clock = useVirtualTime(t, { timers: false })
    const early = await ticketFrom(s.http, longToken, 50)
    const late = await ticketFrom(s.http, longToken, 50)
    await clock.advance(49)
    const lastMs = connect(`${s.base}/ws?ticket=${early}`)
    await lastMs.opened
    lastMs.ws.close()
    await clock.advance(1)
    const client = connect(`${s.base}/ws?ticket=${late}`)
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

  test('silence closes at authTimeout with 4401', async (t) => {
    const clock = useVirtualTime(t)
    const v = await startApp()
    try {
      const client = connect(`${v.base}/ws-first`)
      await client.opened
      await until(() => v.sockets.length === 1, 'the socket on the server')
      clock.tick(399)
      assert.equal(v.sockets[0]!.readyState, OPEN, 'open 1 ms before authTimeout (400 ms)')
      clock.tick(1)
      assert.equal(v.sockets[0]!.readyState, CLOSING, 'closed at authTimeout')
      const { code, reason } = await client.closed
      assert.equal(code, 4401)
      assert.equal(reason, 'authentication timeout')
    } finally {
      await v.app.close()
    }
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
  // Each test on virtual time from a whole second, with an app of its own (its timers virtual).
  let serial = 0

  /** A fresh token for `uid` that expires in two (virtual) seconds. */
  function shortToken(s: WsApp, uid = 'walker'): { token: string; exp: number } {
    const token = `short-token.${++serial}.${Date.now()}`
    const exp = nowS() + 2
    s.provider.setToken(token, { sub: uid, scope: 'orders:read', exp })
    return { token, exp }
  }
  const count = (client: Client, type: string): number => client.messages.filter((message) => (message as { type?: string }).type === type).length

  test("onExpire 'close': closed with 4401 at exp", async (t) => {
    const clock = useVirtualTime(t)
    const s = await startApp()
    try {
      const { token, exp } = shortToken(s)
      const client = connect(`${s.base}/ws-close`, { headers: { authorization: `Bearer ${token}` } })
      await client.opened
      await until(() => s.sockets.length === 1, 'the socket on the server')
      clock.tick(exp * 1000 - clock.now() - 1)
      assert.equal(s.sockets[0]!.readyState, OPEN, 'open 1 ms before exp')
      clock.tick(1)
      assert.equal(s.sockets[0]!.readyState, CLOSING, 'closed at exp')
      const { code, reason } = await client.closed
      assert.equal(code, 4401)
      assert.equal(reason, 'token expired')
    } finally {
      await s.app.close()
    }
  })

  test("onExpire 'reauth': the AuthFlow client keeps the socket open across three expiries", async (t) => {
    const clock = useVirtualTime(t)
    const s = await startApp()
    try {
      let issued = 0
      const first = shortToken(s)
      const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: `Bearer ${first.token}` } })
      await client.opened
      let exp = first.exp
      // The client renews only when the server asks (reauth_required), never on its own timer.
      const handler = bearerAuthHandler({ getToken: () => { issued++; const next = shortToken(s); exp = next.exp; return next.token } })
      const flow = new AuthFlow({ ...handler, needsReauthentication: (state) => state.reauthRequired })
      flow.attach(client.ws)
      let closed = false
      void client.closed.then(() => { closed = true })
      for (let round = 1; round <= 3; round++) {
        clock.tick(exp * 1000 - clock.now())
        await clock.until(() => closed || (count(client, 'reauth_required') === round && count(client, 'auth_ok') === round), `renewal ${round}`)
        assert.equal(closed, false, `still open after expiry ${round}`)
      }
      assert.equal(issued, 3)
      client.ws.send('still-here')
      await clock.until(() => client.messages.some((message) => (message as { echo?: string }).echo === 'still-here'), 'the echo')
      assert.equal(closed, false, 'still open')
      flow.detach()
      client.ws.close()
    } finally {
      await s.app.close()
    }
  })

  test('a client that ignores reauth_required is closed at the end of the grace', async (t) => {
    const clock = useVirtualTime(t)
    const s = await startApp()
    try {
      const { token, exp } = shortToken(s)
      const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: `Bearer ${token}` } })
      await client.opened
      await until(() => s.sockets.length === 1, 'the socket on the server')
      clock.tick(exp * 1000 - clock.now())
      await until(() => count(client, 'reauth_required') === 1, 'reauth_required')
      clock.tick(599)
      assert.equal(s.sockets[0]!.readyState, OPEN, 'open 1 ms before the end of the grace (600 ms)')
      clock.tick(1)
      assert.equal(s.sockets[0]!.readyState, CLOSING, 'closed at the end of the grace')
      const { code } = await client.closed
      assert.equal(code, 4401)
    } finally {
      await s.app.close()
    }
  })

  test('re-authentication with another uid closes with 4403', async (t) => {
    useVirtualTime(t)
    const s = await startApp()
    try {
      const { token } = shortToken(s, 'walker')
      const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: `Bearer ${token}` } })
      await client.opened
      client.ws.send(JSON.stringify({ type: 'auth', token: shortToken(s, 'somebody-else').token }))
      const { code, reason } = await client.closed
      assert.equal(code, 4403)
      assert.equal(reason, 'uid mismatch')
    } finally {
      await s.app.close()
    }
  })

  test('re-authentication as the same uid of another identity provider (several issuers) closes with 4403', async (t) => {
    useVirtualTime(t)
    const exp = nowS() + 3600
    const idpA = testProvider({ name: 'idp-a', tokens: { 'alice-of-a.1': { sub: 'alice', scope: 'orders:read', exp }, 'alice-of-a.2': { sub: 'alice', scope: 'orders:read', exp } } })
    const idpB = testProvider({ name: 'idp-b', tokens: { 'alice-of-b.1': { sub: 'alice', scope: 'orders:read admin', exp } } })
    const s = await startApp({}, [idpA, idpB] as never)
    try {
      const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: 'Bearer alice-of-a.1' } })
      await client.opened
      // The control: a fresh token of the same person (alice of A) is accepted.
      client.ws.send(JSON.stringify({ type: 'auth', token: 'alice-of-a.2' }))
      await until(() => count(client, 'auth_ok') === 1, 'auth_ok for alice of A')
      // alice of B is somebody else, whatever her sub says.
      client.ws.send(JSON.stringify({ type: 'auth', token: 'alice-of-b.1' }))
      const outcome = await Promise.race([client.closed, until(() => count(client, 'auth_ok') === 2, 'a second auth_ok').then(() => 'accepted as alice of B')])
      assert.notEqual(outcome, 'accepted as alice of B')
      const { code, reason } = await client.closed
      assert.equal(code, 4403)
      assert.equal(reason, 'uid mismatch')
      assert.equal(count(client, 'auth_ok'), 1, 'no auth_ok for the other provider\'s alice')
    } finally {
      await s.app.close()
    }
  })

  test('proactive renewal ahead of exp: the flow renews on its own timer and the socket lives on', async (t) => {
    const clock = useVirtualTime(t)
    const s = await startApp()
    try {
      const first = shortToken(s)
      const client = connect(`${s.base}/ws-reauth`, { headers: { authorization: `Bearer ${first.token}` } })
      await client.opened
      let fetched = 0
      const flow = new AuthFlow({ getToken: () => { fetched++; return shortToken(s).token }, refreshAhead: 900 })
      let renewed = 0
      flow.on('renewed', () => { renewed++ })
      // One fresh token first, so that the flow learns an exp; from there it renews ahead of it.
      await flow.authenticate(client.ws)
      // Past the first token's exp and the next one's, 100 ms at a time, each renewal answered
      // before time moves on.
      while (clock.now() < first.exp * 1000 + 2_200) {
        clock.tick(100)
        await clock.until(() => client.ws.readyState !== OPEN || count(client, 'auth_ok') === fetched, 'the renewal answered')
      }
      assert.equal(client.ws.readyState, OPEN)
      assert.equal(count(client, 'reauth_required'), 0, 'renewed before the server had to ask')
      assert.ok(renewed >= 1, `renewed ${renewed} times`)
      flow.dispose()
      client.ws.close()
    } finally {
      await s.app.close()
    }
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
    await until(() => s.app.tokenAuth.sockets.size === 0, 'every socket forgotten')
    assert.equal(s.app.tokenAuth.sockets.size, 0)
    await s.app.close()
  })
})
