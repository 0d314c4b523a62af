// The token cache: an LRU of validated claims keyed by SHA-256(namespace, token), TTLs clamped
// so that no entry outlives its token, a separate small LRU for rejected tokens, the table of
// in-flight provider calls that concurrent misses share, the revocations in force, and the
// fleet's shared store. Everything here may be shared by several registrations (createCache()).
import { hash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { AuthFailure, CachedAuth } from './auth.js'
import { integerOption } from './defaults.js'
import { DenialList } from './denials.js'
import { SharedStore } from './fleet.js'
import { assertStore, StoreSeal, type StoreSecret, type TokenStore } from './store.js'

export interface CacheOptions {
  /** Most validated tokens held. Default 10,000. */
  max?: number
  /** Longest an entry lives, in ms, whatever the provider says. Default 300,000 (5 min). */
  maxTtl?: number
  /**
   * How long a rejected (invalid, not transient) token is remembered, in ms. Default 0: never.
   * Spares the identity provider a client that retries a bad token in a loop.
   */
  negativeTtl?: number
  /** Most rejected tokens held (their own LRU, so they never push out good ones). Default 1,000. */
  negativeMax?: number
  /**
   * A shared store (L2) for a fleet of instances, e.g. `new RedisStore({ client })` from
   * `fastify-token-auth/stores/redis`: read on a miss of this LRU before the identity provider.
   * Needs `storeSecret`.
   */
  store?: TokenStore
  /**
   * The fleet's secret (at least 32 bytes; a list rotates: the first signs, all verify): every
   * entry and revocation in the store is sealed with it (HMAC-SHA256), and one that does not
   * verify is ignored, so that write access to the store is not a way in. Required with `store`.
   */
  storeSecret?: StoreSecret | StoreSecret[]
}

const CACHE_OPTIONS = new Set(['max', 'maxTtl', 'negativeTtl', 'negativeMax', 'store', 'storeSecret'])

/**
 * The settled result of one provider call, as shared between concurrent requests: `stale` when
 * it is a last good answer served during an outage, `breakerOpen` when no call was made.
 */
export type Outcome = ({ auth: CachedAuth; ttl: number; stale?: boolean; shared?: boolean } | { failure: AuthFailure; cacheable: boolean }) & { breakerOpen?: boolean }


/** The cache key: SHA-256 over the provider's namespace and the token. The raw token is never a key. */
export function cacheKey(namespace: string, token: string): string {
  return hash('sha256', `${namespace}\0${token}`, 'base64url')
}

export class TokenCache {
  readonly max: number
  readonly maxTtl: number
  readonly negativeTtl: number
  /** The fleet's shared store, as given. */
  readonly store: TokenStore | undefined
  /** The same store, guarded and sealed: what the engine uses. */
  readonly shared: SharedStore | undefined
  /** Provider calls under way, by cache key; concurrent misses await the same promise. */
  readonly flights = new Map<string, Promise<Outcome>>()
  readonly #entries: LRUCache<string, CachedAuth> | undefined
  readonly #rejected: LRUCache<string, AuthFailure> | undefined
  /** Revoked token keys, each until its token's exp. */
  readonly #deniedKeys = new DenialList<true>()
  /** Revoked uids (namespace'd), with the time of revocation (s): tokens issued until then are refused. */
  readonly #deniedUids = new DenialList<number>()
  /** Which provider holds each namespace here, so that two with other rules cannot share one. */
  readonly namespaces = new Map<string, WeakRef<object>>()
  /** Raw tokens (and their provider's namespace) by key, kept in memory only while background re-validation needs them. */
  #tokens: Map<string, { token: string; namespace: string }> | undefined

  /** `false` keeps nothing between requests (but concurrent misses still share one call). */
  constructor(options: CacheOptions | false = {}, path = 'cache') {
    if (options === false) {
      this.max = 0
      this.maxTtl = 0
      this.negativeTtl = 0
      this.store = undefined
      this.shared = undefined
      return
    }
    if (options === null || typeof options !== 'object') throw new TypeError(`${path} must be an object or false`)
    for (const name of Object.keys(options)) {
      if (!CACHE_OPTIONS.has(name)) throw new TypeError(`${path}: unknown option "${name}"`)
    }
    this.max = integerOption(options.max, 'cache.max', `${path}.max`)
    this.maxTtl = integerOption(options.maxTtl, 'cache.maxTtl', `${path}.maxTtl`)
    this.negativeTtl = integerOption(options.negativeTtl, 'cache.negativeTtl', `${path}.negativeTtl`)
    if (options.store !== undefined) {
      assertStore(options.store, `${path}.store`)
      if (options.storeSecret === undefined) throw new TypeError(`${path}.storeSecret is required with a store: entries in a shared store are sealed with it`)
      this.shared = new SharedStore(options.store, new StoreSeal(options.storeSecret, `${path}.storeSecret`))
    } else {
      if (options.storeSecret !== undefined) throw new TypeError(`${path}.storeSecret needs a store`)
      this.shared = undefined
    }
    this.store = options.store
    const negativeMax = integerOption(options.negativeMax, 'cache.negativeMax', `${path}.negativeMax`)
    // Expired entries stay until the LRU pushes them out, so that a provider with staleIfError
    // can fall back on them during an outage; get() never returns them.
    if (this.maxTtl > 0) {
      this.#entries = new LRUCache({
        max: this.max, ttl: this.maxTtl, ttlAutopurge: false, noDeleteOnStaleGet: true,
        // An entry that leaves the cache takes its retained token with it.
        dispose: (_value, key) => this.#tokens?.delete(key),
      })
    }
    if (this.negativeTtl > 0) {
      this.#rejected = new LRUCache({ max: negativeMax, ttl: this.negativeTtl, ttlAutopurge: false })
    }
  }

  /** Whether anything is kept between requests. */
  get enabled(): boolean {
    return this.#entries !== undefined
  }

  /** Validated entries held now. */
  get size(): number {
    return this.#entries?.size ?? 0
  }

  /** Rejected entries held now. */
  get rejectedSize(): number {
    return this.#rejected?.size ?? 0
  }

  /** A live entry; never one whose token has reached its `exp`, whatever the LRU's clock says. */
  get(key: string, nowMs = Date.now()): CachedAuth | undefined {
    const entry = this.#entries?.get(key)
    if (entry === undefined) return undefined
    const expiresAt = entry.credentials.expiresAt
    if (expiresAt !== undefined && expiresAt * 1000 <= nowMs) {
      this.#entries?.delete(key)
      return undefined
    }
    return entry
  }

  /** The entry under a key, without touching its recency or checking its expiry. */
  peek(key: string): CachedAuth | AuthFailure | undefined {
    return this.#entries?.peek(key) ?? this.#rejected?.peek(key)
  }

  /**
   * An entry whose TTL ended at most `grace` ms ago and whose token has not reached exp: the last
   * good answer, for use only while the identity provider cannot answer.
   */
  getStale(key: string, grace: number, nowMs = Date.now()): CachedAuth | undefined {
    const entries = this.#entries
    if (entries === undefined) return undefined
    const remaining = entries.getRemainingTTL(key)
    if (remaining >= 0 || -remaining > grace) return undefined
    const entry = entries.peek(key, { allowStale: true })
    const expiresAt = entry?.credentials.expiresAt
    if (entry === undefined || (expiresAt !== undefined && expiresAt * 1000 <= nowMs)) return undefined
    return entry
  }

  getRejected(key: string): AuthFailure | undefined {
    return this.#rejected?.get(key)
  }

  /**
   * Keeps each entry's raw token beside it from now on, for background re-validation. Off unless
   * asked: it is the only place the library holds a raw token past a request.
   */
  retainTokens(): void {
    this.#tokens ??= new Map()
  }

  /** Retained tokens held now (0 unless retainTokens() was called). */
  get retainedTokens(): number {
    return this.#tokens?.size ?? 0
  }

  /** Whether any revocation is in force (the hot path checks nothing otherwise). */
  get hasDenials(): boolean {
    return this.#deniedKeys.size > 0 || this.#deniedUids.size > 0
  }

  /** Refuses a token (by key) until `untilMs`, and forgets its entry. */
  denyKey(key: string, untilMs: number): void {
    this.delete(key)
    this.#deniedKeys.set(key, true, untilMs)
  }

  /** Refuses the tokens of a uid in a namespace issued until `atSeconds`, until `untilMs`; forgets its entries. */
  denyUid(namespace: string, uid: string, atSeconds: number, untilMs: number): void {
    this.#deniedUids.set(`${namespace}\0${uid}`, atSeconds, untilMs)
    const keys: string[] = []
    for (const [key, entry] of this.#entries?.entries() ?? []) if (entry.uid === uid) keys.push(key)
    for (const key of keys) this.delete(key)
  }

  /**
   * Whether a token is revoked: by its key, or by its uid in its namespace when issued (`iat`,
   * seconds) no later than the uid's revocation; a token without `iat` counts as issued before.
   */
  isDenied(key: string, namespace: string, uid?: string, issuedAt?: unknown, nowMs = Date.now()): boolean {
    if (this.#deniedKeys.get(key, nowMs) === true) return true
    if (uid === undefined || this.#deniedUids.size === 0) return false
    const revokedAt = this.#deniedUids.get(`${namespace}\0${uid}`, nowMs)
    if (revokedAt === undefined) return false
    return typeof issuedAt !== 'number' || issuedAt <= revokedAt
  }

  /** Keys of one provider's validated entries with a retained token. */
  revalidationKeys(namespace: string): string[] {
    const keys: string[] = []
    for (const [key, retained] of this.#tokens ?? []) if (retained.namespace === namespace) keys.push(key)
    return keys
  }

  tokenOf(key: string): string | undefined {
    return this.#tokens?.get(key)?.token
  }

  /** min(ttl, maxTtl, exp − now), in whole ms; 0 when nothing may be kept. */
  clamp(auth: CachedAuth, ttl: number, nowMs = Date.now()): number {
    if (this.#entries === undefined) return 0
    let clamped = Math.min(ttl, this.maxTtl)
    const expiresAt = auth.credentials.expiresAt
    if (expiresAt !== undefined) clamped = Math.min(clamped, expiresAt * 1000 - nowMs)
    clamped = Math.floor(clamped)
    return clamped >= 1 ? clamped : 0
  }

  /**
   * Stores a validated entry for min(ttl, maxTtl, exp − now). Returns the TTL used, or 0 when
   * the entry was not stored (cache off, TTL spent or not a number).
   */
  set(key: string, auth: CachedAuth, ttl: number, nowMs = Date.now(), retain?: { token: string; namespace: string }): number {
    if (this.#entries === undefined) return 0
    const clamped = this.clamp(auth, ttl, nowMs)
    if (clamped === 0) return 0
    this.#entries.set(key, auth, { ttl: clamped })
    if (this.#tokens !== undefined && retain !== undefined) this.#tokens.set(key, retain)
    return clamped
  }

  setRejected(key: string, failure: AuthFailure): boolean {
    if (this.#rejected === undefined) return false
    this.#rejected.set(key, failure)
    return true
  }

  delete(key: string): void {
    this.#entries?.delete(key)
    this.#rejected?.delete(key)
    this.#tokens?.delete(key)
  }

  clear(): void {
    this.#entries?.clear()
    this.#rejected?.clear()
    this.#tokens?.clear()
  }
}
