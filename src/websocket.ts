// The life of an authenticated WebSocket after the upgrade: first-message authentication, expiry
// (close, or ask for a fresh token and wait a grace period), re-authentication with a token of the
// same uid, and closing on revocation. One DeadlineQueue serves every socket's timers. Works on
// `ws` sockets (as @fastify/websocket hands them out) without importing `ws`.
import type { Auth, AuthFailure } from './auth.js'
import { failureKey, isAuthFailure } from './auth.js'
import type { AccessRule } from './access-rule.js'
import type { Facts } from './binding.js'
import { INTEGER_OPTIONS, OTHER_DEFAULTS } from './defaults.js'
import type { Logger } from './provider.js'
import { DeadlineQueue, type Deadline } from './schedule.js'

/** What the library needs of a socket: the `ws` WebSocket has it. */
export interface AuthSocket {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  emit(event: string | symbol, ...args: unknown[]): boolean
  once(event: 'close', listener: () => void): unknown
  /** The socket's current Auth (set by this library). */
  auth?: Auth | null
  /** Resolves with the Auth once the socket is authenticated, or null if it closes first. */
  authenticated?: Promise<Auth | null>
}

/** A WebSocket route's rule: what its tokens must meet (scopes, claims, check), and the socket's life. */
export interface SocketRule extends AccessRule {
  /** Authenticate with the first message instead of at the upgrade. */
  readonly firstMessage: boolean
  /** ms to wait for the first message's token. */
  readonly authTimeout: number
  /** At the token's exp: close with 4401, or send reauth_required and wait `reauthGrace` ms. */
  readonly onExpire: 'close' | 'reauth'
  readonly reauthGrace: number
}

export const SOCKET_DEFAULTS = Object.freeze({
  authTimeout: INTEGER_OPTIONS['config.auth.authTimeout'].default,
  onExpire: OTHER_DEFAULTS['config.auth.onExpire'],
  reauthGrace: INTEGER_OPTIONS['config.auth.reauthGrace'].default,
})

export interface SessionHooks {
  /** Runs a token from a message through the engine: every rule, with what the socket's connection can prove. */
  verify(token: string, facts: Facts, rule: SocketRule): Auth | AuthFailure | Promise<Auth | AuthFailure>
  /** The cache key of a token (how revocation events name it). */
  keyOf(token: string): string
  log: Logger
  /** Keep each socket's token (background re-validation is on: it re-checks them). Default false. */
  holdTokens?: boolean
}

const OPEN = 1
/** Messages held while a token is being checked or renewed; more are dropped. */
const MAX_HELD = 64
/** Largest message looked at as a possible `{"type":"auth"}`. */
const MAX_AUTH_MESSAGE = 16 * 1024
const AUTH_MARKER = Buffer.from('"auth"')

interface Session {
  socket: AuthSocket
  rule: SocketRule
  /** What the connection can prove for tokens sent in messages (its TLS certificate; never a DPoP proof). */
  facts: Facts
  auth: Auth | null
  key: string | undefined
  /** The token the socket authenticated with, held only for background re-validation. */
  token: string | undefined
  state: 'awaiting' | 'open' | 'reauth'
  deadline: Deadline | undefined
  held: unknown[][]
  checking: boolean
  resolve: (auth: Auth | null) => void
  deliver: (event: string | symbol, ...args: unknown[]) => boolean
}

/** WebSocket close codes: 4000 + the HTTP status, as is customary; 1013 "try again later" for outages. */
export function closeCode(failure: AuthFailure): number {
  return failure.status === 503 ? 1013 : 4000 + failure.status
}

function asBuffer(data: unknown): Buffer | undefined {
  if (Buffer.isBuffer(data)) return data
  if (typeof data === 'string') return Buffer.from(data)
  if (Array.isArray(data) && data.every((part) => Buffer.isBuffer(part))) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return Buffer.from(data)
  return undefined
}

/** The token of a `{"type":"auth","token":"…"}` message, or undefined for any other message. */
export function authMessageToken(data: unknown, isBinary: unknown): string | undefined {
  if (isBinary === true) return undefined
  const bytes = asBuffer(data)
  if (bytes === undefined || bytes.length > MAX_AUTH_MESSAGE || !bytes.includes(AUTH_MARKER)) return undefined
  try {
    const message = JSON.parse(bytes.toString('utf8')) as { type?: unknown; token?: unknown }
    return message?.type === 'auth' && typeof message.token === 'string' ? message.token : undefined
  } catch {
    return undefined
  }
}

export class SocketSessions {
  readonly #hooks: SessionHooks
  readonly #queue = new DeadlineQueue()
  readonly #byKey = new Map<string, Set<Session>>()
  #count = 0

  constructor(hooks: SessionHooks) {
    this.#hooks = hooks
  }

  /** Open sockets under this plugin's care. */
  get size(): number {
    return this.#count
  }

  /** Timers armed for all of them: at most one. */
  get timers(): number {
    return this.#queue.armed ? 1 : 0
  }

  /** Takes a socket just opened: authenticated at the upgrade (`auth`), or to be authenticated by its first message. */
  attach(socket: AuthSocket, rule: SocketRule, facts: Facts, auth: Auth | null, key: string | undefined, token?: string): void {
    let resolve!: (auth: Auth | null) => void
    socket.authenticated = new Promise((done) => { resolve = done })
    const deliver = socket.emit.bind(socket)
    const session: Session = { socket, rule, facts, auth: null, key: undefined, token: undefined, state: 'awaiting', deadline: undefined, held: [], checking: false, resolve, deliver }
    socket.auth = null
    this.#count++
    // Messages pass through here first: auth messages are ours, others wait for authentication.
    socket.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      if (event !== 'message') return deliver(event, ...args)
      const token = authMessageToken(args[0], args[1])
      if (token !== undefined) {
        this.#onAuthMessage(session, token).catch((err: unknown) => {
          this.#hooks.log.error({ tokenAuth: { err: (err as Error)?.message } }, 'socket authentication failed unexpectedly')
          this.#close(session, 1011, 'internal error')
        })
        return true
      }
      if (session.state === 'open') return deliver(event, ...args)
      // Before authentication, only what follows an auth message is kept; earlier messages are dropped.
      if ((session.checking || session.state === 'reauth') && session.held.length < MAX_HELD) session.held.push(args)
      return true
    }
    socket.once('close', () => this.#forget(session))
    if (auth !== null) this.#authenticated(session, auth, key, false, token)
    else session.deadline = this.#queue.schedule(Date.now() + rule.authTimeout, () => this.#close(session, 4401, 'authentication timeout'))
  }

  /** Closes every socket opened with the token that has this cache key. */
  revoke(key: string): number {
    const sessions = this.#byKey.get(key)
    if (sessions === undefined) return 0
    for (const session of [...sessions]) this.#close(session, 4401, 'token revoked')
    return sessions.size
  }

  /** Closes every socket of a uid whose token was issued until `atSeconds` (a revocation of those tokens). */
  revokeUid(uid: string, atSeconds = Infinity): number {
    let closed = 0
    for (const sessions of this.#byKey.values()) {
      for (const session of [...sessions]) {
        const issuedAt = session.auth?.credentials.other.iat
        if (session.auth?.uid === uid && !(typeof issuedAt === 'number' && issuedAt > atSeconds)) {
          this.#close(session, 4401, 'token revoked')
          closed++
        }
      }
    }
    return closed
  }

  close(): void {
    this.#queue.clear()
  }

  /** The tokens open sockets hold (only with holdTokens), for background re-validation. */
  *heldTokens(): Iterable<{ key: string; token: string; uid: string }> {
    for (const [key, sessions] of this.#byKey) {
      for (const session of sessions) {
        if (session.token !== undefined && session.auth !== null) {
          yield { key, token: session.token, uid: session.auth.uid }
          break
        }
      }
    }
  }

  #index(session: Session, key: string | undefined): void {
    if (session.key !== undefined) this.#byKey.get(session.key)?.delete(session)
    session.key = key
    if (key === undefined) return
    let sessions = this.#byKey.get(key)
    if (sessions === undefined) this.#byKey.set(key, (sessions = new Set()))
    sessions.add(session)
  }

  #forget(session: Session): void {
    if (session.deadline !== undefined) session.deadline.cancelled = true
    if (session.key !== undefined) {
      const sessions = this.#byKey.get(session.key)
      sessions?.delete(session)
      if (sessions?.size === 0) this.#byKey.delete(session.key)
    }
    this.#count--
    session.resolve(null)
  }

  #close(session: Session, code: number, reason: string): void {
    if (session.socket.readyState === OPEN) session.socket.close(code, reason)
  }

  #send(session: Session, message: Record<string, unknown>): void {
    if (session.socket.readyState === OPEN) session.socket.send(JSON.stringify(message))
  }

  async #onAuthMessage(session: Session, token: string): Promise<void> {
    if (session.checking) return
    session.checking = true
    let result: Auth | AuthFailure
    try {
      result = await this.#hooks.verify(token, session.facts, session.rule)
    } finally {
      session.checking = false
    }
    if (session.socket.readyState !== OPEN) return
    if (isAuthFailure(result)) {
      const key = failureKey(result)
      // A renewal during an outage can wait for the grace; anything else ends the socket.
      if (key === 'provider_unavailable' && session.state !== 'awaiting') {
        this.#send(session, { type: 'auth_error', error: key, error_description: result.errors[0]?.message })
        return
      }
      this.#close(session, closeCode(result), key)
      return
    }
    // The same person: one uid from one provider (with several issuers, `alice` of one is not `alice` of another).
    if (session.auth !== null && (result.uid !== session.auth.uid || result.provider !== session.auth.provider)) {
      this.#close(session, 4403, 'uid mismatch')
      return
    }
    this.#authenticated(session, result, this.#hooks.keyOf(token), true, token)
  }

  #authenticated(session: Session, auth: Auth, key: string | undefined, announce: boolean, token: string | undefined): void {
    if (this.#hooks.holdTokens === true) session.token = token
    if (session.deadline !== undefined) session.deadline.cancelled = true
    session.deadline = undefined
    const first = session.auth === null
    session.auth = auth
    session.socket.auth = auth
    session.state = 'open'
    this.#index(session, key)
    const expiresAt = auth.credentials.expiresAt
    if (expiresAt !== undefined) session.deadline = this.#queue.schedule(expiresAt * 1000, () => this.#expired(session))
    if (announce) this.#send(session, { type: 'auth_ok', uid: auth.uid, expiresAt: expiresAt ?? null })
    if (first) session.resolve(auth)
    const held = session.held
    session.held = []
    for (const args of held) session.deliver('message', ...args)
  }

  #expired(session: Session): void {
    session.deadline = undefined
    if (session.rule.onExpire === 'close') {
      this.#close(session, 4401, 'token expired')
      return
    }
    session.state = 'reauth'
    this.#send(session, { type: 'reauth_required', expiresAt: session.auth?.credentials.expiresAt ?? null })
    session.deadline = this.#queue.schedule(Date.now() + session.rule.reauthGrace, () => this.#close(session, 4401, 'token expired'))
  }
}
