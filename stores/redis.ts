// A Redis (or Valkey) store for a fleet's shared cache, with the official `redis` client (node-redis:
// maintained by Redis, typed, reconnects by itself, and speaks to Valkey too). It moves sealed
// strings only (the library seals and checks them). Every call is bounded by `timeout`; a slow or
// absent Redis reads as a miss, never as a failed request, and never holds the app's startup.
import type { RedisClientType } from 'redis'
import type { Logger } from '../src/provider.js'
import type { TokenStore } from '../src/store.js'

export interface RedisStoreOptions {
  /** A node-redis client, connected or not yet (`client.connect()` need not be awaited); the store does not close it. */
  client: Pick<RedisClientType, 'get' | 'set' | 'del' | 'isReady' | 'publish' | 'duplicate'>
  /** Key prefix. Default `'fta:'`. */
  prefix?: string
  /** Bound on every call, in ms. Default 100. */
  timeout?: number
  /** Pino-compatible logger for the revocation channel's troubles (the plugin logs the rest). */
  logger?: Logger
}

const OPTIONS = new Set(['client', 'prefix', 'timeout', 'logger'])

/** A call that did not answer in time: distinct from every answer Redis gives. */
const TIMED_OUT = Symbol('timed out')

export class RedisStore implements TokenStore {
  readonly #client: RedisStoreOptions['client']
  readonly #prefix: string
  readonly #timeout: number
  readonly #log: Logger | undefined

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('RedisStore: options must be an object')
    for (const name of Object.keys(options)) {
      if (!OPTIONS.has(name)) throw new TypeError(`RedisStore: unknown option "${name}"${name === 'log' ? ' (did you mean logger?)' : ''}`)
    }
    if (options.client === undefined || typeof options.client.get !== 'function') throw new TypeError('RedisStore: client is required (createClient() from "redis")')
    const timeout = options.timeout ?? 100
    if (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > 60_000) throw new TypeError('RedisStore: timeout must be an integer from 1 to 60,000 (ms)')
    if (options.prefix !== undefined && typeof options.prefix !== 'string') throw new TypeError('RedisStore: prefix must be a string')
    this.#client = options.client
    this.#prefix = options.prefix ?? 'fta:'
    this.#timeout = timeout
    this.#log = options.logger
  }

  /** Runs a call under the bound: its answer, or a rejection when Redis is failing or slow. */
  async #bounded<T>(what: string, call: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    try {
      const answer = await Promise.race([
        call(),
        new Promise<typeof TIMED_OUT>((resolve) => { timer = setTimeout(() => resolve(TIMED_OUT), this.#timeout) }),
      ])
      if (answer === TIMED_OUT) throw new Error(`redis ${what}: no answer within ${this.#timeout} ms`)
      return answer
    } finally {
      clearTimeout(timer)
    }
  }

  async get(key: string): Promise<string | undefined> {
    // Not connected (yet, or any more): a miss, said nowhere, as the client reconnects by itself.
    if (!this.#client.isReady) return undefined
    const text = await this.#bounded('get', () => this.#client.get(this.#prefix + key))
    return typeof text === 'string' ? text : undefined
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (!(ttlMs >= 1) || !this.#client.isReady) return
    await this.#bounded('set', () => this.#client.set(this.#prefix + key, value, { PX: Math.floor(ttlMs) }))
  }

  async delete(key: string): Promise<void> {
    if (!this.#client.isReady) throw new Error('redis delete: not connected')
    await this.#bounded('delete', () => this.#client.del(this.#prefix + key))
  }

  async lock(key: string, ttlMs: number): Promise<boolean> {
    // Without Redis every instance is on its own: it may call the identity provider itself.
    if (!this.#client.isReady) return true
    const taken = await this.#bounded('lock', () => this.#client.set(`${this.#prefix}lock:${key}`, '1', { NX: true, PX: Math.floor(ttlMs) }))
    return taken === 'OK'
  }

  async unlock(key: string): Promise<void> {
    if (!this.#client.isReady) return
    await this.#bounded('unlock', () => this.#client.del(`${this.#prefix}lock:${key}`))
  }

  /** SET NX: true when this call set the id (first use), false when it was there already. */
  async claim(id: string, ttlMs: number): Promise<boolean> {
    if (!this.#client.isReady) throw new Error('redis claim: not connected')
    const taken = await this.#bounded('claim', () => this.#client.set(`${this.#prefix}once:${id}`, '1', { NX: true, PX: Math.max(1, Math.floor(ttlMs)) }))
    return taken === 'OK'
  }

  async publish(message: string): Promise<void> {
    if (!this.#client.isReady) throw new Error('redis publish: not connected')
    await this.#bounded('publish', () => this.#client.publish(`${this.#prefix}revocations`, message))
  }

  /**
   * Subscribes on a connection of its own (Redis requires one for pub/sub), which connects and
   * reconnects by itself: resolves at once, even while Redis is down, and listens once it is up.
   */
  subscribe(listener: (message: string) => void): Promise<() => Promise<void>> {
    const subscriber = this.#client.duplicate()
    subscriber.on('error', (err: Error) => this.#log?.warn({ tokenAuth: { store: 'redis', op: 'subscribe', err: err.message } }, 'revocation channel unavailable'))
    const channel = `${this.#prefix}revocations`
    const connected = subscriber.connect().then(() => subscriber.subscribe(channel, (text: string) => listener(text)))
    connected.catch((err: Error) => this.#log?.warn({ tokenAuth: { store: 'redis', op: 'subscribe', err: err.message } }, 'revocation channel unavailable'))
    return Promise.resolve(() => {
      try {
        subscriber.destroy()
      } catch {
        // Never connected, or closed already.
      }
      return Promise.resolve()
    })
  }
}
