// JSON Web Key Sets (RFC 7517) for verifying tokens: a local set whose keys become node:crypto
// KeyObjects once, matched to a token's header as jose's createLocalJWKSet matches them; and a
// remote set fetched with undici, shared by concurrent callers, refreshed when it ages, refetched
// on an unknown `kid` at most once per cooldown, and kept (stale) while a refresh fails.
import { createPublicKey, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto'
import type { JSONWebKeySet, JWK } from 'jose'
import type { Dispatcher } from 'undici'
import { ProviderUnavailableError } from '../src/errors.js'
import { asObject, DEFAULT_HTTP_TIMEOUT, fetchJson, unexpectedStatus } from '../src/http.js'
import type { Logger } from '../src/provider.js'
import { JoseFailure, keyFits, verifyInput, type JoseHeader, type JwsAlgorithm } from './jws.js'

export interface RemoteJwksOptions {
  /** Deadline of one fetch, in ms (1 to 300,000). Default 5,000. */
  timeout?: number
  /**
   * Least time between two refetches caused by an unknown `kid`, in ms (0 to 86,400,000): a flood
   * of tokens with made-up kids costs one fetch per cooldown. Default 30,000.
   */
  cooldown?: number
  /** Age after which the key set is refreshed before use, in ms (1 to 604,800,000). Default 600,000 (10 min). */
  maxAge?: number
  /** How long past maxAge a key set is still used while refreshes fail, in ms (0 to 604,800,000). Default 86,400,000 (1 day). */
  maxStale?: number
  /** Largest key set read, in bytes (1,024 to 16,777,216). Default 512 KiB. */
  maxBytes?: number
  /** An undici Dispatcher, or a function giving it at fetch time (a pool made once the URL is known). */
  dispatcher?: Dispatcher | (() => Dispatcher | undefined)
}

/** The numeric options' ranges, for the checks at construction (inclusive). */
export const JWKS_OPTION_RANGES = Object.freeze({
  timeout: [1, 300_000],
  cooldown: [0, 86_400_000],
  maxAge: [1, 604_800_000],
  maxStale: [0, 604_800_000],
  maxBytes: [1_024, 16 * 1024 * 1024],
} as const)

/** A number within [min, max], or a TypeError naming the option. */
export function checkRange(value: unknown, path: string, [min, max]: readonly [number, number]): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(`${path} must be a number from ${min.toLocaleString('en')} to ${max.toLocaleString('en')}`)
  }
  return value
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

/** What crypto.verify takes as the key: a KeyObject, with its padding or signature encoding. */
export type VerifyInput = KeyObject | VerifyKeyObjectInput

interface KeyEntry {
  readonly kty: unknown
  readonly kid: unknown
  readonly alg: unknown
  readonly crv: unknown
  /** `ext`, `key_ops` and `use` allow verification (what jose requires of a candidate). */
  readonly eligible: boolean
  /** Whether jose could import it for verification: `key_ops`, when present, names `verify` only. */
  readonly importable: boolean
  /** Undefined when node:crypto cannot read the JWK. */
  readonly key: KeyObject | undefined
  /** Per alg: the verify input, or null when the key does not fit that alg (size, curve). */
  readonly inputs: Map<string, VerifyInput | null>
}

function keyOpsAllowVerify(keyOps: unknown): boolean {
  return keyOps === undefined || (Array.isArray(keyOps) && keyOps.every((op, i) => typeof op === 'string' && keyOps.indexOf(op) === i) && keyOps.includes('verify'))
}

function entryOf(jwk: JWK): KeyEntry {
  const { kty, kid, alg, crv, ext, use, key_ops: keyOps } = jwk
  let key: KeyObject | undefined
  try {
    key = createPublicKey({ key: jwk, format: 'jwk' })
  } catch {
    key = undefined
  }
  return {
    kty, kid, alg, crv, key,
    eligible: (ext === undefined || typeof ext === 'boolean') && keyOpsAllowVerify(keyOps) && (use === undefined || use === 'sig'),
    // WebCrypto imports a public key only for the usages it allows: `verify`, nothing else.
    importable: keyOps === undefined || (Array.isArray(keyOps) && keyOps.every((op) => op === 'verify')),
    inputs: new Map(),
  }
}

/** A key set whose keys are read once; `keyFor` picks the one key a header designates. */
export class JwkSet {
  /** The kids of the set (what a report of an unknown kid names). */
  readonly kids: readonly string[]
  readonly #entries: readonly KeyEntry[]

  /** `set` is taken as given: pass it through publicSigningKeys() first. */
  constructor(set: JSONWebKeySet) {
    this.#entries = set.keys.map(entryOf)
    this.kids = Object.freeze(set.keys.map((key) => key.kid ?? '(no kid)'))
  }

  /**
   * The key for a header, matched as jose's createLocalJWKSet does: the `kid` (when the header
   * names one), the key type and curve of the alg, the JWK's own `alg`, `use` and `key_ops`.
   * No key, or more than one: refused.
   */
  keyFor(header: JoseHeader, algorithm: JwsAlgorithm): VerifyInput {
    const { kid } = header
    let found: KeyEntry | undefined
    for (const entry of this.#entries) {
      if (!entry.eligible || entry.kty !== algorithm.kty) continue
      if (kid !== undefined && (typeof kid !== 'string' || kid !== entry.kid)) continue
      if (entry.alg !== undefined && entry.alg !== algorithm.alg) continue
      if (algorithm.crv !== undefined && entry.crv !== algorithm.crv) continue
      if (found !== undefined) throw new JoseFailure('ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'multiple matching keys found in the JSON Web Key Set')
      found = entry
    }
    if (found === undefined) throw new JoseFailure('ERR_JWKS_NO_MATCHING_KEY', 'no applicable key found in the JSON Web Key Set')
    let input = found.inputs.get(algorithm.alg)
    if (input === undefined) {
      const { key } = found
      input = key !== undefined && found.importable && keyFits(key, algorithm) ? verifyInput(key, algorithm) : null
      found.inputs.set(algorithm.alg, input)
    }
    if (input === null) throw new JoseFailure('ERR_JWK_INVALID', `the matching key cannot verify ${algorithm.alg} (unreadable, too small, or restricted by key_ops)`)
    return input
  }
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
  #keys: JwkSet | undefined
  #fetchedAt = 0
  #lastKidRefetch = -Infinity
  #pending: Promise<JwkSet> | undefined

  constructor(uri: string | (() => Promise<string>), options: RemoteJwksOptions = {}) {
    this.#uri = typeof uri === 'string' ? () => Promise.resolve(uri) : uri
    const range = (name: keyof typeof JWKS_OPTION_RANGES): number | undefined => checkRange(options[name], `RemoteJwks: ${name}`, JWKS_OPTION_RANGES[name])
    this.#timeout = range('timeout') ?? DEFAULT_HTTP_TIMEOUT
    this.#cooldown = range('cooldown') ?? 30_000
    this.#maxAge = range('maxAge') ?? 600_000
    this.#maxStale = range('maxStale') ?? 86_400_000
    this.#maxBytes = range('maxBytes') ?? 512 * 1024
    const { dispatcher } = options
    this.#dispatcher = typeof dispatcher === 'function' ? dispatcher : () => dispatcher
  }

  /** The kids of the key set in use (what a report of an unknown kid names). */
  get kids(): readonly string[] {
    return this.#keys?.kids ?? []
  }

  /** One fetch at a time; concurrent callers share it. */
  reload(signal?: AbortSignal): Promise<JwkSet> {
    this.#pending ??= this.#fetch(signal).finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #fetch(signal: AbortSignal | undefined): Promise<JwkSet> {
    const uri = await this.#uri()
    this.fetches++
    const answer = await fetchJson(uri, {
      timeout: this.#timeout, maxBytes: this.#maxBytes, dispatcher: this.#dispatcher(), signal,
      what: 'JWKS endpoint', document: 'jwks', headers: { accept: 'application/json, application/jwk-set+json' },
    })
    if (answer.status !== 200) throw unexpectedStatus(answer, 'JWKS endpoint')
    const keys = new JwkSet(publicSigningKeys(answer.json))
    this.#keys = keys
    this.#fetchedAt = Date.now()
    return keys
  }

  /** The key set, synchronously, while it is younger than maxAge; otherwise undefined (use keySet()). */
  fresh(): JwkSet | undefined {
    return this.#keys !== undefined && Date.now() - this.#fetchedAt < this.#maxAge ? this.#keys : undefined
  }

  /** The current key set: refreshed when old, kept while a refresh fails and it is not too stale. */
  async keySet(signal?: AbortSignal): Promise<JwkSet> {
    const fresh = this.fresh()
    if (fresh !== undefined) return fresh
    const age = Date.now() - this.#fetchedAt
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

  /**
   * After an unknown `kid` (perhaps a rotation): the refetched set, joined when a fetch is already
   * under way; undefined when the cooldown forbids another fetch.
   */
  refetchForUnknownKid(signal?: AbortSignal): Promise<JwkSet> | undefined {
    if (this.#pending !== undefined) return this.#pending
    const now = Date.now()
    if (now - this.#lastKidRefetch < this.#cooldown) return undefined
    this.#lastKidRefetch = now
    return this.reload(signal)
  }
}
