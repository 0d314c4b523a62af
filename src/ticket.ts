// Connection tickets (after Phoenix.Token) for browsers, which cannot set headers on a WebSocket:
// a short-lived, single-use string minted from an authenticated HTTP request and passed as
// `?ticket=`, so the long-lived access token never appears in a URL. HMAC-SHA256 over the
// payload; a list of secrets for rotation (the first signs, all verify); timing-safe compare.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Auth } from './auth.js'

export type TicketSecret = string | Buffer

export interface TicketPayload {
  /** Format version. */
  v: 1
  /** Unique id: a ticket is accepted once. */
  jti: string
  uid: string
  /** Provider name. */
  prv: string
  /** Scopes of the token that minted it. */
  scp: string[]
  /** The minting token's exp (seconds), if it has one: sockets opened with the ticket end there too. */
  tex?: number
  /** The ticket's own expiry (ms since the epoch). */
  exp: number
  /** The minting token's cache key (a SHA-256, not the token): revocation of the token reaches the socket. */
  key: string
}

export const TICKET_DEFAULT_TTL = 30_000
const MIN_SECRET_BYTES = 32
const MAX_TICKET_LENGTH = 4096

export function normalizeSecrets(value: TicketSecret | TicketSecret[], path: string): Buffer[] {
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) throw new TypeError(`${path} must hold at least one secret`)
  return list.map((secret, i) => {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret
    if (!Buffer.isBuffer(bytes) || bytes.length < MIN_SECRET_BYTES) {
      throw new TypeError(`${path}${Array.isArray(value) ? `[${i}]` : ''} must be at least ${MIN_SECRET_BYTES} bytes`)
    }
    return bytes
  })
}

const mac = (secret: Buffer, data: string): Buffer => createHmac('sha256', secret).update(data).digest()

export type TicketCheck = { ok: true; payload: TicketPayload } | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'replayed' }

export class Tickets {
  readonly #secrets: Buffer[]
  /** Ids of tickets already used, kept until they would have expired anyway. */
  readonly #used = new LRUCache<string, true>({ max: 100_000, ttl: 10 * 60_000, ttlAutopurge: false })

  constructor(secrets: TicketSecret | TicketSecret[], path = 'ticketSecret') {
    this.#secrets = normalizeSecrets(secrets, path)
  }

  /** Mints a ticket for `auth`, valid for `ttl` ms (default 30 s) and never past the token's exp. */
  issue(auth: Auth, key: string, ttl = TICKET_DEFAULT_TTL): string {
    if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > 10 * 60_000) throw new TypeError('ticket ttl must be an integer from 1 to 600,000 ms')
    const tokenExp = auth.credentials.expiresAt
    const exp = Math.min(Date.now() + ttl, tokenExp === undefined ? Infinity : tokenExp * 1000)
    const payload: TicketPayload = {
      v: 1, jti: randomBytes(16).toString('base64url'), uid: auth.uid, prv: auth.provider,
      scp: [...auth.credentials.scopes], exp, key,
    }
    if (tokenExp !== undefined) payload.tex = tokenExp
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
    return `${body}.${mac(this.#secrets[0]!, body).toString('base64url')}`
  }

  /** Checks a ticket and spends it: a second use of the same ticket is 'replayed'. */
  verify(ticket: string, now = Date.now()): TicketCheck {
    if (typeof ticket !== 'string' || ticket.length > MAX_TICKET_LENGTH) return { ok: false, reason: 'malformed' }
    const dot = ticket.indexOf('.')
    if (dot <= 0 || dot !== ticket.lastIndexOf('.')) return { ok: false, reason: 'malformed' }
    const body = ticket.slice(0, dot)
    const given = Buffer.from(ticket.slice(dot + 1), 'base64url')
    // Every secret is tried, so the time taken does not say which one matched.
    let valid = false
    for (const secret of this.#secrets) {
      const expected = mac(secret, body)
      if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true
    }
    if (!valid) return { ok: false, reason: 'signature' }
    let payload: TicketPayload
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TicketPayload
    } catch {
      return { ok: false, reason: 'malformed' }
    }
    if (payload?.v !== 1 || typeof payload.jti !== 'string' || typeof payload.uid !== 'string' || typeof payload.exp !== 'number') {
      return { ok: false, reason: 'malformed' }
    }
    if (payload.exp <= now || (payload.tex !== undefined && payload.tex * 1000 <= now)) return { ok: false, reason: 'expired' }
    if (this.#used.has(payload.jti)) return { ok: false, reason: 'replayed' }
    this.#used.set(payload.jti, true, { ttl: Math.max(1, Math.ceil(payload.exp - now)) })
    return { ok: true, payload }
  }
}

/** The Auth a ticket stands for: the minting token's identity and scopes, without the token. */
export function authFromTicket(payload: TicketPayload): Auth {
  const credentials: Auth['credentials'] = { token: '', tokenType: 'ticket', expires: payload.tex !== undefined, scopes: payload.scp, other: {} }
  if (payload.tex !== undefined) credentials.expiresAt = payload.tex
  return { uid: payload.uid, provider: payload.prv, strategy: 'ticket', credentials, info: {}, extra: { rawInfo: {} } }
}
