// The ws-client's logic on virtual time (mock.timers for setTimeout and Date) with a socket of the
// standard WebSocket surface: renewal bounds, same-token detection, events, and that no ordering
// of close, dispose and renewal leaves an unhandled rejection, a timer or a listener behind.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, mock, test } from 'node:test'
import { AuthFlow, AuthFlowError, bearerAuthHandler, readRefusal, renewalTime, type AuthFlowEvents, type AuthFlowState } from '../src/ws-client.js'
import { FakeSocket, fakeServer, tokenTable } from './helpers/fake-socket.js'

const T0 = 1_700_000_000_000
const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => { unhandled.push(reason) })

/** Lets promise chains and real I/O (Blob.text) settle; timers stay frozen. */
async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Moves virtual time on in small steps, letting what each step starts settle. */
async function advance(ms: number, step = 10): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    mock.timers.tick(Math.min(step, ms - done))
    await flush()
  }
}

async function assertNoUnhandled(): Promise<void> {
  await flush()
  assert.deepEqual(unhandled.splice(0), [], 'no unhandled rejection')
}

function record(flow: AuthFlow): { [K in keyof AuthFlowEvents]: Array<AuthFlowEvents[K]> } {
  const events = { authenticated: [], renewed: [], error: [], refused: [], closed: [] } as { [K in keyof AuthFlowEvents]: Array<AuthFlowEvents[K]> }
  for (const type of Object.keys(events) as Array<keyof AuthFlowEvents>) flow.on(type, (event) => { (events[type] as unknown[]).push(event) })
  return events
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: Error) => void } {
  let resolve!: (value: T) => void
  let reject!: (err: Error) => void
  const promise = new Promise<T>((yes, no) => { resolve = yes; reject = no })
  return { promise, resolve, reject }
}

beforeEach(() => { mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 }) })
afterEach(async () => {
  mock.timers.reset()
  await assertNoUnhandled()
})

describe('renewal cannot storm', () => {
  test('4-s tokens with the default refreshAhead (5 s): at most one renewal per token lifetime, and the socket lives on', async () => {
    const table = tokenTable(4)
    const socket = new FakeSocket()
    const server = fakeServer(socket, table.tokens, { onExpire: 'reauth' })
    const flow = new AuthFlow({ getToken: table.getToken })
    const events = record(flow)
    const first = flow.authenticate(socket)
    await advance(20)
    await first
    await advance(60_000)
    assert.equal(socket.readyState, 1, 'still open')
    assert.equal(server.reauthRequired, 0, 'every token renewed before its exp')
    assert.equal(events.error.length, 0)
    // Each token's lifetime (from its issue to its exp) saw at most one renewal.
    for (let i = 0; i < table.issued.length; i++) {
      const exp = table.tokens.get(`token-${i + 1}`)!.exp * 1000
      const within = table.issued.filter((at) => at > table.issued[i]! && at < exp).length
      assert.ok(within <= 1, `token ${i + 1} saw ${within} renewals`)
    }
    // 60 s of 3-4 s tokens renewed at two thirds of their life: 20-30 tokens, not thousands.
    assert.ok(table.issued.length >= 15 && table.issued.length <= 31, `${table.issued.length} tokens in 60 s`)
    assert.equal(events.renewed.length, table.issued.length - 1)
    flow.dispose()
  })

  test('2-s tokens against a server that closes at exp: renewed in time, each once', async () => {
    const table = tokenTable(2)
    const socket = new FakeSocket()
    fakeServer(socket, table.tokens, { onExpire: 'close' })
    const flow = new AuthFlow({ getToken: table.getToken, refreshAhead: 30_000 })
    const first = flow.authenticate(socket)
    await advance(20)
    await first
    await advance(30_000)
    assert.equal(socket.readyState, 1, 'never closed at an exp')
    for (let i = 0; i < table.issued.length; i++) {
      const exp = table.tokens.get(`token-${i + 1}`)!.exp * 1000
      assert.ok(table.issued.filter((at) => at > table.issued[i]! && at < exp).length <= 1)
    }
    assert.ok(table.issued.length <= 31, `${table.issued.length} tokens in 30 s`)
    flow.dispose()
  })

  test('a token already expired by the client clock (skew): no proactive renewal at all; one renewal per reauth_required', async () => {
    let calls = 0
    const socket = new FakeSocket()
    const flow = new AuthFlow({ getToken: () => `skewed-${++calls}` })
    const confirmed = flow.authenticate(socket)
    await flush()
    socket.receive({ type: 'auth_ok', uid: 'alice', expiresAt: Math.floor(T0 / 1000) - 30 })
    await confirmed
    await advance(20_000, 100)
    assert.equal(calls, 1)
    socket.receive({ type: 'reauth_required', expiresAt: null })
    await advance(5_000, 100)
    assert.equal(calls, 2)
    assert.equal(socket.sent.length, 2)
    flow.dispose()
  })

  test('a getToken that returns the token already sent: one renewal, one same_token error, nothing sent again', async () => {
    const socket = new FakeSocket()
    const tokens = new Map([['the-same-token', { uid: 'alice', exp: Math.floor(T0 / 1000) + 10 }]])
    fakeServer(socket, tokens, { onExpire: 'close' })
    let calls = 0
    const flow = new AuthFlow({ getToken: () => { calls++; return 'the-same-token' } })
    const events = record(flow)
    const first = flow.authenticate(socket)
    await advance(20)
    await first
    await advance(30_000, 50)
    assert.equal(calls, 2, 'the first authentication and one renewal')
    assert.equal(socket.sent.length, 1, 'the same token is never sent again')
    assert.deepEqual(events.error.map((err) => err.reason), ['same_token'])
    assert.ok(events.error[0] instanceof AuthFlowError)
    assert.ok(!events.error[0].message.includes('the-same-token'), 'no token in the message')
    // The server then closed the socket at exp, and the page learns why.
    assert.deepEqual(events.refused, [{ code: 4401, error: 'invalid_token', description: 'token expired' }])
    assert.equal(events.closed.length, 1)
  })

  test('the same token under reauth_required: one attempt per server request, bounded by the grace', async () => {
    const socket = new FakeSocket()
    const tokens = new Map([['the-same-token', { uid: 'alice', exp: Math.floor(T0 / 1000) + 10 }]])
    const server = fakeServer(socket, tokens, { onExpire: 'reauth', grace: 10_000 })
    let calls = 0
    const flow = new AuthFlow({ getToken: () => { calls++; return 'the-same-token' } })
    const events = record(flow)
    const first = flow.authenticate(socket)
    await advance(20)
    await first
    await advance(60_000, 50)
    assert.equal(server.reauthRequired, 1)
    assert.equal(calls, 3, 'first, ahead of exp, on reauth_required')
    assert.equal(socket.sent.length, 1)
    assert.equal(events.error.length, 2)
    assert.equal(socket.readyState, 3, 'closed at the end of the grace')
  })

  test('never more than one renewal in flight; a floor of minInterval between two', async () => {
    const socket = new FakeSocket()
    const pending: Array<ReturnType<typeof deferred<string>>> = []
    const startedAt: number[] = []
    const flow = new AuthFlow({ getToken: () => { startedAt.push(Date.now()); pending.push(deferred<string>()); return pending.at(-1)!.promise } })
    const first = flow.authenticate(socket)
    // Everything that could start another one while the first is under way.
    for (let i = 0; i < 5; i++) {
      socket.receive({ type: 'reauth_required', expiresAt: null })
      assert.equal(flow.authenticate(), first, 'shares the one under way')
    }
    await advance(3_000, 100)
    assert.equal(startedAt.length, 1)
    pending[0]!.resolve('token-1')
    await flush()
    socket.receive({ type: 'auth_ok', uid: 'alice', expiresAt: Math.floor(T0 / 1000) + 3600 })
    await first
    // The server asks again at once: the renewal waits for the floor (1 s after the last start).
    socket.receive({ type: 'reauth_required', expiresAt: null })
    const floorAt = startedAt[0]! + 1_000
    await advance(floorAt - Date.now() - 10)
    assert.equal(startedAt.length, 1, 'not before the floor')
    await advance(20)
    assert.equal(startedAt.length, 2)
    assert.ok(startedAt[1]! >= floorAt)
    // An explicit authenticate() right after is held to the floor too.
    pending[1]!.resolve('token-2')
    await flush()
    socket.receive({ type: 'auth_ok', uid: 'alice', expiresAt: Math.floor(T0 / 1000) + 3600 })
    await flush()
    void flow.authenticate()
    await advance(500)
    assert.equal(startedAt.length, 2)
    await advance(600)
    assert.equal(startedAt.length, 3)
    assert.ok(startedAt[2]! - startedAt[1]! >= 1_000)
    flow.dispose()
  })

  test('minInterval is configurable', async () => {
    const socket = new FakeSocket()
    const startedAt: number[] = []
    const flow = new AuthFlow({ getToken: () => { startedAt.push(Date.now()); return `t${startedAt.length}` }, minInterval: 5_000 })
    const first = flow.authenticate(socket)
    await flush()
    socket.receive({ type: 'auth_ok', uid: 'alice', expiresAt: null })
    await first
    socket.receive({ type: 'reauth_required', expiresAt: null })
    await advance(4_900, 100)
    assert.equal(startedAt.length, 1)
    await advance(200, 100)
    assert.deepEqual(startedAt, [T0, T0 + 5_000])
    flow.dispose()
  })
})

describe('renewalTime', () => {
  const confirmed = (exp: number): AuthFlowState => ({ authenticated: true, reauthRequired: false, expiresAt: exp, confirmedAt: T0 })
  test('refreshAhead before exp for a long token; two thirds of the life for a short one; nothing when unknown or dead', () => {
    assert.equal(renewalTime(confirmed(T0 / 1000 + 3600), 5_000), T0 + 3_600_000 - 5_000)
    assert.equal(renewalTime(confirmed(T0 / 1000 + 6), 5_000), T0 + 4_000)
    assert.equal(renewalTime(confirmed(T0 / 1000 - 1), 5_000), undefined)
    assert.equal(renewalTime({ authenticated: true, reauthRequired: false, expiresAt: null, confirmedAt: T0 }, 5_000), undefined)
    assert.equal(renewalTime({ authenticated: false, reauthRequired: false }, 5_000), undefined)
  })

  test('bearerAuthHandler.needsReauthentication follows it, and reauth_required', () => {
    const handler = bearerAuthHandler({ getToken: () => 't', refreshAhead: 1_000 })
    assert.equal(handler.needsReauthentication(confirmed(T0 / 1000 + 60), T0 + 58_999), false)
    assert.equal(handler.needsReauthentication(confirmed(T0 / 1000 + 60), T0 + 59_000), true)
    assert.equal(handler.needsReauthentication({ authenticated: false, reauthRequired: true }), true)
  })
})

describe('events and frames', () => {
  test('authenticated, then renewed, with uid and expiresAt; app messages are left alone', async () => {
    const table = tokenTable(3600)
    const socket = new FakeSocket()
    fakeServer(socket, table.tokens, { onExpire: 'close' })
    const flow = new AuthFlow({ getToken: table.getToken, minInterval: 0 })
    const events = record(flow)
    const first = flow.authenticate(socket)
    await advance(20)
    const state = await first
    assert.equal(state.authenticated, true)
    assert.equal(state.uid, 'alice')
    socket.receive({ type: 'chat', text: '{"type":"auth_ok"}' })
    socket.receive('{"type":"auth_ok", not json')
    const second = flow.authenticate()
    await advance(20)
    await second
    const exp = Math.floor(T0 / 1000) + 3600
    assert.deepEqual(events.authenticated, [{ uid: 'alice', expiresAt: exp }])
    assert.deepEqual(events.renewed, [{ uid: 'alice', expiresAt: exp }])
    assert.equal(flow.state.confirmedAt, Date.now())
    flow.dispose()
  })

  test('control messages as string, ArrayBuffer, Uint8Array or Blob frames', async () => {
    const socket = new FakeSocket()
    const flow = new AuthFlow({ getToken: () => 't' })
    const events = record(flow)
    flow.attach(socket)
    const text = (uid: string): string => JSON.stringify({ type: 'auth_ok', uid, expiresAt: null })
    socket.receive(text('as-string'))
    socket.receive(new TextEncoder().encode(text('as-arraybuffer')).buffer)
    socket.receive(new TextEncoder().encode(text('as-view')))
    socket.receive(new Blob([text('as-blob')]))
    socket.receive(42)
    await flush()
    assert.deepEqual([...events.authenticated, ...events.renewed].map((event) => event.uid).sort(), ['as-arraybuffer', 'as-blob', 'as-string', 'as-view'])
    flow.dispose()
  })

  test('auth_error: an error event with the key and description, and the authenticate() promise rejects', async () => {
    const socket = new FakeSocket()
    const flow = new AuthFlow({ getToken: () => 't' })
    const events = record(flow)
    const attempt = flow.authenticate(socket)
    await flush()
    socket.receive({ type: 'auth_error', error: 'provider_unavailable', error_description: 'The identity provider is unavailable' })
    await assert.rejects(attempt, { name: 'AuthFlowError', reason: 'auth_error', error: 'provider_unavailable' })
    assert.equal(events.error[0]?.description, 'The identity provider is unavailable')
    // An auth_error nobody waits for is an event too.
    socket.receive({ type: 'auth_error', error: 'invalid_token' })
    assert.deepEqual(events.error.map((err) => err.error), ['provider_unavailable', 'invalid_token'])
    assert.equal(flow.state.lastError, 'invalid_token')
    flow.dispose()
  })

  test('refused: auth_error then close with the key as reason (accept-and-close), and the plain first-message closes', async () => {
    for (const [code, reason, authError, expected] of [
      [4401, 'invalid_token', { type: 'auth_error', error: 'invalid_token', error_description: 'The access token expired' }, { code: 4401, error: 'invalid_token', description: 'The access token expired' }],
      [4403, 'insufficient_scope', { type: 'auth_error', error: 'insufficient_scope', error_description: 'The access token lacks a required scope' }, { code: 4403, error: 'insufficient_scope', description: 'The access token lacks a required scope' }],
      [4400, 'invalid_request', undefined, { code: 4400, error: 'invalid_request', description: '' }],
      [1013, 'provider_unavailable', undefined, { code: 1013, error: 'provider_unavailable', description: '' }],
      [4403, 'uid mismatch', undefined, { code: 4403, error: 'insufficient_scope', description: 'uid mismatch' }],
      [4401, 'authentication timeout', undefined, { code: 4401, error: 'invalid_token', description: 'authentication timeout' }],
    ] as const) {
      const socket = new FakeSocket()
      const flow = new AuthFlow({ getToken: () => 't' })
      const events = record(flow)
      const attempt = flow.authenticate(socket)
      await flush()
      if (authError !== undefined) socket.receive(authError)
      socket.serverClose(code, reason)
      await assert.rejects(attempt, (err: AuthFlowError) => err.reason === (authError === undefined ? 'refused' : 'auth_error'))
      assert.deepEqual(events.refused, [expected], `${code} ${reason}`)
      assert.deepEqual(events.closed, [{ code, reason, refusal: expected }])
      assert.equal(socket.listenerCount, 0)
    }
  })

  test('a normal close is closed, not refused; readRefusal reads any close event', async () => {
    const socket = new FakeSocket()
    const flow = new AuthFlow({ getToken: () => 't' })
    const events = record(flow)
    flow.attach(socket)
    socket.serverClose(1000, 'bye')
    assert.deepEqual(events.refused, [])
    assert.deepEqual(events.closed, [{ code: 1000, reason: 'bye', refusal: undefined }])
    assert.equal(readRefusal({ code: 1006, reason: '' }), undefined)
    assert.equal(readRefusal({ code: 1001 }), undefined)
    assert.deepEqual(readRefusal({ code: 4429, reason: 'rate_limited' }), { code: 4429, error: 'rate_limited', description: '' })
    assert.deepEqual(readRefusal({ code: 4401 }), { code: 4401, error: 'invalid_token', description: '' })
  })

  test('authenticate() on a socket still connecting sends at open', async () => {
    const socket = new FakeSocket(0)
    const flow = new AuthFlow({ getToken: () => 'early' })
    const attempt = flow.authenticate(socket)
    await advance(1_000, 100)
    assert.equal(socket.sent.length, 0)
    socket.open()
    await flush()
    assert.deepEqual(socket.sent, [{ type: 'auth', token: 'early' }])
    socket.receive({ type: 'auth_ok', uid: 'alice', expiresAt: null })
    assert.equal((await attempt).uid, 'alice')
    flow.dispose()
  })

  test('a listener can remove itself with the function on() returned', async () => {
    const socket = new FakeSocket()
    const flow = new AuthFlow({ getToken: () => 't' })
    let seen = 0
    const off = flow.on('authenticated', () => { seen++; off() })
    flow.attach(socket)
    socket.receive({ type: 'auth_ok', uid: 'a', expiresAt: null })
    socket.receive({ type: 'auth_ok', uid: 'a', expiresAt: null })
    assert.equal(seen, 1)
    flow.dispose()
  })
})

describe('options are strict', () => {
  test('unknown options and bad values are a TypeError naming the option', () => {
    const getToken = (): string => 't'
    assert.throws(() => new AuthFlow({ getToken, refreshAhaed: 1 } as never), { name: 'TypeError', message: /options\.refreshAhaed/ })
    assert.throws(() => new AuthFlow({ getToken }, { floor: 1 } as never), { name: 'TypeError', message: /options\.floor/ })
    assert.throws(() => new AuthFlow({ getToken, refreshAhead: -1 }), { name: 'TypeError', message: /options\.refreshAhead/ })
    assert.throws(() => new AuthFlow({ getToken, minInterval: Number.NaN }), { name: 'TypeError', message: /options\.minInterval/ })
    assert.throws(() => new AuthFlow({} as never), { name: 'TypeError', message: /options\.getToken/ })
    assert.throws(() => new AuthFlow(null as never), { name: 'TypeError', message: /options\.getToken/ })
    assert.throws(() => new AuthFlow({ getToken }, null as never), { name: 'TypeError', message: /options must be an object/ })
    assert.throws(() => new AuthFlow({ generateAuthData: () => ({}) } as never), { name: 'TypeError', message: /handleAuthResponse/ })
  })

  test('a custom handler: asked at its own refreshAhead, or at the one given in options', async () => {
    const handler = { ...bearerAuthHandler({ getToken: () => `t${Date.now()}`, refreshAhead: 2_000 }) }
    const eager = { ...handler, needsReauthentication: () => true }
    for (const [flow, lead] of [[new AuthFlow(handler), 2_000], [new AuthFlow(eager, { refreshAhead: 3_000 }), 3_000]] as const) {
      const socket = new FakeSocket()
      const first = flow.authenticate(socket)
      await flush()
      socket.receive({ type: 'auth_ok', uid: 'alice', expiresAt: Math.floor(Date.now() / 1000) + 60 })
      await first
      const exp = (Math.floor(Date.now() / 1000) + 60) * 1000
      await advance(exp - lead - Date.now() - 100, 100)
      assert.equal(socket.sent.length, 1)
      await advance(200, 100)
      assert.equal(socket.sent.length, 2, `renewed ${lead} ms ahead`)
      flow.dispose()
    }
  })
})

describe('no unhandled rejection, no leftover, in any ordering', () => {
  type Step = 'close' | 'refuse' | 'dispose' | 'detach' | 'flowClose' | 'resolveToken' | 'rejectToken' | 'authOk' | 'authError' | 'reauth' | 'authenticate' | 'tick'
  const STEPS: Step[] = ['close', 'refuse', 'dispose', 'detach', 'flowClose', 'resolveToken', 'rejectToken', 'authOk', 'authError', 'reauth', 'authenticate', 'tick']

  test('every ordered triple of close/dispose/detach/token/answer steps while a renewal is under way', async () => {
    let runs = 0
    for (const a of STEPS) for (const b of STEPS) for (const c of STEPS) {
      const socket = new FakeSocket()
      let pending = deferred<string>()
      let calls = 0
      const flow = new AuthFlow({ getToken: () => { calls++; pending = deferred<string>(); return pending.promise }, refreshAhead: 1_000 })
      // Authenticated once, then the server asks for a renewal: getToken is under way.
      void flow.authenticate(socket)
      await flush()
      pending.resolve('first')
      await flush()
      socket.receive({ type: 'auth_ok', uid: 'alice', expiresAt: Math.floor(Date.now() / 1000) + 30 })
      socket.receive({ type: 'reauth_required', expiresAt: null })
      await advance(1_000, 250)
      for (const step of [a, b, c]) {
        switch (step) {
          case 'close': socket.serverClose(1006, ''); break
          case 'refuse': socket.receive({ type: 'auth_error', error: 'invalid_token' }); socket.serverClose(4401, 'invalid_token'); break
          case 'dispose': flow.dispose(); break
          case 'detach': flow.detach(); break
          case 'flowClose': flow.close(1000, 'done'); break
          case 'resolveToken': pending.resolve(`t${calls}`); break
          case 'rejectToken': pending.reject(new Error('token endpoint down')); break
          case 'authOk': socket.receive({ type: 'auth_ok', uid: 'alice', expiresAt: Math.floor(Date.now() / 1000) + 30 }); break
          case 'authError': socket.receive({ type: 'auth_error', error: 'provider_unavailable' }); break
          case 'reauth': socket.receive({ type: 'reauth_required', expiresAt: null }); break
          case 'authenticate': void flow.authenticate(); break
          case 'tick': await advance(1_500, 500); break
        }
        await flush()
      }
      await assertNoUnhandled()
      flow.dispose()
      pending.reject(new Error('late'))
      const before = calls
      const sent = socket.sent.length
      mock.timers.tick(3_600_000)
      await flush()
      assert.equal(socket.listenerCount, 0, `${a}, ${b}, ${c}: listeners left`)
      assert.equal(calls, before, `${a}, ${b}, ${c}: getToken after dispose`)
      assert.equal(socket.sent.length, sent, `${a}, ${b}, ${c}: sent after dispose`)
      await assertNoUnhandled()
      runs++
    }
    assert.equal(runs, STEPS.length ** 3)
  })

  test('authenticate() with no socket, after dispose, or on a socket that throws on send: rejected, never unhandled', async () => {
    const flow = new AuthFlow({ getToken: () => 't' })
    void flow.authenticate()
    await assert.rejects(flow.authenticate(), { reason: 'detached' })
    const socket = new FakeSocket()
    socket.sendThrows = true
    const events = record(flow)
    void flow.authenticate(socket)
    await assert.rejects(flow.authenticate(), { reason: 'send_failed' })
    assert.deepEqual(events.error.map((err) => err.reason), ['send_failed'])
    flow.dispose()
    void flow.authenticate(new FakeSocket())
    await assert.rejects(flow.authenticate(new FakeSocket()), { reason: 'detached' })
    assert.throws(() => flow.attach(new FakeSocket()), { reason: 'detached' })
    await assertNoUnhandled()
  })

  test('getToken that throws or rejects: a get_token_failed error, the cause kept', async () => {
    const socket = new FakeSocket()
    const cause = new Error('token endpoint down')
    const flow = new AuthFlow({ getToken: () => { throw cause } })
    const events = record(flow)
    void flow.authenticate(socket)
    await flush()
    assert.equal(events.error[0]?.reason, 'get_token_failed')
    assert.equal(events.error[0]?.cause, cause)
    assert.equal(socket.sent.length, 0)
    flow.dispose()
  })
})
