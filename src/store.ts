// The shared (L2) cache of a fleet: an async key-value store that every instance reads on a miss
// of its own LRU (L1) before asking the identity provider. Values are cached Auths (claims, never a
// token), keys are the SHA-256 cache keys. A store must never fail a request: every call is bounded
// and a failure reads as a miss.
import type { CachedAuth } from './auth.js'

/** A shared entry and when it ends (ms since the epoch), so that an instance's L1 ends with it. */
export interface SharedEntry {
  auth: CachedAuth
  expiresAt: number
}

export interface TokenStore {
  get(key: string): Promise<SharedEntry | undefined>
  /** Stores for `ttlMs` (already clamped to the token's exp by the cache). */
  set(key: string, value: CachedAuth, ttlMs: number): Promise<void>
  delete(key: string): Promise<void>
  /**
   * Optional: takes a short lock on a cold key, so that one instance of the fleet calls the
   * identity provider while the others wait for its answer in the store. True when taken.
   */
  lock?(key: string, ttlMs: number): Promise<boolean>
  unlock?(key: string): Promise<void>
  /** Optional: tells every instance of the fleet about a revocation. */
  publish?(message: RevocationMessage): Promise<void>
  /** Optional: listens for revocations (this instance's own included); resolves with an unsubscribe. */
  subscribe?(listener: (message: RevocationMessage) => void): Promise<() => Promise<void>>
}

/** A revocation, as it travels between instances: a token (by its cache key) or every token of a uid. */
export type RevocationMessage =
  | { key: string; until: number }
  | { uid: string; at: number; ttl: number }

/** Checks a store's shape at startup. */
export function assertStore(value: unknown, path: string): asserts value is TokenStore {
  const store = value as Record<string, unknown> | null
  for (const member of ['get', 'set', 'delete'] as const) {
    if (typeof store?.[member] !== 'function') throw new TypeError(`${path}.${member} must be a function`)
  }
}

/** Rebuilds a value read from a store: it is shared by the requests that hit it, so it is frozen. */
export function freezeDeep<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const member of Object.values(value)) freezeDeep(member)
  }
  return value
}
