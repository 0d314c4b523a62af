// What every HTTP-backed provider needs: its endpoint (given, or read from the issuer's discovery
// document, which is refreshed as it ages), the connection pool it owns unless the user passed a
// Dispatcher, and a startup that fails on misconfiguration but only warns when the identity
// provider is down.
import type { Dispatcher, Pool } from 'undici'
import { createPool } from '../src/http.js'
import type { Logger } from '../src/provider.js'
import { discoverEndpoint } from './discovery.js'

export interface EndpointOptions {
  endpoint?: string
  issuer?: string
  member: 'jwks_uri' | 'introspection_endpoint' | 'userinfo_endpoint'
  timeout: number
  dispatcher?: Dispatcher
  /** The clock for discovery's max age, in ms since the epoch. Default `Date.now`. */
  now?: () => number
}

export class ProviderEndpoint {
  readonly #options: EndpointOptions
  #pool: { origin: string; pool: Pool } | undefined
  /** Where a failed discovery refresh is reported; set by the provider's `ready()`. */
  log: Logger | undefined

  constructor(options: EndpointOptions) {
    this.#options = options
  }

  /** The endpoint URL: given, or from the issuer's discovery document (fetched once, refreshed when stale). */
  url(): Promise<string> {
    const { endpoint, issuer, member, timeout, dispatcher, now } = this.#options
    if (endpoint !== undefined) return Promise.resolve(endpoint)
    return discoverEndpoint(issuer!, member, { timeout, dispatcher, now, log: this.log })
  }

  /**
   * The user's Dispatcher, or a keep-alive pool for the endpoint's origin. A refreshed discovery
   * document may move the endpoint to another origin: the old pool then closes once its requests end.
   */
  dispatcher(url: string): Dispatcher {
    if (this.#options.dispatcher !== undefined) return this.#options.dispatcher
    const origin = new URL(url).origin
    if (this.#pool?.origin !== origin) {
      const old = this.#pool?.pool
      this.#pool = { origin, pool: createPool(url) }
      old?.close().catch(() => undefined)
    }
    return this.#pool.pool
  }

  async close(): Promise<void> {
    const pool = this.#pool?.pool
    this.#pool = undefined
    await pool?.close()
  }
}

/**
 * Runs a provider's startup work: a configuration error stops the app; an unreachable identity
 * provider is logged, and the provider retries on the first token.
 */
export async function startOrWarn(log: Logger, providerName: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work()
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_TOKEN_AUTH_CONFIGURATION') throw err
    log.warn({ tokenAuth: { provider: providerName, err: (err as Error).message } }, 'identity provider unreachable at startup; will retry on the first token')
  }
}
