// Background re-validation (ueberauth_token's background checks): every cached token is checked
// again at the identity provider about once per `interval`, in small staggered batches off the
// request path; a token that is no longer valid (revoked, expired) is evicted and announced with
// a 'revoked' event, which the WebSocket layer uses to close its sockets.
import { EventEmitter } from 'node:events'
import { channels } from './diagnostics.js'
import { integerOption } from './defaults.js'
import type { Engine } from './engine.js'
import { fingerprint } from './log.js'

export interface RevalidateOptions {
  /** How often each cached token is checked again, in ms (at least 10). */
  interval: number
  /** Most checks in flight at once. Default 8. */
  concurrency?: number
}


/** Checks the revalidate option at registration, naming the member at fault. */
export function checkRevalidate(value: unknown, path: string): RevalidateOptions | undefined {
  if (value === undefined || value === false) return undefined
  if (value === null || typeof value !== 'object') throw new TypeError(`${path} must be false or { interval, concurrency? }`)
  for (const name of Object.keys(value)) {
    if (name !== 'interval' && name !== 'concurrency') throw new TypeError(`${path}: unknown option "${name}"`)
  }
  const { interval, concurrency } = value as RevalidateOptions
  if (interval === undefined) throw new TypeError(`${path}.interval is required (ms)`)
  return {
    interval: integerOption(interval, 'revalidate.interval', `${path}.interval`),
    concurrency: integerOption(concurrency, 'revalidate.concurrency', `${path}.concurrency`),
  }
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
  readonly #engine: Engine
  readonly #concurrency: number
  readonly #timer: NodeJS.Timeout
  #queue: string[] = []
  #sliceSize = 0
  #running = false

  constructor(engine: Engine, options: RevalidateOptions) {
    super()
    const checked = checkRevalidate(options, 'revalidate')!
    this.#engine = engine
    this.#concurrency = checked.concurrency!
    engine.cache.retainTokens()
    this.#timer = setInterval(() => {
      this.tick().catch((err: unknown) => engine.settings.log.error({ tokenAuth: { err: (err as Error)?.message } }, 'background re-validation failed'))
    }, Math.max(1, Math.floor(options.interval / SLICES)))
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
        this.#queue = this.#engine.cache.revalidationKeys(this.#engine.namespace)
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
    const engine = this.#engine
    const checked = await engine.recheck(key)
    if (checked === undefined) return
    const provider = engine.provider.name
    if (channels.revalidation.hasSubscribers) {
      channels.revalidation.publish({ provider, token: fingerprint(key), key, uid: checked.uid, outcome: checked.verdict })
    }
    if (checked.verdict !== 'revoked') return
    engine.settings.log.info({ tokenAuth: { provider, token: fingerprint(key), uid: checked.uid } }, 'cached token no longer valid; evicted')
    this.emit('revoked', { key, uid: checked.uid, provider })
  }
}
