// The shared (L2) cache of a fleet: an async key-value store that every instance reads on a miss
// of its own LRU (L1) before asking the identity provider, and the channel its revocations travel
// on. A store only moves strings: this module seals what goes in (HMAC-SHA256 over the key and the
// value with the fleet's secret) and checks what comes out, so that whoever can write to the store
// cannot make an instance believe an answer or a revocation it did not write.
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { CachedAuth } from './auth.js'

export interface TokenStore {
  /** The value under `key`, as `set` stored it, or undefined. */
  get(key: string): Promise<string | undefined>
  /** Stores `value` under `key` for `ttlMs` (already clamped to the token's exp). */
  set(key: string, value: string, ttlMs: number): Promise<void>
  delete(key: string): Promise<void>
  /**
   * Optional: takes a short lock on a cold key, so that one instance of the fleet calls the
   * identity provider while the others wait for its answer in the store. True when taken.
   */
  lock?(key: string, ttlMs: number): Promise<boolean>
  unlock?(key: string): Promise<void>
  /**
   * Optional: atomic set-if-absent of a single-use id for `ttlMs` (connection tickets): true when
   * this call set it, false when it was already there.
   */
  claim?(id: string, ttlMs: number): Promise<boolean>
  /**
   * Optional: tells every instance of the fleet about a revocation (a sealed string), and keeps it
   * until `untilMs` (ms since the epoch) for instances that join or reconnect later.
   */
  publish?(message: string, untilMs: number): Promise<void>
  /**
   * Optional: listens for revocations (this instance's own included), and hands the listener the
   * kept ones on every (re)connection, so that none is missed; resolves with an unsubscribe.
   */
  subscribe?(listener: (message: string) => void): Promise<() => Promise<void>>
}

/** A shared entry and when it ends (ms since the epoch), so that an instance's L1 ends with it. */
export interface SharedEntry {
  auth: CachedAuth
  expiresAt: number
}

/**
 * A revocation, as it travels between instances: a token (by its cache key) until its exp, or the
 * tokens of a uid in one namespace issued until `at` (seconds), refused until `until` (ms).
 */
export type RevocationMessage =
  | { key: string; until: number }
  | { uid: string; ns: string; at: number; until: number }

export type StoreSecret = string | Buffer

const MIN_SECRET_BYTES = 32
const STORE_MEMBERS = ['get', 'set', 'delete'] as const
const OPTIONAL_MEMBERS = ['lock', 'unlock', 'claim', 'publish', 'subscribe'] as const

/** Checks a store's shape at startup. */
export function assertStore(value: unknown, path: string): asserts value is TokenStore {
  if (value === null || typeof value !== 'object') throw new TypeError(`${path} must be a store object ({ get, set, delete, … })`)
  const store = value as Record<string, unknown>
  for (const member of STORE_MEMBERS) {
    if (typeof store[member] !== 'function') throw new TypeError(`${path}.${member} must be a function`)
  }
  for (const member of OPTIONAL_MEMBERS) {
    if (store[member] !== undefined && typeof store[member] !== 'function') throw new TypeError(`${path}.${member} must be a function when present`)
  }
}

/** Secrets as bytes, each at least 32; a list rotates (the first signs, all verify). */
export function secretBytes(value: StoreSecret | StoreSecret[], path: string): Buffer[] {
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

/** Freezes a value and everything in it: entries read back are shared by the requests that hit them. */
export function freezeDeep<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const member of Object.values(value)) freezeDeep(member)
  }
  return value
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)

/** A CachedAuth, checked member by member (an entry may come from another version of the library). */
export function asCachedAuth(value: unknown): CachedAuth | undefined {
  if (!isObject(value) || !isText(value.uid) || !isText(value.provider) || !isText(value.strategy)) return undefined
  const { credentials, info, extra } = value
  if (!isObject(credentials) || !isObject(info) || !isObject(extra) || !isObject(extra.rawInfo)) return undefined
  const { tokenType, expires, expiresAt, scopes, other } = credentials
  if (typeof tokenType !== 'string' || typeof expires !== 'boolean' || !isObject(other)) return undefined
  if (expiresAt !== undefined && !isTime(expiresAt)) return undefined
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string')) return undefined
  return value as unknown as CachedAuth
}

function asRevocation(value: unknown): RevocationMessage | undefined {
  if (!isObject(value) || !isTime(value.until)) return undefined
  if (isText(value.key) && value.uid === undefined) return { key: value.key, until: value.until }
  if (isText(value.uid) && typeof value.ns === 'string' && isTime(value.at)) return { uid: value.uid, ns: value.ns, at: value.at, until: value.until }
  return undefined
}

const VERSION = 'v1'

/** Seals and opens what a store holds: `v1.<mac>.<json>`, the MAC bound to the purpose and the key. */
export class StoreSeal {
  readonly #secrets: Buffer[]

  constructor(secrets: StoreSecret | StoreSecret[], path: string) {
    this.#secrets = secretBytes(secrets, path)
  }

  #mac(secret: Buffer, purpose: string, json: string): Buffer {
    return createHmac('sha256', secret).update(purpose).update('\0').update(json).digest()
  }

  #seal(purpose: string, value: unknown): string {
    const json = JSON.stringify(value)
    return `${VERSION}.${this.#mac(this.#secrets[0]!, purpose, json).toString('base64url')}.${json}`
  }

  /** The JSON inside a sealed string, when some secret's MAC matches; undefined otherwise. */
  #open(purpose: string, text: unknown): unknown {
    if (typeof text !== 'string' || !text.startsWith(`${VERSION}.`)) return undefined
    const dot = text.indexOf('.', VERSION.length + 1)
    if (dot === -1) return undefined
    const given = Buffer.from(text.slice(VERSION.length + 1, dot), 'base64url')
    const json = text.slice(dot + 1)
    // Every secret is tried, so the time taken does not say which one matched.
    let valid = false
    for (const secret of this.#secrets) {
      const expected = this.#mac(secret, purpose, json)
      if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true
    }
    if (!valid) return undefined
    try {
      return JSON.parse(json) as unknown
    } catch {
      return undefined
    }
  }

  sealEntry(key: string, entry: SharedEntry): string {
    return this.#seal(`entry ${key}`, { auth: entry.auth, expiresAt: entry.expiresAt })
  }

  /** The entry stored under `key`: undefined when forged, moved from another key, or malformed. */
  openEntry(key: string, text: unknown): SharedEntry | undefined {
    const value = this.#open(`entry ${key}`, text)
    if (!isObject(value) || !isTime(value.expiresAt)) return undefined
    const auth = asCachedAuth(value.auth)
    return auth === undefined ? undefined : { auth: freezeDeep(auth), expiresAt: value.expiresAt }
  }

  sealRevocation(message: RevocationMessage): string {
    return this.#seal('revocation', message)
  }

  openRevocation(text: unknown): RevocationMessage | undefined {
    return asRevocation(this.#open('revocation', text))
  }
}
