// For unit tests of the ws-client's logic on virtual time: a socket with the standard WebSocket
// surface (addEventListener, MessageEvent-like data, close events) and a stand-in for the server's
// side of src/websocket.ts (auth_ok with the token's exp, reauth_required or close at exp). Tests
// of the real thing use `ws` against a real server (ws-client-ws.test.ts) and a browser.
import type { ClientSocket } from '../../src/ws-client.js'

type Listener = (event: never) => void

export class FakeSocket implements ClientSocket {
  readyState: number
  /** The auth messages the client sent, parsed. */
  readonly sent: Array<Record<string, unknown>> = []
  /** What the server does with each message sent. */
  onSend: ((message: Record<string, unknown>) => void) | undefined
  /** Make send() throw (a socket that died between two checks). */
  sendThrows = false
  readonly #listeners = new Map<string, Set<Listener>>()

  constructor(readyState = 1) {
    this.readyState = readyState
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.#listeners.get(type)
    if (set === undefined) this.#listeners.set(type, (set = new Set()))
    set.add(listener)
  }

  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener)
  }

  /** Listeners still registered, of every type. */
  get listenerCount(): number {
    let count = 0
    for (const set of this.#listeners.values()) count += set.size
    return count
  }

  send(data: string): void {
    if (this.readyState !== 1 || this.sendThrows) throw new Error('InvalidStateError: the socket is not open')
    const message = JSON.parse(data) as Record<string, unknown>
    this.sent.push(message)
    this.onSend?.(message)
  }

  /** As in a browser: closing, then the close event a moment later. */
  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return
    this.readyState = 2
    queueMicrotask(() => this.serverClose(code, reason))
  }

  // The other end.
  open(): void {
    this.readyState = 1
    this.#dispatch('open', { type: 'open' })
  }

  /** A message from the server: an object is sent as JSON text, anything else as it is. */
  receive(data: unknown): void {
    const isPlain = data !== null && typeof data === 'object' && Object.getPrototypeOf(data) === Object.prototype
    this.#dispatch('message', { type: 'message', data: isPlain ? JSON.stringify(data) : data })
  }

  serverClose(code: number, reason: string): void {
    if (this.readyState === 3) return
    this.readyState = 3
    this.#dispatch('close', { type: 'close', code, reason, wasClean: code !== 1006 })
  }

  #dispatch(type: string, event: unknown): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) (listener as (event: unknown) => void)(event)
  }
}

export interface TokenTable {
  /** token → uid and exp (seconds), as an identity provider would have issued them. */
  tokens: Map<string, { uid: string; exp: number }>
  /** When (virtual ms) each token was asked for. */
  issued: number[]
  getToken: () => string
}

/** Mints a fresh token that lives `lifeS` whole seconds (exp = now rounded down + lifeS), like the test provider's. */
export function tokenTable(lifeS: number, uid = 'alice'): TokenTable {
  const tokens = new Map<string, { uid: string; exp: number }>()
  const issued: number[] = []
  return {
    tokens,
    issued,
    getToken() {
      issued.push(Date.now())
      const token = `token-${issued.length}`
      tokens.set(token, { uid, exp: Math.floor(Date.now() / 1000) + lifeS })
      return token
    },
  }
}

export interface FakeServer {
  reauthRequired: number
  authOk: number
}

/**
 * The server's side, as src/websocket.ts behaves: an auth message is answered after `latency`
 * ms with auth_ok (or a close with 4401 for an unknown or expired token); at the token's exp the
 * socket is closed with 4401 'token expired' (onExpire 'close') or sent reauth_required and
 * closed after `grace` (onExpire 'reauth').
 */
export function fakeServer(socket: FakeSocket, tokens: TokenTable['tokens'], options: { onExpire: 'close' | 'reauth'; grace?: number; latency?: number }): FakeServer {
  const stats: FakeServer = { reauthRequired: 0, authOk: 0 }
  let deadline: ReturnType<typeof setTimeout> | undefined
  const expired = (exp: number): void => {
    if (options.onExpire === 'close') return socket.serverClose(4401, 'token expired')
    stats.reauthRequired++
    socket.receive({ type: 'reauth_required', expiresAt: exp })
    deadline = setTimeout(() => queueMicrotask(() => socket.serverClose(4401, 'token expired')), options.grace ?? 10_000)
  }
  socket.onSend = (message) => {
    if (message.type !== 'auth') return
    // Answered from a microtask: mock.timers runs due timers back to back, a real event loop
    // runs the promise jobs of one callback before the next timer.
    setTimeout(() => queueMicrotask(() => {
      if (socket.readyState !== 1) return
      const entry = tokens.get(String(message.token))
      if (entry === undefined || entry.exp * 1000 <= Date.now()) return socket.serverClose(4401, 'invalid_token')
      clearTimeout(deadline)
      stats.authOk++
      socket.receive({ type: 'auth_ok', uid: entry.uid, expiresAt: entry.exp })
      // timing-ok: the stand-in server's expiry, on the tests' mock.timers (virtual time).
      deadline = setTimeout(() => queueMicrotask(() => expired(entry.exp)), entry.exp * 1000 - Date.now())
    }), options.latency ?? 5)
  }
  return stats
}
