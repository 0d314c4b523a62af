// A remote JSON Web Key Set (RFC 7517) for verifying tokens: fetched with undici, shared by
// concurrent callers, refreshed when it ages, refetched on an unknown `kid` at most once per
// cooldown, and kept (stale) while a refresh fails. Key matching is jose's createLocalJWKSet.
import { createLocalJWKSet, type FlattenedJWSInput, type JSONWebKeySet, type JWK, type JWSHeaderParameters } from 'jose'
import type { Dispatcher } from 'undici'
import { ProviderUnavailableError } from '../src/errors.js'
import { asObject, DEFAULT_HTTP_TIMEOUT, fetchJson, unexpectedStatus } from '../src/http.js'
import type { Logger } from '../src/provider.js'

type KeyGetter = ReturnType<typeof createLocalJWKSet>
export type VerificationKey = Awaited<ReturnType<KeyGetter>>

export interface RemoteJwksOptions {
  /** Deadline of one fetch, in ms. Default 5,000. */
  timeout?: number
  /**
   * Least time between two refetches caused by an unknown `kid`, in ms: a flood of tokens with
   * made-up kids costs one fetch per cooldown. Default 30,000.
   */
  cooldown?: number
  /** Age after which the key set is refreshed before use, in ms. Default 600,000 (10 min). */
  maxAge?: number
  /** How long past maxAge a key set is still used while refreshes fail, in ms. Default 86,400,000 (1 day). */
  maxStale?: number
  /** Largest key set read, in bytes. Default 512 KiB. */
  maxBytes?: number
  /** An undici Dispatcher, or a function giving it at fetch time (a pool made once the URL is known). */
  dispatcher?: Dispatcher | (() => Dispatcher | undefined)
}

const ASYMMETRIC = new Set(['RSA', 'EC', 'OKP'])

/**
 * Only public signing keys: a symmetric (`oct`) key in a published set would let anyone holding
 * the set forge tokens; private members, other uses and malformed entries are dropped too.
 */
export function publicSigningKeys(value: unknown): JSONWebKeySet {
  const keys = asObject(value)?.keys
  if (!Array.isArray(keys)) throw new ProviderUnavailableError('The JWKS endpoint answered without a "keys" array')
  const usable = keys.filter((key): key is JWK => {
    const jwk = asObject(key)
    return jwk !== undefined && typeof jwk.kty === 'string' && ASYMMETRIC.has(jwk.kty) &&
      jwk.d === undefined && (jwk.use === undefined || jwk.use === 'sig') &&
      (jwk.kid === undefined || typeof jwk.kid === 'string')
  })
  return { keys: usable }
}

export class RemoteJwks {
  /** Fetches made so far (for tests and metrics). */
  fetches = 0
  readonly #uri: () => Promise<string>
  readonly #timeout: number
  readonly #cooldown: number
  readonly #maxAge: number
  readonly #maxStale: number
  readonly #maxBytes: number
  readonly #dispatcher: () => Dispatcher | undefined
  /** Where a stale key set in use is reported. */
  log: Logger | undefined
  #keys: KeyGetter | undefined
  #kids: readonly string[] = []
  #fetchedAt = 0
  #lastKidRefetch = -Infinity
  #pending: Promise<KeyGetter> | undefined

  constructor(uri: string | (() => Promise<string>), options: RemoteJwksOptions = {}) {
    this.#uri = typeof uri === 'string' ? () => Promise.resolve(uri) : uri
    this.#timeout = options.timeout ?? DEFAULT_HTTP_TIMEOUT
    this.#cooldown = options.cooldown ?? 30_000
    this.#maxAge = options.maxAge ?? 600_000
    this.#maxStale = options.maxStale ?? 86_400_000
    this.#maxBytes = options.maxBytes ?? 512 * 1024
    const { dispatcher } = options
    this.#dispatcher = typeof dispatcher === 'function' ? dispatcher : () => dispatcher
  }

  /** The kids of the key set in use (what a report of an unknown kid names). */
  get kids(): readonly string[] {
    return this.#kids
  }

  /** One fetch at a time; concurrent callers share it. */
  reload(signal?: AbortSignal): Promise<KeyGetter> {
    this.#pending ??= this.#fetch(signal).finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #fetch(signal: AbortSignal | undefined): Promise<KeyGetter> {
    const uri = await this.#uri()
    this.fetches++
    const answer = await fetchJson(uri, {
      timeout: this.#timeout, maxBytes: this.#maxBytes, dispatcher: this.#dispatcher(), signal,
      what: 'JWKS endpoint', headers: { accept: 'application/json, application/jwk-set+json' },
    })
    if (answer.status !== 200) throw unexpectedStatus(answer, 'JWKS endpoint')
    const set = publicSigningKeys(answer.json)
    const keys = createLocalJWKSet(set)
    this.#keys = keys
    this.#kids = Object.freeze(set.keys.map((key) => key.kid ?? '(no kid)'))
    this.#fetchedAt = Date.now()
    return keys
  }

  /** The current key set: refreshed when old, kept while a refresh fails and it is not too stale. */
  async #current(signal: AbortSignal | undefined): Promise<KeyGetter> {
    const age = Date.now() - this.#fetchedAt
    if (this.#keys !== undefined && age < this.#maxAge) return this.#keys
    try {
      return await this.reload(signal)
    } catch (err) {
      if (this.#keys !== undefined && age < this.#maxAge + this.#maxStale) {
        this.log?.warn({ tokenAuth: { jwks: 'stale', ageMs: age } }, 'JWKS refresh failed; using the last good key set')
        return this.#keys
      }
      throw err
    }
  }

  /** The key for a token's header (jose's key-function shape). */
  async getKey(header: JWSHeaderParameters, token: FlattenedJWSInput, signal?: AbortSignal): Promise<VerificationKey> {
    const keys = await this.#current(signal)
    try {
      return await keys(header, token)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err
      // An unknown kid: perhaps a rotation. Refetch, but not more than once per cooldown.
      const now = Date.now()
      if (now - this.#lastKidRefetch < this.#cooldown) throw err
      this.#lastKidRefetch = now
      return (await this.reload(signal))(header, token)
    }
  }
}
