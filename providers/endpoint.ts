// What every HTTP-backed provider needs: its endpoint (given, or discovered from the issuer once
// and again after a failure), the connection pool it owns unless the user passed a Dispatcher,
// and a startup that fails on misconfiguration but only warns when the identity provider is down.
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
}

export class ProviderEndpoint {
  readonly #options: EndpointOptions
  #url: Promise<string> | undefined
  #pool: Pool | undefined

  constructor(options: EndpointOptions) {
    this.#options = options
  }

  /** The endpoint URL; discovery runs once, and again after it failed. */
  url(): Promise<string> {
    const { endpoint, issuer, member, timeout, dispatcher } = this.#options
    this.#url ??= (endpoint !== undefined ? Promise.resolve(endpoint) : discoverEndpoint(issuer!, member, { timeout, dispatcher }))
      .catch((err: unknown) => {
        this.#url = undefined
        throw err
      })
    return this.#url
  }

  /** The user's Dispatcher, or a keep-alive pool for the endpoint's origin, made once. */
  dispatcher(url: string): Dispatcher {
    if (this.#options.dispatcher !== undefined) return this.#options.dispatcher
    this.#pool ??= createPool(url)
    return this.#pool
  }

  async close(): Promise<void> {
    const pool = this.#pool
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
