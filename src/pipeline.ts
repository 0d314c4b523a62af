// tokenAuth(): the whole validation of one token, without Fastify. Cache hit → answer at once;
// miss → one provider call shared by every concurrent request for the token, under a deadline;
// the result is cached unless it is transient.
import { buildFailure, hasScopes, isAuthFailure, withToken, type Auth, type AuthFailure } from './auth.js'
import type { BreakerOptions } from './breaker.js'
import { cacheKey, TokenCache, type Outcome } from './cache.js'
import { channels } from './diagnostics.js'
import { checkToken } from './extract-token.js'
import { fingerprint, SILENT_LOGGER } from './log.js'
import { assertProvider, type AnyProvider, type Logger, type Provider } from './provider.js'
import { callThroughStore } from './fleet.js'
import { callProvider } from './provider-call.js'

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
}

/** Options checked once, so that the per-request path merges nothing. */
export interface PipelineSettings {
  cache: TokenCache
  timeout: number
  maxTokenLength: number
  log: Logger
  breaker: BreakerOptions | false
}

export const PIPELINE_DEFAULTS = Object.freeze({ timeout: 5_000, maxTokenLength: 8_192 })

function positiveInteger(value: unknown, fallback: number, path: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`${path} must be an integer >= 1, got ${typeof value === 'number' ? value : typeof value}`)
  }
  return value
}

export function resolveSettings(options: TokenAuthOptions, path = 'options'): PipelineSettings {
  const cache = options.cache === undefined || options.cache === false ? new TokenCache(false) : options.cache
  if (!(cache instanceof TokenCache)) throw new TypeError(`${path}.cache must be a TokenCache (createCache()) or false`)
  return {
    cache,
    timeout: positiveInteger(options.timeout, PIPELINE_DEFAULTS.timeout, `${path}.timeout`),
    maxTokenLength: positiveInteger(options.maxTokenLength, PIPELINE_DEFAULTS.maxTokenLength, `${path}.maxTokenLength`),
    log: options.logger ?? SILENT_LOGGER,
    breaker: options.breaker ?? {},
  }
}

function revokedFailure(provider: Provider<unknown>): AuthFailure {
  return buildFailure(provider.name, 'invalid_token', 'The access token was revoked')
}

type CacheEvent = 'hit' | 'negative' | 'miss' | 'joined'

function publishValidation(provider: Provider<unknown>, key: string, result: Auth | AuthFailure, cache: CacheEvent | 'breaker' | 'stale', started: number): void {
  channels.validation.publish({
    provider: provider.name,
    token: fingerprint(key),
    outcome: isAuthFailure(result) ? (result.errors[0]?.messageKey ?? 'invalid_token') : 'accepted',
    cache,
    durationMs: performance.now() - started,
  })
}

/** The namespace of a provider's cache entries: its configuration (issuer, audience) when it says, else its name. */
export function namespaceOf(provider: Provider<unknown>): string {
  return provider.namespace ?? provider.name
}

/**
 * An outage with a recent good answer for this token: serve it for the provider's
 * `staleIfError` grace (opt-in), never past the token's exp, and say so in the log.
 */
function staleOrOutcome(outcome: Outcome, provider: Provider<unknown>, key: string, settings: PipelineSettings): Outcome {
  const grace = provider.staleIfError ?? 0
  if (grace <= 0 || !('failure' in outcome) || outcome.cacheable) return outcome
  const stale = settings.cache.getStale(key, grace)
  if (stale === undefined) return outcome
  settings.log.warn({ tokenAuth: { provider: provider.name, token: fingerprint(key) } }, 'identity provider unavailable; serving the last good answer (staleIfError)')
  return { auth: stale, ttl: 0, stale: true }
}

function startFlight(provider: Provider<unknown>, token: string, key: string, settings: PipelineSettings): Promise<Outcome> {
  const { cache } = settings
  const { store } = cache
  const call = store === undefined ? callProvider(provider, token, key, settings) : callThroughStore(provider, token, key, settings, store)
  const flight = call.then((called) => {
    cache.flights.delete(key)
    let outcome = staleOrOutcome(called, provider, key, settings)
    // Revoked while the answer was on its way, or a uid revoked since the token was issued.
    if ('auth' in outcome && cache.hasDenials && cache.isDenied(key, outcome.auth)) {
      outcome = { failure: revokedFailure(provider), cacheable: false }
    }
    if ('auth' in outcome) {
      if (outcome.stale !== true) cache.set(key, outcome.auth, outcome.ttl, Date.now(), { token, namespace: namespaceOf(provider) })
    } else if (outcome.cacheable) cache.setRejected(key, outcome.failure)
    return outcome
  })
  cache.flights.set(key, flight)
  return flight
}

function settle(outcome: Outcome, token: string): Auth | AuthFailure {
  return 'auth' in outcome ? withToken(outcome.auth, token) : outcome.failure
}

/**
 * The pipeline for a token that already passed extraction (grammar and length checked): the
 * plugin's per-request entry point. A cache hit answers synchronously; a miss returns a promise.
 */
export function authenticateExtracted(token: string, provider: Provider<unknown>, settings: PipelineSettings): Auth | AuthFailure | Promise<Auth | AuthFailure> {
  const { cache } = settings
  const key = cacheKey(namespaceOf(provider), token)
  const observed = channels.validation.hasSubscribers
  const started = observed ? performance.now() : 0
  const hit = cache.get(key)
  // A revoked token never reaches the provider; a uid's revocation also refuses its cached entries.
  if (cache.hasDenials && cache.isDenied(key, hit)) return revokedFailure(provider)
  if (hit !== undefined) {
    const auth = withToken(hit, token)
    if (observed) publishValidation(provider, key, auth, 'hit', started)
    return auth
  }
  const rejected = cache.getRejected(key)
  if (rejected !== undefined) {
    if (observed) publishValidation(provider, key, rejected, 'negative', started)
    return rejected
  }
  const joined = cache.flights.get(key)
  const flight = joined ?? startFlight(provider, token, key, settings)
  if (!observed) return flight.then((outcome) => settle(outcome, token))
  return flight.then((outcome) => {
    const result = settle(outcome, token)
    const event = outcome.breakerOpen === true ? 'breaker' : 'auth' in outcome && outcome.stale === true ? 'stale' : joined !== undefined ? 'joined' : 'miss'
    publishValidation(provider, key, result, event, started)
    return result
  })
}

/** The pipeline for any string: bad syntax is refused before the cache or the provider see it. */
export function authenticate(token: string, provider: Provider<unknown>, settings: PipelineSettings): Auth | AuthFailure | Promise<Auth | AuthFailure> {
  if (token.length === 0) return buildFailure(provider.name, 'missing_token')
  const syntax = checkToken(token, settings.maxTokenLength)
  if (typeof syntax !== 'string') return buildFailure(provider.name, syntax.key, syntax.description)
  return authenticateExtracted(token, provider, settings)
}

/** Applies a scope requirement to a result: the cache holds claims, never this decision. */
export function requireScopes(result: Auth | AuthFailure, scopes: readonly string[] | undefined): Auth | AuthFailure {
  if (scopes === undefined || scopes.length === 0 || isAuthFailure(result) || hasScopes(result, scopes)) return result
  return buildFailure(result.provider, 'insufficient_scope')
}

/**
 * Validates one bearer token with a provider: `Auth` when accepted, `AuthFailure` otherwise.
 * Never throws for a bad token or a provider outage; throws TypeError for bad options.
 */
export async function tokenAuth(token: string, provider: AnyProvider, options: TokenAuthOptions = {}): Promise<Auth | AuthFailure> {
  assertProvider(provider, 'provider')
  const settings = resolveSettings(options)
  if (typeof token !== 'string') return buildFailure(provider.name, 'missing_token')
  return requireScopes(await authenticate(token, provider, settings), options.scopes)
}

/** A cache to share between tokenAuth() calls or plugin registrations. */
export function createCache(options: ConstructorParameters<typeof TokenCache>[0] = {}): TokenCache {
  return new TokenCache(options)
}
