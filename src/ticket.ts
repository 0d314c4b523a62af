// Connection tickets (after Phoenix.Token) for browsers, which cannot set headers on a WebSocket:
// a short-lived, single-use string minted from an authenticated HTTP request and passed as
// `?ticket=`, so the long-lived access token never appears in a URL. HMAC-SHA256 over the
// payload; a list of secrets for rotation (the first signs, all verify); timing-safe compare.
// A ticket is bound to the registration (namespace) and the route it was minted for, and carries
// what the engine needs to hold it to the token's rules: its key and uid (revocation), its scopes,
// its exp, and its certificate binding. Spending it once is the engine's job (fleet-wide).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { credentialsWith, type Auth, type Credentials } from './auth.js'
import { SpentIds } from './denials.js'
import { secretBytes, type StoreSecret } from './store.js'

export type TicketSecret = StoreSecret

export interface TicketPayload {
  /** Format version. */
  v: 2
  /** Unique id: a ticket is accepted once. */
  jti: string
  /** The namespace of the registration that minted it: another registration refuses it. */
  ns: string
  /** The route (URL pattern) it opens, e.g. `/stream`. */
  rt: string
  uid: string
  /** Provider name. */
  prv: string
  /** Scopes of the token that minted it. */
  scp: string[]
  /** The minting token's `iat` (seconds), if it has one: a revocation of its uid reaches the ticket. */
  iat?: number
  /** The minting token's exp (seconds), if it has one: sockets opened with the ticket end there too. */
  tex?: number
  /** The ticket's own expiry (ms since the epoch). */
  exp: number
  /** The minting token's cache key (a SHA-256, not the token): revocation of the token reaches the ticket and its socket. */
  key: string
  /** The minting token's certificate binding (RFC 8705): the upgrade must come with that certificate. */
  x5t?: string
}

const MAX_TICKET_LENGTH = 4096

const mac = (secret: Buffer, data: string): Buffer => createHmac('sha256', secret).update(data).digest()

export type TicketReason = 'malformed' | 'signature' | 'expired' | 'replayed'
export type TicketCheck = { ok: true; payload: TicketPayload } | { ok: false; reason: TicketReason }

const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)

function isPayload(value: unknown): value is TicketPayload {
  const payload = value as Partial<TicketPayload> | null
  return payload !== null && typeof payload === 'object' && payload.v === 2 && isText(payload.jti) && typeof payload.ns === 'string' &&
    isText(payload.rt) && isText(payload.uid) && isText(payload.prv) && isTime(payload.exp) && typeof payload.key === 'string' &&
    Array.isArray(payload.scp) && payload.scp.every((scope) => typeof scope === 'string') &&
    (payload.iat === undefined || isTime(payload.iat)) && (payload.tex === undefined || isTime(payload.tex)) &&
    (payload.x5t === undefined || isText(payload.x5t))
}

export interface TicketMint {
  auth: Auth
  namespace: string
  route: string
  key: string
  ttl: number
  x5t?: string
}

export class Tickets {
  readonly #secrets: Buffer[]
  /** Ids of tickets spent in this process, kept until they would have expired anyway. */
  readonly #spent = new SpentIds()

  constructor(secrets: TicketSecret | TicketSecret[], path = 'ticketSecret') {
    this.#secrets = secretBytes(secrets, path)
  }

  /** Mints a ticket, valid for `ttl` ms and never past the token's exp. */
  issue({ auth, namespace, route, key, ttl, x5t }: TicketMint, now = Date.now()): string {
    const tokenExp = auth.credentials.expiresAt
    const payload: TicketPayload = {
      v: 2, jti: randomBytes(16).toString('base64url'), ns: namespace, rt: route, uid: auth.uid, prv: auth.provider,
      scp: [...auth.credentials.scopes], exp: Math.min(now + ttl, tokenExp === undefined ? Infinity : tokenExp * 1000), key,
    }
    const iat = auth.credentials.other.iat
    if (isTime(iat)) payload.iat = iat
    if (tokenExp !== undefined) payload.tex = tokenExp
    if (x5t !== undefined) payload.x5t = x5t
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
    return `${body}.${mac(this.#secrets[0]!, body).toString('base64url')}`
  }

  /** Checks a ticket's seal, shape and expiry (not whether it was spent). */
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
    let payload: unknown
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
    } catch {
      return { ok: false, reason: 'malformed' }
    }
    if (!isPayload(payload)) return { ok: false, reason: 'malformed' }
    if (payload.exp <= now || (payload.tex !== undefined && payload.tex * 1000 <= now)) return { ok: false, reason: 'expired' }
    return { ok: true, payload }
  }

  /** Whether this process has seen the ticket spent. */
  spentHere(payload: TicketPayload): boolean {
    return this.#spent.has(payload.jti)
  }

  /** Spends the ticket in this process until it would have expired: 'full' when no room is left (refuse it). */
  spendHere(payload: TicketPayload, now = Date.now()): 'spent' | 'replayed' | 'full' {
    return this.#spent.spend(payload.jti, Math.max(now + 1, payload.exp), now)
  }


}

/** The Auth a ticket stands for: the minting token's identity and scopes, without the token. */
export function authFromTicket(payload: TicketPayload): Auth {
  const other: Record<string, unknown> = {}
  if (payload.iat !== undefined) other.iat = payload.iat
  if (payload.x5t !== undefined) other.cnf = { 'x5t#S256': payload.x5t }
  const credentials: Omit<Credentials, 'token'> = { tokenType: 'ticket', expires: payload.tex !== undefined, scopes: payload.scp, other }
  if (payload.tex !== undefined) credentials.expiresAt = payload.tex
  return { uid: payload.uid, provider: payload.prv, strategy: 'ticket', credentials: credentialsWith(credentials, ''), info: {}, extra: { rawInfo: {} } }
}
