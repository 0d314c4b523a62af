// A guard against token guessing as amplification: each client (its address) may have only so many
// tokens refused by the identity provider per window; beyond that its new tokens are refused with
// 429 before the identity provider is asked. Only refusals that cost a call count (a JWT checked
// locally costs none), cache hits are never refused, and the table of clients is bounded.
import { LRUCache } from 'lru-cache'

export interface RefusalLimitOptions {
  /** Tokens refused by the identity provider per client and window, before 429s. Default 100. */
  max?: number
  /** The window, in ms. Default 60,000. */
  window?: number
}

/** Clients followed at once (the oldest is forgotten first). */
const MAX_CLIENTS = 50_000

export class RefusalGuard {
  readonly max: number
  readonly window: number
  /** Per client: refusals counted in the window that began at `since`. Made on the first refusal. */
  #clients: LRUCache<string, { since: number; count: number }> | undefined

  constructor(max: number, window: number) {
    this.max = max
    this.window = window
  }

  /** Seconds until the client may try a new token again, or undefined when it may now. */
  blocked(client: string | undefined, now = Date.now()): number | undefined {
    const entry = client === undefined ? undefined : this.#clients?.get(client)
    if (entry === undefined || entry.count < this.max || now - entry.since >= this.window) return undefined
    return Math.max(1, Math.ceil((entry.since + this.window - now) / 1000))
  }

  /** Counts one token of the client refused by the identity provider. */
  refused(client: string | undefined, now = Date.now()): void {
    if (client === undefined) return
    this.#clients ??= new LRUCache({ max: MAX_CLIENTS })
    const entry = this.#clients.get(client)
    if (entry === undefined || now - entry.since >= this.window) this.#clients.set(client, { since: now, count: 1 })
    else entry.count++
  }
}
