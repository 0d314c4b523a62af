// A circuit breaker per provider: after `threshold` consecutive outages the provider is not
// called for `cooldown` ms (requests get a fast 503); then one probe goes through (half-open),
// and its result closes or reopens the circuit. An identity provider that is down is not
// hammered by every request, and clients are told when to come back.
import { INTEGER_OPTIONS, integerOption } from './defaults.js'

export interface BreakerOptions {
  /** Consecutive transient failures that open the circuit. Default 5. */
  threshold?: number
  /** How long the circuit stays open before one probe, in ms. Default 10,000. */
  cooldown?: number
}

export type BreakerState = 'closed' | 'open' | 'half-open'

/** Checks the breaker option (false, or { threshold?, cooldown? } in range), naming the member at fault. */
export function checkBreaker(value: unknown, path: string): Required<BreakerOptions> | false {
  if (value === false) return false
  if (value === undefined) return { threshold: INTEGER_OPTIONS['breaker.threshold'].default, cooldown: INTEGER_OPTIONS['breaker.cooldown'].default }
  if (value === null || typeof value !== 'object') throw new TypeError(`${path} must be false or { threshold, cooldown }`)
  for (const name of Object.keys(value)) {
    if (name !== 'threshold' && name !== 'cooldown') throw new TypeError(`${path}: unknown option "${name}"`)
  }
  const { threshold, cooldown } = value as BreakerOptions
  return { threshold: integerOption(threshold, 'breaker.threshold', `${path}.threshold`), cooldown: integerOption(cooldown, 'breaker.cooldown', `${path}.cooldown`) }
}

export class CircuitBreaker {
  readonly threshold: number
  readonly cooldown: number
  #state: BreakerState = 'closed'
  #failures = 0
  #openedAt = 0
  #probing = false
  readonly #onChange: (from: BreakerState, to: BreakerState) => void

  constructor(options: BreakerOptions = {}, onChange: (from: BreakerState, to: BreakerState) => void = () => {}) {
    const checked = checkBreaker(options, 'breaker') as Required<BreakerOptions>
    this.threshold = checked.threshold
    this.cooldown = checked.cooldown
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
