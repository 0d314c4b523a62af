// Background re-validation (ueberauth_token's background checks): every cached token is checked
// again at the identity provider about once per `interval`, in small staggered batches off the
// request path; a token that is no longer valid (revoked, expired) is evicted and announced with
// a 'revoked' event, which the WebSocket layer uses to close its sockets.
import { EventEmitter } from 'node:events'
import { channels } from './diagnostics.js'
import { fingerprint } from './log.js'
import { namespaceOf, type PipelineSettings } from './pipeline.js'
import type { Provider } from './provider.js'
import { callProvider } from './provider-call.js'

export interface RevalidateOptions {
  /** How often each cached token is checked again, in ms. */
  interval: number
  /** Most checks in flight at once. Default 8. */
  concurrency?: number
}

export interface RevokedEvent {
  /** The cache key (SHA-256 of namespace and token): how sockets and entries are matched. */
  key: string
  uid: string
  provider: string
}

/** Ticks per interval: each tick checks a tenth of the entries, so the load is spread out. */
const SLICES = 10

export class Revalidator extends EventEmitter<{ revoked: [RevokedEvent] }> {
  readonly #provider: Provider<unknown>
  readonly #settings: PipelineSettings
  readonly #namespace: string
  readonly #concurrency: number
  readonly #timer: NodeJS.Timeout
  #queue: string[] = []
  #sliceSize = 0
  #running = false

  constructor(provider: Provider<unknown>, settings: PipelineSettings, options: RevalidateOptions) {
    super()
    if (!Number.isSafeInteger(options.interval) || options.interval < 10) throw new TypeError('revalidate.interval must be an integer >= 10 (ms)')
    this.#provider = provider
    this.#settings = settings
    this.#namespace = namespaceOf(provider)
    this.#concurrency = options.concurrency ?? 8
    settings.cache.retainTokens()
    this.#timer = setInterval(() => void this.tick(), Math.max(1, Math.floor(options.interval / SLICES)))
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** Checks the next slice of the cycle; a new cycle starts from the entries cached now. */
  async tick(): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      if (this.#queue.length === 0) {
        this.#queue = this.#settings.cache.revalidationKeys(this.#namespace)
        this.#sliceSize = Math.ceil(this.#queue.length / SLICES)
      }
      const slice = this.#queue.splice(0, this.#sliceSize)
      for (let i = 0; i < slice.length; i += this.#concurrency) {
        await Promise.all(slice.slice(i, i + this.#concurrency).map((key) => this.#check(key)))
      }
    } finally {
      this.#running = false
    }
  }

  async #check(key: string): Promise<void> {
    const { cache } = this.#settings
    const token = cache.tokenOf(key)
    const entry = cache.get(key)
    // Gone meanwhile, or a request is asking the provider right now anyway.
    if (token === undefined || entry === undefined || cache.flights.has(key)) return
    const outcome = await callProvider(this.#provider, token, key, this.#settings)
    const verdict = 'auth' in outcome ? 'kept' : outcome.cacheable ? 'revoked' : 'unavailable'
    if (channels.revalidation.hasSubscribers) {
      channels.revalidation.publish({ provider: this.#provider.name, token: fingerprint(key), key, uid: entry.uid, outcome: verdict })
    }
    if (verdict !== 'revoked') return
    cache.delete(key)
    this.#settings.log.info({ tokenAuth: { provider: this.#provider.name, token: fingerprint(key), uid: entry.uid } }, 'cached token no longer valid; evicted')
    this.emit('revoked', { key, uid: entry.uid, provider: this.#provider.name })
  }
}
