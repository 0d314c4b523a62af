// The ws-client on real `ws` sockets (through their addEventListener) against a real Fastify +
// @fastify/websocket server with the test provider: renewal through expiry without a storm, the
// refusals a client reads, and a close in the middle of a renewal. Renewal through expiry runs on
// virtual time (an app of its own, its timers virtual); the sockets are real.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import WebSocket from 'ws'
import fastifyTokenAuth from '../src/index.js'
import { AuthFlow, type AuthFlowEvents } from '../src/ws-client.js'
import { testProvider, type TestProvider } from '../providers/test.js'
import { settle, useVirtualTime } from './helpers/clock.js'
import { until } from './helpers/poll.js'

const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => { unhandled.push(reason) })
const nowS = (): number => Math.floor(Date.now() / 1000)

let app: FastifyInstance
let provider: TestProvider
let base: string
let serial = 0

/** A fresh token that expires at the end of the next second (1-2 s of life; 2 s on virtual time, which starts on a whole second). */
function shortToken(uid = 'walker', scope = 'orders:read', to = provider): string {
  const token = `ws-client-token.${++serial}`
  to.setToken(token, { sub: uid, scope, exp: nowS() + 2 })
  return token
}

function open(path: string, at = base): Promise<WebSocket> {
  const socket = new WebSocket(`${at}${path}`)
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(socket))
    socket.addEventListener('error', () => reject(new Error('no connection')))
  })
}

function record(flow: AuthFlow): { [K in keyof AuthFlowEvents]: Array<AuthFlowEvents[K]> } {
  const events = { authenticated: [], renewed: [], error: [], refused: [], closed: [] } as { [K in keyof AuthFlowEvents]: Array<AuthFlowEvents[K]> }
  for (const type of Object.keys(events) as Array<keyof AuthFlowEvents>) flow.on(type, (event) => { (events[type] as unknown[]).push(event) })
  return events
}

async function startServer(): Promise<{ app: FastifyInstance; provider: TestProvider; base: string }> {
  const provider = testProvider({ tokens: { 'reader-token.ws-client': { sub: 'reader', scope: 'orders:read', exp: nowS() + 3600 } } })
  const app = Fastify()
  await app.register(fastifyWebsocket)
  await app.register(fastifyTokenAuth, { provider })
  const echo = (socket: WebSocket & { auth?: { uid: string } | null }): void => {
    socket.on('message', (data) => socket.send(JSON.stringify({ echo: String(data), uid: socket.auth?.uid ?? null })))
  }
  app.get('/first', { websocket: true, config: { auth: { firstMessage: true, onExpire: 'reauth', reauthGrace: 3_000 } } }, echo)
  app.get('/first-admin', { websocket: true, config: { auth: { firstMessage: true, scopes: ['admin'] } } }, echo)
  app.get('/first-quick', { websocket: true, config: { auth: { firstMessage: true, authTimeout: 200 } } }, echo)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, provider, base: `ws://127.0.0.1:${(app.server.address() as { port: number }).port}` }
}

before(async () => {
  ({ app, provider, base } = await startServer())
})
after(async () => {
  await app.close()
  assert.deepEqual(unhandled, [])
})

describe('AuthFlow on ws sockets', () => {
  test('1-2 s tokens with the default refreshAhead (5 s): the socket lives through several expiries, no storm', async (t) => {
    const clock = useVirtualTime(t)
    const server = await startServer()
    t.after(() => server.app.close())
    const socket = await open('/first', server.base)
    let fetched = 0
    const flow = new AuthFlow({ getToken: () => { fetched++; return shortToken('walker', 'orders:read', server.provider) } })
    const events = record(flow)
    const started = clock.now()
    await flow.authenticate(socket)
    // Past three expiries of the first token's length, 50 ms at a time, each renewal answered
    // before time moves on.
    while (events.renewed.length < 3 && socket.readyState === WebSocket.OPEN && clock.now() - started < 20_000) {
      clock.tick(50)
      await clock.until(() => socket.readyState !== WebSocket.OPEN || events.authenticated.length + events.renewed.length + events.error.length === fetched, 'the renewal answered')
    }
    const elapsed = clock.now() - started
    assert.equal(socket.readyState, WebSocket.OPEN)
    assert.ok(events.renewed.length >= 3)
    // Renewed at two thirds of a 1-2 s life, never faster than the 1 s floor: the old client
    // fetched hundreds of tokens a second here.
    assert.ok(fetched <= Math.ceil(elapsed / 1_000) + 1, `${fetched} tokens in ${elapsed} ms`)
    assert.deepEqual(events.error, [])
    const reply = new Promise<string>((resolve) => socket.addEventListener('message', ({ data }) => resolve(String(data)), { once: true }))
    socket.send('still-here')
    assert.deepEqual(JSON.parse(await reply), { echo: 'still-here', uid: 'walker' })
    flow.close()
    await until(() => socket.readyState === WebSocket.CLOSED, 'the socket closed')
  })

  test('refused first messages: the key and the reason, from the close event', async () => {
    for (const [path, token, expected] of [
      ['/first', 'unknown-token.ws-client', { code: 4401, error: 'invalid_token', description: '' }],
      ['/first-admin', 'reader-token.ws-client', { code: 4403, error: 'insufficient_scope', description: '' }],
    ] as const) {
      const socket = await open(path)
      const flow = new AuthFlow({ getToken: () => token })
      const events = record(flow)
      await assert.rejects(flow.authenticate(socket), { reason: 'refused', code: expected.code, error: expected.error })
      assert.deepEqual(events.refused, [expected])
      assert.equal(events.closed[0]?.code, expected.code)
    }
  })

  test('silence past authTimeout: refused 4401 with the server\'s reason as description', async () => {
    const socket = await open('/first-quick')
    const flow = new AuthFlow({ getToken: () => 'reader-token.ws-client' })
    const events = record(flow)
    flow.attach(socket)
    await until(() => events.closed.length > 0, 'the close event')
    assert.deepEqual(events.refused, [{ code: 4401, error: 'invalid_token', description: 'authentication timeout' }])
  })

  test('a renewal with another uid: refused 4403, "uid mismatch"', async (t) => {
    const clock = useVirtualTime(t)
    const socket = await open('/first')
    const uids = ['walker', 'somebody-else']
    const flow = new AuthFlow({ getToken: () => shortToken(uids.shift()) })
    const events = record(flow)
    await flow.authenticate(socket)
    const renewal = flow.authenticate()
    clock.tick(1_000) // the floor between two renewals
    await assert.rejects(renewal, { reason: 'refused', code: 4403 })
    assert.deepEqual(events.refused, [{ code: 4403, error: 'insufficient_scope', description: 'uid mismatch' }])
  })

  test('the socket closes while getToken is under way: nothing unhandled, the renewal rejected', async (t) => {
    const clock = useVirtualTime(t)
    const socket = await open('/first')
    let release!: (token: string) => void
    let calls = 0
    const flow = new AuthFlow({ getToken: () => (++calls === 1 ? shortToken() : new Promise<string>((resolve) => { release = resolve })) })
    const events = record(flow)
    await flow.authenticate(socket)
    const renewal = flow.authenticate()
    clock.tick(1_000) // the floor between two renewals
    await until(() => calls === 2, 'the second getToken')
    socket.close()
    await until(() => events.closed.length > 0, 'the close event')
    release(shortToken())
    await assert.rejects(renewal, { reason: 'closed' })
    await settle()
    assert.deepEqual(unhandled, [])
    assert.deepEqual(events.error, [])
  })
})
