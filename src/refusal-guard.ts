// A guard against token guessing as amplification: each client (its address) may have only so many
// tokens refused by the identity provider per window; beyond that its new tokens are refused with
// 429 before the identity provider is asked. Only refusals that cost a call count (a JWT checked
// locally costs none), calls still under way count too (a burst cannot slip through before the
// first answer), cache hits are never refused, and the table of clients is bounded.
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
  /** Per client: refusals counted in the window that began at `since`, and calls under way. */
  #clients: LRUCache<string, { since: number; count: number; pending: number }> | undefined

  constructor(max: number, window: number) {
    this.max = max
    this.window = window
  }

  #entry(client: string, now: number): { since: number; count: number; pending: number } {
    this.#clients ??= new LRUCache({ max: MAX_CLIENTS })
    let entry = this.#clients.get(client)
    if (entry === undefined) this.#clients.set(client, (entry = { since: now, count: 0, pending: 0 }))
    else if (now - entry.since >= this.window) {
      entry.since = now
      entry.count = 0
    }
    return entry
  }

  /** Seconds until the client may try a new token again, or undefined when it may now. */
  blocked(client: string | undefined, now = Date.now()): number | undefined {
    const entry = client === undefined ? undefined : this.#clients?.get(client)
    if (entry === undefined) return undefined
    const fresh = now - entry.since >= this.window
    if ((fresh ? 0 : entry.count) + entry.pending < this.max) return undefined
    return fresh ? 1 : Math.max(1, Math.ceil((entry.since + this.window - now) / 1000))
  }

  /** A call for one of the client's tokens begins: it counts as a refusal until its answer says otherwise. */
  started(client: string, now = Date.now()): void {
    this.#entry(client, now).pending++
  }

  /** The call ended: a refusal by the identity provider counts for the window. */
  ended(client: string, refused: boolean, now = Date.now()): void {
    const entry = this.#entry(client, now)
    entry.pending = Math.max(0, entry.pending - 1)
    if (refused) entry.count++
  }

  /** Counts one token of the client refused by the identity provider. */
  refused(client: string | undefined, now = Date.now()): void {
    if (client !== undefined) this.#entry(client, now).count++
  }
}
