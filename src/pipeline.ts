// tokenAuth(): the whole validation of one token without Fastify, as a door of the engine: the
// same checks in the same order as the plugin (grammar, revocation, cache, single-flight, store,
// provider, sender binding, scopes). Never throws for a token; throws TypeError for bad options.
import { buildFailure, type Auth, type AuthFailure } from './auth.js'
import { NO_PROOF, type Facts } from './binding.js'
import type { BreakerOptions } from './breaker.js'
import { TokenCache } from './cache.js'
import { checkBreaker } from './breaker.js'
import { integerOption } from './defaults.js'
import { DpopVerifier } from './dpop.js'
import { Engine, type EngineSettings } from './engine.js'
import { SILENT_LOGGER } from './log.js'
import { assertProvider, type AnyProvider, type Logger } from './provider.js'

export interface TokenAuthOptions {
  /** A shared TokenCache (see createCache), or false / absent for none. */
  cache?: TokenCache | false
  /** Deadline for validating one token at the provider (a retry included), in ms. Default 5,000. */
  timeout?: number
  /** Circuit breaker per provider: `{ threshold, cooldown }`, or false. Default `{ threshold: 5, cooldown: 10_000 }`. */
  breaker?: BreakerOptions | false
  /** Scopes the token must carry; otherwise an `insufficient_scope` failure. */
  scopes?: readonly string[]
  /** Longest token accepted, in characters. Default 8,192. */
  maxTokenLength?: number
  /** Pino-compatible logger. Default: silent. */
  logger?: Logger
  /**
   * How the token was presented, for sender-constrained tokens (RFC 9449 DPoP, RFC 8705 mTLS):
   * without it a bound token is refused, since its proof cannot be checked.
   */
  presentation?: Presentation
}

export interface Presentation {
  /** The Authorization scheme it came with. Default `'Bearer'`. */
  scheme?: 'Bearer' | 'DPoP'
  /** The request's method and absolute URL (what a DPoP proof names). */
  method?: string
  url?: string
  /** The DPoP header, when one came. */
  dpop?: string
  /** The TLS client certificate (DER) of the connection. */
  certificate?: Buffer
}

const TOKEN_AUTH_OPTIONS = new Set(['cache', 'timeout', 'breaker', 'scopes', 'maxTokenLength', 'logger', 'presentation'])


export function resolveSettings(options: Omit<TokenAuthOptions, 'scopes' | 'presentation'>, path = 'options'): EngineSettings {
  const cache = options.cache === undefined || options.cache === false ? new TokenCache(false) : options.cache
  if (!(cache instanceof TokenCache)) throw new TypeError(`${path}.cache must be a TokenCache (createCache()) or false`)
  return {
    cache,
    timeout: integerOption(options.timeout, 'timeout', `${path}.timeout`),
    maxTokenLength: integerOption(options.maxTokenLength, 'maxTokenLength', `${path}.maxTokenLength`),
    log: options.logger ?? SILENT_LOGGER,
    breaker: checkBreaker(options.breaker, `${path}.breaker`),
  }
}

function checkScopes(scopes: unknown): readonly string[] {
  if (scopes === undefined) return []
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string' && scope.length > 0)) {
    throw new TypeError('options.scopes must be an array of non-empty strings')
  }
  return scopes as string[]
}

/** DPoP proofs seen, per cache (so that a proof is single-use across calls that share one), or for calls without. */
const verifiers = new WeakMap<TokenCache, DpopVerifier>()
const uncachedVerifier = new DpopVerifier()

function factsOf(presentation: Presentation | undefined): Facts {
  if (presentation === undefined) return NO_PROOF
  if (presentation === null || typeof presentation !== 'object') throw new TypeError('options.presentation must be an object')
  const { scheme = 'Bearer', method, url, dpop, certificate } = presentation
  if (scheme !== 'Bearer' && scheme !== 'DPoP') throw new TypeError("options.presentation.scheme must be 'Bearer' or 'DPoP'")
  if (certificate !== undefined && !Buffer.isBuffer(certificate)) throw new TypeError('options.presentation.certificate must be a Buffer (DER)')
  const facts: Facts = { scheme, certificate: () => certificate }
  if (method !== undefined || url !== undefined) {
    if (typeof method !== 'string' || typeof url !== 'string' || !URL.canParse(url)) throw new TypeError('options.presentation: method and an absolute url go together')
    facts.proof = () => ({ method, url, proof: dpop, proofCount: dpop === undefined ? 0 : 1 })
  }
  return facts
}

/**
 * Validates one bearer token with a provider: `Auth` when accepted, `AuthFailure` otherwise.
 * Never throws for a bad token or a provider outage; throws TypeError for bad options.
 */
export async function tokenAuth(token: string, provider: AnyProvider, options: TokenAuthOptions = {}): Promise<Auth | AuthFailure> {
  assertProvider(provider, 'provider')
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  for (const name of Object.keys(options)) {
    if (!TOKEN_AUTH_OPTIONS.has(name)) throw new TypeError(`options: unknown option "${name}"`)
  }
  const settings = resolveSettings(options)
  const scopes = checkScopes(options.scopes)
  const facts = factsOf(options.presentation)
  const { cache } = settings
  let verifier = cache.enabled ? verifiers.get(cache) : uncachedVerifier
  if (verifier === undefined) verifiers.set(cache, (verifier = new DpopVerifier()))
  const engine = new Engine({ provider, settings, verifier })
  if (typeof token !== 'string') return buildFailure(provider.name, 'missing_token')
  return engine.check(token, facts, { scopes })
}

export { namespaceOf } from './namespace.js'

/** A cache to share between tokenAuth() calls or plugin registrations. */
export function createCache(options: ConstructorParameters<typeof TokenCache>[0] = {}): TokenCache {
  return new TokenCache(options)
}
