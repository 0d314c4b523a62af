// A fleet's shared store as the engine sees it: every call bounded and guarded (a store that
// throws, rejects or hangs reads as a miss, never as a failed request or poisoned state), every
// value sealed and checked (see store.ts), and the miss path: the store may have the answer
// already; if not, one instance takes a short lock and asks the identity provider while the
// others wait for its answer in the store (or take the lock over when it is released without one).
import type { CachedAuth } from './auth.js'
import type { Outcome } from './cache.js'
import type { Logger } from './provider.js'
import type { RevocationMessage, SharedEntry, StoreSeal, TokenStore } from './store.js'

const POLL_MS = 20
/** Longest a store call may take before it counts as failed (the Redis store bounds its own at 100 ms). */
export const STORE_DEADLINE = 1_000
const WARN_EVERY = 10_000

export class SharedStore {
  readonly #store: TokenStore
  readonly #seal: StoreSeal
  #log: Logger | undefined
  #reportedForgery = false
  /** When each operation last warned: a store that is down says so every 10 s, not per request. */
  readonly #warnedAt = new Map<string, number>()

  constructor(store: TokenStore, seal: StoreSeal) {
    this.#store = store
    this.#seal = seal
  }

  /** Where failures are reported (the first registration's logger). */
  set log(log: Logger) {
    this.#log ??= log
  }

  get canLock(): boolean {
    return this.#store.lock !== undefined
  }

  /** Runs one store call under the deadline; a rejection, a throw or a timeout gives `fallback`. */
  async #call<T>(op: string, call: () => Promise<T>, fallback: T): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        call(),
        new Promise<T>((resolve) => {
          timer = setTimeout(() => {
            this.#warn(op, `no answer within ${STORE_DEADLINE} ms`)
            resolve(fallback)
          }, STORE_DEADLINE)
        }),
      ])
    } catch (err) {
      this.#warn(op, (err as Error)?.message ?? String(err))
      return fallback
    } finally {
      clearTimeout(timer)
    }
  }

  #warn(op: string, err: string): void {
    const now = Date.now()
    const level = now - (this.#warnedAt.get(op) ?? -Infinity) >= WARN_EVERY ? 'warn' : 'debug'
    if (level === 'warn') this.#warnedAt.set(op, now)
    this.#log?.[level]({ tokenAuth: { store: op, err } }, 'shared store unavailable; going on without it')
  }

  /** A live shared answer for `key`, or undefined (absent, expired, forged, malformed or unreachable). */
  async get(key: string, nowMs = Date.now()): Promise<SharedEntry | undefined> {
    const text = await this.#call('get', () => this.#store.get(key), undefined)
    if (text === undefined || text === null) return undefined
    const entry = this.#seal.openEntry(key, text)
    if (entry === undefined) {
      this.#reportForgery(key)
      return undefined
    }
    const exp = entry.auth.credentials.expiresAt
    if (entry.expiresAt <= nowMs || (exp !== undefined && exp * 1000 <= nowMs)) return undefined
    return entry
  }

  /**
   * A forged or malformed entry or revocation is ignored: said once at warn level (it means someone
   * writes to the store), then at debug, so that a flood of them cannot flood the log.
   */
  #reportForgery(what: string): void {
    const level = this.#reportedForgery ? 'debug' : 'warn'
    this.#reportedForgery = true
    this.#log?.[level]({ tokenAuth: { store: what === 'revocation' ? 'subscribe' : 'get', token: what === 'revocation' ? undefined : what.slice(0, 12) } }, `shared store ${what === 'revocation' ? 'revocation message' : 'entry'} is not authenticated or malformed; ignored`)
  }

  set(key: string, auth: CachedAuth, ttlMs: number, nowMs = Date.now()): Promise<void> {
    const value = this.#seal.sealEntry(key, { auth, expiresAt: nowMs + ttlMs })
    return this.#call('set', () => this.#store.set(key, value, ttlMs), undefined)
  }

  delete(key: string): Promise<void> {
    return this.#call('delete', () => this.#store.delete(key), undefined)
  }

  /** Whether this instance may ask the identity provider: the lock, or true without a lock (or a store). */
  lock(key: string, ttlMs: number): Promise<boolean> {
    const store = this.#store
    return store.lock === undefined ? Promise.resolve(true) : this.#call('lock', () => store.lock!(key, ttlMs), true)
  }

  unlock(key: string): Promise<void> {
    const store = this.#store
    return store.unlock === undefined ? Promise.resolve() : this.#call('unlock', () => store.unlock!(key), undefined)
  }

  /** Spends a single-use id fleet-wide: true the first time, false after; undefined when the store cannot tell. */
  claim(id: string, ttlMs: number): Promise<boolean | undefined> {
    const store = this.#store
    return store.claim === undefined ? Promise.resolve(undefined) : this.#call<boolean | undefined>('claim', () => store.claim!(id, ttlMs), undefined)
  }

  publish(message: RevocationMessage): Promise<void> {
    const store = this.#store
    if (store.publish === undefined) return Promise.resolve()
    const sealed = this.#seal.sealRevocation(message)
    return this.#call('publish', () => store.publish!(sealed, message.until), undefined)
  }

  /** Listens for the fleet's revocations; unsealed messages are dropped. Resolves with an unsubscribe. */
  async subscribe(listener: (message: RevocationMessage) => void): Promise<(() => Promise<void>) | undefined> {
    if (this.#store.subscribe === undefined) return undefined
    return this.#store.subscribe((text) => {
      const message = this.#seal.openRevocation(text)
      if (message === undefined) {
        this.#reportForgery('revocation')
        return
      }
      listener(message)
    })
  }
}

export interface FleetCall {
  /** Asks the identity provider (this instance's part). */
  ask(): Promise<Outcome>
  /** The TTL an answer may be shared for (clamped as L1 would); 0 for none. */
  ttlOf(outcome: Outcome): number
  /** How long to wait for another instance's answer, in ms. */
  timeout: number
}

/** A miss of this instance's LRU in a fleet: the shared answer, or one call for the whole fleet. */
export async function callThroughStore(shared: SharedStore, key: string, call: FleetCall): Promise<Outcome> {
  const found = await shared.get(key)
  if (found !== undefined) return fromShared(found)
  const giveUpAt = Date.now() + call.timeout
  let owner = await shared.lock(key, call.timeout)
  while (!owner && Date.now() < giveUpAt) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    const answered = await shared.get(key)
    if (answered !== undefined) return fromShared(answered)
    // Released without an answer (the token was refused, or the owner failed): our turn.
    owner = await shared.lock(key, call.timeout)
  }
  // The lock may have come free because the answer just landed (the owner writes it before it
  // unlocks, on one connection): look once more before asking ourselves.
  if (owner && shared.canLock) {
    const landed = await shared.get(key)
    if (landed !== undefined) {
      await shared.unlock(key)
      return fromShared(landed)
    }
  }
  try {
    const outcome = await call.ask()
    // Shared before the lock is released, so that no waiter finds the lock free and no answer.
    const ttl = call.ttlOf(outcome)
    if ('auth' in outcome && ttl > 0) await shared.set(key, outcome.auth, ttl)
    return outcome
  } finally {
    if (owner && shared.canLock) await shared.unlock(key)
  }
}

function fromShared(entry: SharedEntry): Outcome {
  return { auth: entry.auth, ttl: entry.expiresAt - Date.now(), shared: true }
}
