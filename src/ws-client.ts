// The client side of WebSocket authentication (after WebsockexNova's AuthHandler): send the token
// as the first message, answer `reauth_required`, renew ahead of exp, and tell the app why the
// server refused. For browsers, Node `ws` and any runtime with a standard WebSocket: it uses only
// addEventListener, MessageEvent data and timers, and imports nothing, so it bundles for a page.
// Renewal is bounded: one in flight, a floor between two, one proactive renewal per confirmed token.

/** The standard WebSocket surface the flow needs: a browser's WebSocket and `ws`'s have it. */
export interface ClientSocket {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
  removeEventListener(type: 'open', listener: () => void): void
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  removeEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
}

export interface AuthFlowState {
  authenticated: boolean
  uid?: string
  /** The token's exp (seconds since the epoch) as the server confirmed it; null if none. */
  expiresAt?: number | null
  /** The server asked for a fresh token. */
  reauthRequired: boolean
  /** The last `auth_error` the server sent. */
  lastError?: string
  /** When (ms, this runtime's clock) the server last confirmed a token: the start of its life here. */
  confirmedAt?: number
}

export interface AuthHandler {
  /** The message that authenticates: `{ type: 'auth', token }`. */
  generateAuthData(state: AuthFlowState): Promise<Record<string, unknown>> | Record<string, unknown>
  /** Folds a server control message (`auth_ok`, `reauth_required`, `auth_error`) into the state. */
  handleAuthResponse(message: Record<string, unknown>, state: AuthFlowState): AuthFlowState
  /** Whether a fresh token should be sent now (asked when the flow's renewal timer fires). */
  needsReauthentication(state: AuthFlowState, now?: number): boolean
}

export interface BearerAuthOptions {
  /** Returns a current access token (fetch a fresh one when the old one nears exp). */
  getToken: () => string | Promise<string>
  /** Renew this many ms before exp. Default 5,000. */
  refreshAhead?: number
}

export interface AuthFlowOptions {
  /** Renew this many ms before exp (at most a third of a token's life). Default 5,000. */
  refreshAhead?: number
  /** Least ms between the starts of two renewals on a socket. Default 1,000. */
  minInterval?: number
}

/** Why a socket was refused: the failure key and its description, as the server sent them. */
export interface Refusal {
  code: number
  error: string
  description: string
}

export interface AuthFlowEvents {
  /** The first `auth_ok` on the socket. */
  authenticated: { uid: string; expiresAt: number | null }
  /** Every later `auth_ok`. */
  renewed: { uid: string; expiresAt: number | null }
  /** same_token, get_token_failed, auth_error or send_failed; the socket may live on. */
  error: AuthFlowError
  /** The socket was closed for an authentication failure (4400, 4401, 4403, 1013 …). */
  refused: Refusal
  closed: { code: number; reason: string; refusal: Refusal | undefined }
}

export type AuthFlowErrorReason =
  | 'same_token' | 'get_token_failed' | 'auth_error' | 'send_failed' | 'refused' | 'closed' | 'detached'

export class AuthFlowError extends Error {
  override name = 'AuthFlowError'
  readonly reason: AuthFlowErrorReason
  /** The server's failure key (auth_error, refused). */
  readonly error: string | undefined
  readonly description: string | undefined
  /** The close code (refused, closed). */
  readonly code: number | undefined

  constructor(reason: AuthFlowErrorReason, message: string, extra: { error?: string; description?: string; code?: number; cause?: unknown } = {}) {
    super(message, { cause: extra.cause })
    this.reason = reason
    this.error = extra.error
    this.description = extra.description
    this.code = extra.code
  }
}

const OPEN = 1
const CONNECTING = 0
const REFUSAL_KEYS: Record<number, string> = { 4400: 'invalid_request', 4401: 'invalid_token', 4403: 'insufficient_scope', 1013: 'provider_unavailable' }
/** Our control messages, as the server writes them; anything else is the app's and never parsed here. */
const CONTROL = /^\{"type":"(?:auth_ok|auth_error|reauth_required)"/
const KEY_LIKE = /^[a-z][a-z0-9_]{0,63}$/
const noop = (): void => {}

/**
 * Reads a close event: the refusal it reports (code 4400-4499 or 1013), or undefined for any
 * other close. `error` is the failure key (the close reason when it is one, else the code's);
 * `description` the server's wording (of an `auth_error` with that key just before, if given).
 */
export function readRefusal(event: { code: number; reason?: string }, authError?: { error: string; description?: string | undefined }): Refusal | undefined {
  const { code } = event
  if (!(code in REFUSAL_KEYS) && !(code >= 4400 && code < 4500)) return undefined
  const reason = event.reason ?? ''
  const error = KEY_LIKE.test(reason) ? reason : REFUSAL_KEYS[code] ?? 'refused'
  const description = authError?.error === error ? authError.description : undefined
  return { code, error, description: description ?? (reason === error ? '' : reason) }
}

/**
 * When a confirmed token is renewed: `refreshAhead` before exp, but never before two thirds of
 * the life it had when confirmed, so a token shorter than `refreshAhead` is renewed once, not in
 * a loop. Undefined when nothing is known, or the token was dead on arrival by this clock.
 */
export function renewalTime(state: AuthFlowState, refreshAhead: number): number | undefined {
  if (!state.authenticated || typeof state.expiresAt !== 'number' || state.confirmedAt === undefined) return undefined
  const exp = state.expiresAt * 1000
  const life = exp - state.confirmedAt
  return life > 0 ? exp - Math.min(refreshAhead, life / 3) : undefined
}

function nonNegative(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`AuthFlow: ${path} must be a number >= 0 (ms)`)
  return value
}

function isHandler(value: unknown): value is AuthHandler {
  if (value === null || typeof value !== 'object' || !('generateAuthData' in value)) return false
  const names = ['generateAuthData', 'handleAuthResponse', 'needsReauthentication'] as const
  if (names.every((name) => typeof (value as AuthHandler)[name] === 'function')) return true
  throw new TypeError('AuthFlow: a handler needs generateAuthData, handleAuthResponse and needsReauthentication')
}

function checkKeys(options: object, known: readonly string[], path: string): void {
  for (const key of Object.keys(options)) if (!known.includes(key)) throw new TypeError(`AuthFlow: unknown option ${path}.${key}`)
}

/** The standard handler: `{"type":"auth","token"}` messages, renewed ahead of exp or on request. */
export function bearerAuthHandler(options: BearerAuthOptions): AuthHandler & { readonly refreshAhead: number } {
  if (options === null || typeof options !== 'object' || typeof options.getToken !== 'function') throw new TypeError('AuthFlow: options.getToken must be a function')
  checkKeys(options, ['getToken', 'refreshAhead'], 'options')
  const refreshAhead = nonNegative(options.refreshAhead, 'options.refreshAhead', 5_000)
  return {
    refreshAhead,
    async generateAuthData() {
      return { type: 'auth', token: await options.getToken() }
    },
    handleAuthResponse(message, state) {
      switch (message.type) {
        case 'auth_ok':
          return { authenticated: true, uid: String(message.uid), expiresAt: typeof message.expiresAt === 'number' ? message.expiresAt : null, reauthRequired: false }
        case 'reauth_required':
          return { ...state, reauthRequired: true }
        case 'auth_error':
          return { ...state, lastError: String(message.error) }
        default:
          return state
      }
    },
    needsReauthentication(state, now = Date.now()) {
      const at = renewalTime(state, refreshAhead)
      return state.reauthRequired || (at !== undefined && now >= at)
    },
  }
}

/** A timer that does not keep a Node process alive; browsers' timers have no unref. */
function later(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(fn, Math.max(0, ms))
  ;(timer as { unref?: () => void }).unref?.()
  return timer
}

interface Attempt {
  promise: Promise<AuthFlowState>
  resolve: (state: AuthFlowState) => void
  reject: (err: AuthFlowError) => void
  /** The auth message went out: the next auth_ok or auth_error answers it. */
  sent: boolean
  timer?: ReturnType<typeof setTimeout>
}

type Listener<K extends keyof AuthFlowEvents> = (event: AuthFlowEvents[K]) => void

export class AuthFlow {
  readonly #handler: AuthHandler
  readonly #refreshAhead: number
  readonly #minInterval: number
  readonly #listeners = new Map<keyof AuthFlowEvents, Set<Listener<never>>>()
  #state: AuthFlowState = { authenticated: false, reauthRequired: false }
  #socket: ClientSocket | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  /** The one authentication under way on this socket. */
  #attempt: Attempt | undefined
  #lastStart = -Infinity
  /** The last auth message sent on this socket: the same one again is never sent. */
  #lastSent: string | undefined
  /** The proactive renewal of the current confirmation has had its turn. */
  #aheadDone = false
  #authError: { error: string; description?: string } | undefined
  #disposed = false

  constructor(handler: AuthHandler | (BearerAuthOptions & AuthFlowOptions), options: AuthFlowOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('AuthFlow: options must be an object')
    checkKeys(options, ['refreshAhead', 'minInterval'], 'options')
    let minInterval = options.minInterval
    if (isHandler(handler)) {
      this.#handler = handler
    } else {
      const { minInterval: own, ...bearer } = handler ?? ({} as BearerAuthOptions & AuthFlowOptions)
      minInterval ??= own
      this.#handler = bearerAuthHandler(bearer)
    }
    this.#refreshAhead = nonNegative(options.refreshAhead ?? (this.#handler as { refreshAhead?: number }).refreshAhead, 'options.refreshAhead', 5_000)
    this.#minInterval = nonNegative(minInterval, 'options.minInterval', 1_000)
  }

  get state(): AuthFlowState {
    return this.#state
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof AuthFlowEvents>(type: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(type)
    if (set === undefined) this.#listeners.set(type, (set = new Set()))
    set.add(listener)
    return () => void set.delete(listener)
  }

  /** Follows a socket: answers `reauth_required`, renews ahead of exp, reports a refusal. */
  attach(socket: ClientSocket): void {
    if (this.#disposed) throw new AuthFlowError('detached', 'AuthFlow: disposed')
    this.detach()
    this.#socket = socket
    this.#state = { authenticated: false, reauthRequired: false }
    this.#lastStart = -Infinity
    this.#lastSent = undefined
    this.#authError = undefined
    socket.addEventListener('open', this.#onOpen)
    socket.addEventListener('message', this.#onMessage)
    socket.addEventListener('close', this.#onClose)
  }

  /** Stops following the socket (left open): timers and listeners removed, a pending authentication rejected. */
  detach(): void {
    this.#release(new AuthFlowError('detached', 'AuthFlow: detached before authentication completed'))
  }

  /** Detaches for good and forgets every listener. */
  dispose(): void {
    this.detach()
    this.#listeners.clear()
    this.#disposed = true
  }

  /** Disposes, then closes the socket. */
  close(code?: number, reason?: string): void {
    const socket = this.#socket
    this.dispose()
    socket?.close(code, reason)
  }

  /**
   * Sends the auth message (attaching first if a socket is given; after `open` if it is still
   * connecting); resolves on `auth_ok`, rejects with an AuthFlowError. One at a time: a call
   * while one is under way shares it. A rejection left unhandled by the caller is harmless.
   */
  authenticate(socket?: ClientSocket): Promise<AuthFlowState> {
    try {
      if (socket !== undefined && socket !== this.#socket) this.attach(socket)
    } catch (err) {
      return handled(Promise.reject(err as Error))
    }
    if (this.#attempt !== undefined) return this.#attempt.promise
    if (this.#socket === undefined) return handled(Promise.reject(new AuthFlowError('detached', 'AuthFlow: no socket to authenticate')))
    clearTimeout(this.#timer)
    let resolve!: Attempt['resolve']
    let reject!: Attempt['reject']
    const promise = handled(new Promise<AuthFlowState>((yes, no) => { resolve = yes; reject = no }))
    const attempt: Attempt = { promise, resolve, reject, sent: false }
    this.#attempt = attempt
    const wait = this.#lastStart + this.#minInterval - Date.now()
    if (wait > 0) attempt.timer = later(() => { attempt.timer = undefined; void this.#send(attempt) }, wait)
    else void this.#send(attempt)
    return promise
  }

  async #send(attempt: Attempt): Promise<void> {
    const socket = this.#socket
    // Still connecting: #onOpen sends it.
    if (socket === undefined || socket.readyState === CONNECTING || attempt !== this.#attempt) return
    this.#lastStart = Date.now()
    this.#state = { ...this.#state, reauthRequired: false }
    let message: string
    try {
      message = JSON.stringify(await this.#handler.generateAuthData(this.#state))
    } catch (err) {
      this.#fail(attempt, new AuthFlowError('get_token_failed', 'AuthFlow: getToken failed', { cause: err }))
      return
    }
    // Closed, detached or disposed while the token was fetched: that already settled the attempt.
    if (attempt !== this.#attempt || socket.readyState !== OPEN) return
    if (message === this.#lastSent) {
      this.#fail(attempt, new AuthFlowError('same_token', 'AuthFlow: getToken returned the token already sent; not sent again'))
      return
    }
    try {
      socket.send(message)
    } catch (err) {
      this.#fail(attempt, new AuthFlowError('send_failed', 'AuthFlow: the auth message could not be sent', { cause: err }))
      return
    }
    this.#lastSent = message
    attempt.sent = true
  }

  readonly #onOpen = (): void => {
    if (this.#attempt !== undefined && this.#attempt.timer === undefined) void this.#send(this.#attempt)
  }

  readonly #onMessage = (event: { data: unknown }): void => {
    const { data } = event
    const socket = this.#socket
    if (typeof data === 'string') this.#onText(data)
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) this.#onText(new TextDecoder().decode(data as Uint8Array))
    else if (typeof Blob === 'function' && data instanceof Blob) {
      data.text().then((text) => { if (this.#socket === socket) this.#onText(text) }, noop)
    }
  }

  #onText(text: string): void {
    if (!CONTROL.test(text)) return
    let message: Record<string, unknown>
    try {
      message = JSON.parse(text) as Record<string, unknown>
    } catch {
      return
    }
    const first = !this.#state.authenticated
    this.#state = this.#handler.handleAuthResponse(message, this.#state)
    const attempt = this.#attempt?.sent === true ? this.#attempt : undefined
    if (message.type === 'auth_ok') {
      this.#state = { ...this.#state, confirmedAt: Date.now() }
      this.#aheadDone = false
      this.#authError = undefined
      if (attempt !== undefined) {
        this.#attempt = undefined
        attempt.resolve(this.#state)
      }
      this.#emit(first ? 'authenticated' : 'renewed', { uid: String(message.uid), expiresAt: this.#state.expiresAt ?? null })
    } else if (message.type === 'auth_error') {
      const error = String(message.error)
      const description = typeof message.error_description === 'string' ? message.error_description : undefined
      this.#authError = { error, description }
      const failure = new AuthFlowError('auth_error', `AuthFlow: the server refused the token (${error})`, { error, description })
      if (attempt !== undefined) this.#fail(attempt, failure)
      else this.#emit('error', failure)
    }
    this.#plan()
  }

  readonly #onClose = (event: { code: number; reason: string }): void => {
    const refusal = readRefusal(event, this.#authError)
    this.#release(new AuthFlowError(refusal ? 'refused' : 'closed', `AuthFlow: the socket closed (${event.code})`, { ...refusal, code: event.code }))
    if (refusal !== undefined) this.#emit('refused', refusal)
    this.#emit('closed', { code: event.code, reason: event.reason, refusal })
  }

  #fail(attempt: Attempt, err: AuthFlowError): void {
    if (attempt !== this.#attempt) return
    this.#attempt = undefined
    attempt.reject(err)
    this.#emit('error', err)
    this.#plan()
  }

  #release(err: AuthFlowError): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const socket = this.#socket
    if (socket !== undefined) {
      socket.removeEventListener('open', this.#onOpen)
      socket.removeEventListener('message', this.#onMessage)
      socket.removeEventListener('close', this.#onClose)
    }
    this.#socket = undefined
    const attempt = this.#attempt
    this.#attempt = undefined
    if (attempt !== undefined) {
      clearTimeout(attempt.timer)
      attempt.reject(err)
    }
  }

  /** Arms the one renewal timer: now for `reauth_required`, else once per confirmed token; never before the floor. */
  #plan(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#attempt !== undefined || this.#socket?.readyState !== OPEN) return
    const due = this.#state.reauthRequired ? Date.now() : this.#aheadDone ? undefined : renewalTime(this.#state, this.#refreshAhead)
    if (due === undefined) return
    this.#timer = later(() => {
      this.#timer = undefined
      this.#aheadDone = true
      if (this.#handler.needsReauthentication(this.#state, Date.now())) void this.authenticate()
    }, Math.max(due, this.#lastStart + this.#minInterval) - Date.now())
  }

  #emit<K extends keyof AuthFlowEvents>(type: K, event: AuthFlowEvents[K]): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        (listener as Listener<K>)(event)
      } catch (err) {
        // As EventTarget does: a listener's bug is reported, and the flow goes on.
        queueMicrotask(() => { throw err })
      }
    }
  }
}

/** The flow's promises never become unhandled rejections; a caller that awaits still sees the error. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop)
  return promise
}
