// Revocations in force: ids (a token's cache key, or a namespace'd uid) refused until a time.
// A Map in insertion order with lazy expiry, bounded: nothing is allocated before the first
// revocation, and the first one costs no more than any other (an LRU would preallocate).

/**
 * Most revocations held at once; past it the oldest is dropped (counted, and logged by the engine).
 * About 150 bytes each: 150 MB at the bound. Revocations of tokens no verification accepts take none.
 */
export const MAX_DENIALS = 1_000_000

export class DenialList<V> {
  readonly #entries = new Map<string, { value: V; until: number }>()
  readonly #max: number
  /** Revocations in force dropped to stay within the bound (a sign that it is too small). */
  dropped = 0

  constructor(max = MAX_DENIALS) {
    this.#max = max
  }

  get size(): number {
    return this.#entries.size
  }

  /** Refuses `id` until `untilMs`; a later revocation of the same id extends, never shortens it. */
  set(id: string, value: V, untilMs: number): void {
    const existing = this.#entries.get(id)
    if (existing !== undefined) {
      this.#entries.delete(id)
      if (existing.until > untilMs) untilMs = existing.until
    }
    this.#entries.set(id, { value, until: untilMs })
    if (this.#entries.size > this.#max) this.#dropOldest()
  }

  /** The value of a revocation in force, or undefined. */
  get(id: string, nowMs = Date.now()): V | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    if (entry.until <= nowMs) {
      this.#entries.delete(id)
      return undefined
    }
    return entry.value
  }

  #dropOldest(): void {
    for (const [id, entry] of this.#entries) {
      this.#entries.delete(id)
      if (entry.until > Date.now()) this.dropped++
      return
    }
  }
}

/**
 * Ids that may be used once until they expire (DPoP proofs' jti, connection tickets). Bounded, and
 * full means refuse: an id in force is never forgotten to make room (that would allow its replay).
 */
export class SpentIds {
  readonly #until = new Map<string, number>()
  readonly #max: number

  constructor(max = MAX_DENIALS) {
    this.#max = max
  }

  get size(): number {
    return this.#until.size
  }

  /** Spends `id` until `untilMs`: 'spent' the first time, 'replayed' after, 'full' when no room is left. */
  spend(id: string, untilMs: number, nowMs = Date.now()): 'spent' | 'replayed' | 'full' {
    const until = this.#until.get(id)
    if (until !== undefined && until > nowMs) return 'replayed'
    if (until !== undefined) this.#until.delete(id)
    if (this.#until.size >= this.#max) {
      // Ids mostly expire in the order they came: the oldest are dropped while they have expired.
      for (const [old, oldUntil] of this.#until) {
        if (oldUntil > nowMs) break
        this.#until.delete(old)
      }
      if (this.#until.size >= this.#max) return 'full'
    }
    this.#until.set(id, untilMs)
    return 'spent'
  }

  /** Whether `id` is spent and in force. */
  has(id: string, nowMs = Date.now()): boolean {
    const until = this.#until.get(id)
    return until !== undefined && until > nowMs
  }
}
