// A circuit breaker per provider: after `threshold` consecutive outages the provider is not
// called for `cooldown` ms (requests get a fast 503); then one probe goes through (half-open),
// and its result closes or reopens the circuit. An identity provider that is down is not
// hammered by every request, and clients are told when to come back.

export interface BreakerOptions {
  /** Consecutive transient failures that open the circuit. Default 5. */
  threshold?: number
  /** How long the circuit stays open before one probe, in ms. Default 10,000. */
  cooldown?: number
}

export type BreakerState = 'closed' | 'open' | 'half-open'

export const BREAKER_DEFAULTS = Object.freeze({ threshold: 5, cooldown: 10_000 })

export class CircuitBreaker {
  readonly threshold: number
  readonly cooldown: number
  #state: BreakerState = 'closed'
  #failures = 0
  #openedAt = 0
  #probing = false
  readonly #onChange: (from: BreakerState, to: BreakerState) => void

  constructor(options: BreakerOptions = {}, onChange: (from: BreakerState, to: BreakerState) => void = () => {}) {
    this.threshold = options.threshold ?? BREAKER_DEFAULTS.threshold
    this.cooldown = options.cooldown ?? BREAKER_DEFAULTS.cooldown
    if (!Number.isSafeInteger(this.threshold) || this.threshold < 1) throw new TypeError('breaker.threshold must be an integer >= 1')
    if (!Number.isSafeInteger(this.cooldown) || this.cooldown < 1) throw new TypeError('breaker.cooldown must be an integer >= 1 (ms)')
    this.#onChange = onChange
  }

  get state(): BreakerState {
    return this.#state
  }

  #move(to: BreakerState): void {
    const from = this.#state
    if (from === to) return
    this.#state = to
    this.#onChange(from, to)
  }

  /**
   * Whether a call may go out now. Undefined when it may; otherwise the seconds until the next
   * probe (for Retry-After). In half-open, exactly one caller gets through.
   */
  refuse(now = Date.now()): number | undefined {
    if (this.#state === 'closed') return undefined
    const remaining = this.#openedAt + this.cooldown - now
    if (this.#state === 'open' && remaining <= 0) this.#move('half-open')
    if (this.#state === 'half-open' && !this.#probing) {
      this.#probing = true
      return undefined
    }
    return Math.max(1, Math.ceil(Math.max(remaining, 0) / 1000))
  }

  /** The identity provider answered (whatever it said about the token). */
  success(): void {
    this.#failures = 0
    this.#probing = false
    this.#move('closed')
  }

  /** The identity provider could not answer. */
  failure(now = Date.now()): void {
    this.#probing = false
    this.#failures++
    if (this.#state === 'half-open' || this.#failures >= this.threshold) {
      this.#openedAt = now
      this.#move('open')
    }
  }
}
