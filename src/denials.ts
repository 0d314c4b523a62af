// Revocations in force: ids (a token's cache key, or a namespace'd uid) refused until a time.
// A Map in insertion order with lazy expiry, bounded: nothing is allocated before the first
// revocation, and the first one costs no more than any other (an LRU would preallocate).

/** Most revocations held at once; past it the oldest is dropped (and the drop is counted). */
export const MAX_DENIALS = 100_000

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
