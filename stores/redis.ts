// A Redis (or Valkey) store for a fleet's shared cache, with the official `redis` client (node-redis:
// maintained by Redis, typed, reconnects by itself, and speaks to Valkey too). Every call is bounded
// by `timeout`; a slow or absent Redis reads as a miss, never as a failed request.
import type { RedisClientType } from 'redis'
import type { CachedAuth } from '../src/auth.js'
import type { Logger } from '../src/provider.js'
import { freezeDeep, type RevocationMessage, type SharedEntry, type TokenStore } from '../src/store.js'

export interface RedisStoreOptions {
  /** A connected (or connecting) node-redis client; the store does not close it. */
  client: Pick<RedisClientType, 'get' | 'set' | 'del' | 'isReady' | 'publish' | 'duplicate'>
  /** Key prefix. Default `'fta:'`. */
  prefix?: string
  /** Bound on every call, in ms. Default 100. */
  timeout?: number
  log?: Logger
}

export class RedisStore implements TokenStore {
  readonly #client: RedisStoreOptions['client']
  readonly #prefix: string
  readonly #timeout: number
  readonly #log: Logger | undefined

  constructor(options: RedisStoreOptions) {
    if (options?.client === undefined) throw new TypeError('RedisStore: client is required (createClient() from "redis")')
    this.#client = options.client
    this.#prefix = options.prefix ?? 'fta:'
    this.#timeout = options.timeout ?? 100
    this.#log = options.log
  }

  /** Runs a call under the bound; a failure or a timeout gives `fallback`. */
  async #bounded<T>(what: string, call: () => Promise<T>, fallback: T): Promise<T> {
    if (!this.#client.isReady) return fallback
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        call(),
        new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), this.#timeout) }),
      ])
    } catch (err) {
      this.#log?.warn({ tokenAuth: { store: 'redis', op: what, err: (err as Error).message } }, 'shared cache unavailable; going on without it')
      return fallback
    } finally {
      clearTimeout(timer)
    }
  }

  async get(key: string): Promise<SharedEntry | undefined> {
    const text = await this.#bounded('get', () => this.#client.get(this.#prefix + key), null)
    if (typeof text !== 'string') return undefined
    try {
      const entry = JSON.parse(text) as { auth?: CachedAuth; expiresAt?: number }
      if (entry.auth === undefined || typeof entry.expiresAt !== 'number') return undefined
      return { auth: freezeDeep(entry.auth), expiresAt: entry.expiresAt }
    } catch {
      return undefined
    }
  }

  async set(key: string, value: CachedAuth, ttlMs: number): Promise<void> {
    if (!(ttlMs >= 1)) return
    const ttl = Math.floor(ttlMs)
    const entry = JSON.stringify({ auth: value, expiresAt: Date.now() + ttl })
    await this.#bounded('set', () => this.#client.set(this.#prefix + key, entry, { PX: ttl }), null)
  }

  async delete(key: string): Promise<void> {
    await this.#bounded('delete', () => this.#client.del(this.#prefix + key), 0)
  }

  async lock(key: string, ttlMs: number): Promise<boolean> {
    // Without Redis every instance is on its own: it may call the identity provider itself.
    if (!this.#client.isReady) return true
    const taken = await this.#bounded('lock', () => this.#client.set(`${this.#prefix}lock:${key}`, '1', { NX: true, PX: Math.floor(ttlMs) }), 'OK')
    return taken === 'OK'
  }

  async unlock(key: string): Promise<void> {
    await this.#bounded('unlock', () => this.#client.del(`${this.#prefix}lock:${key}`), 0)
  }

  async publish(message: RevocationMessage): Promise<void> {
    await this.#bounded('publish', () => this.#client.publish(`${this.#prefix}revocations`, JSON.stringify(message)), 0)
  }

  /** Subscribes on a connection of its own (Redis requires one for pub/sub), which reconnects by itself. */
  async subscribe(listener: (message: RevocationMessage) => void): Promise<() => Promise<void>> {
    const subscriber = this.#client.duplicate()
    subscriber.on('error', (err: Error) => this.#log?.warn({ tokenAuth: { store: 'redis', op: 'subscribe', err: err.message } }, 'revocation channel unavailable'))
    await subscriber.connect()
    await subscriber.subscribe(`${this.#prefix}revocations`, (text: string) => {
      try {
        listener(JSON.parse(text) as RevocationMessage)
      } catch {
        // Not one of ours: ignore.
      }
    })
    return async () => {
      await subscriber.quit().catch(() => undefined)
    }
  }
}
