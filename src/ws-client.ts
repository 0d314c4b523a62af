// The client side of WebSocket authentication, for Node `ws` clients (after WebsockexNova's
// AuthHandler): send the token as the first message, answer `reauth_required`, and renew the token
// ahead of its exp so that the socket lives on. Imports neither Fastify nor `ws`.

/** What the flow needs of a socket: a `ws` WebSocket has it. */
export interface ClientSocket {
  readonly readyState: number
  send(data: string): void
  on(event: 'message', listener: (data: unknown) => void): unknown
  on(event: 'close', listener: () => void): unknown
  off(event: 'message', listener: (data: unknown) => void): unknown
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
}

export interface AuthHandler {
  /** The message that authenticates: `{ type: 'auth', token }`. */
  generateAuthData(state: AuthFlowState): Promise<Record<string, unknown>> | Record<string, unknown>
  /** Folds a server control message (`auth_ok`, `reauth_required`, `auth_error`) into the state. */
  handleAuthResponse(message: Record<string, unknown>, state: AuthFlowState): AuthFlowState
  /** Whether a fresh token should be sent now. */
  needsReauthentication(state: AuthFlowState, now?: number): boolean
}

export interface BearerAuthOptions {
  /** Returns a current access token (fetch a fresh one when the old one nears exp). */
  getToken: () => string | Promise<string>
  /** Renew this many ms before exp. Default 5,000. */
  refreshAhead?: number
}

const CONTROL_TYPES = new Set(['auth_ok', 'reauth_required', 'auth_error'])

/** The standard handler: `{"type":"auth","token"}` messages, renewed ahead of exp or on request. */
export function bearerAuthHandler(options: BearerAuthOptions): AuthHandler & { readonly refreshAhead: number } {
  const refreshAhead = options.refreshAhead ?? 5_000
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
      if (state.reauthRequired) return true
      return state.authenticated && typeof state.expiresAt === 'number' && state.expiresAt * 1000 - refreshAhead <= now
    },
  }
}

function parseControl(data: unknown): Record<string, unknown> | undefined {
  const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : undefined
  if (text === undefined || !text.includes('"type"')) return undefined
  try {
    const message = JSON.parse(text) as Record<string, unknown>
    return CONTROL_TYPES.has(String(message?.type)) ? message : undefined
  } catch {
    return undefined
  }
}

export class AuthFlow {
  state: AuthFlowState = { authenticated: false, reauthRequired: false }
  readonly #handler: AuthHandler
  readonly #refreshAhead: number
  #socket: ClientSocket | undefined
  #timer: NodeJS.Timeout | undefined
  #waiters: Array<{ resolve: (state: AuthFlowState) => void; reject: (err: Error) => void }> = []
  /** The authentication under way: the exp timer and `reauth_required` often fire together. */
  #pending: Promise<AuthFlowState> | undefined
  readonly #onMessage = (data: unknown): void => {
    const message = parseControl(data)
    if (message === undefined) return
    this.state = this.#handler.handleAuthResponse(message, this.state)
    if (message.type === 'auth_ok') this.#settle(undefined)
    if (message.type === 'auth_error') this.#settle(new Error(`authentication failed: ${String(message.error)}`))
    if (message.type === 'reauth_required') void this.checkReauthentication()
    this.#schedule()
  }

  constructor(handler: AuthHandler | BearerAuthOptions) {
    this.#handler = 'generateAuthData' in handler ? handler : bearerAuthHandler(handler)
    this.#refreshAhead = (this.#handler as { refreshAhead?: number }).refreshAhead ?? 5_000
  }

  #settle(err: Error | undefined): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) {
      if (err === undefined) waiter.resolve(this.state)
      else waiter.reject(err)
    }
  }

  /** Renews the token shortly before exp, with one timer. */
  #schedule(): void {
    clearTimeout(this.#timer)
    const expiresAt = this.state.expiresAt
    if (!this.state.authenticated || typeof expiresAt !== 'number') return
    this.#timer = setTimeout(() => void this.checkReauthentication(), Math.max(0, expiresAt * 1000 - this.#refreshAhead - Date.now()))
    this.#timer.unref()
  }

  /** Follows a socket: answers `reauth_required` and renews ahead of exp. */
  attach(socket: ClientSocket): void {
    this.detach()
    this.#socket = socket
    socket.on('message', this.#onMessage)
    socket.on('close', () => {
      clearTimeout(this.#timer)
      this.#settle(new Error('the socket closed before authentication completed'))
    })
  }

  detach(): void {
    clearTimeout(this.#timer)
    this.#socket?.off('message', this.#onMessage)
    this.#socket = undefined
  }

  /** Sends the auth message (attaching first if needed); resolves on `auth_ok`, rejects on `auth_error` or close. */
  authenticate(socket?: ClientSocket): Promise<AuthFlowState> {
    if (socket !== undefined && socket !== this.#socket) this.attach(socket)
    const target = this.#socket
    if (target === undefined) return Promise.reject(new Error('AuthFlow: no socket to authenticate'))
    this.#pending ??= (async () => {
      const confirmed = new Promise<AuthFlowState>((resolve, reject) => this.#waiters.push({ resolve, reject }))
      target.send(JSON.stringify(await this.#handler.generateAuthData(this.state)))
      return confirmed
    })().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  /** Re-authenticates when the handler says so (ahead of exp, or after `reauth_required`). Returns whether it did. */
  async checkReauthentication(): Promise<boolean> {
    if (this.#pending !== undefined || this.#socket === undefined || this.#socket.readyState !== 1) return false
    if (!this.#handler.needsReauthentication(this.state)) return false
    await this.authenticate()
    return true
  }
}
