// tokenAuth(): the whole validation of one token, without Fastify. Cache hit → answer at once;
// miss → one provider call shared by every concurrent request for the token, under a deadline;
// the result is cached unless it is transient.
import {
  buildFailure, hasScopes, isAuthFailure, STRATEGY, withToken, type Auth, type AuthFailure, type CachedAuth,
} from './auth.js'
import { cacheKey, TokenCache, type Outcome } from './cache.js'
import { isInvalidTokenError, isProviderUnavailableError, InvalidTokenError, ProviderUnavailableError } from './errors.js'
import { checkToken } from './extract-token.js'
import { describeError, fingerprint, SILENT_LOGGER } from './log.js'
import { assertProvider, type AnyProvider, type Logger, type Provider, type ProviderContext } from './provider.js'

export interface TokenAuthOptions {
  /** A shared TokenCache (see createCache), or false / absent for none. */
  cache?: TokenCache | false
  /** Deadline for the provider's answer, in ms. Default 5,000. */
  timeout?: number
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
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const member of Object.values(value)) deepFreeze(member)
  }
  return value
}

function rejectOnAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value) },
      (err: Error) => { signal.removeEventListener('abort', onAbort); reject(err) },
    )
  })
}

async function validate(provider: Provider<unknown>, token: string, ctx: ProviderContext): Promise<Outcome> {
  const payload = await provider.getPayload(token, ctx)
  if ((await provider.validToken(token, payload, ctx)) !== true) throw new InvalidTokenError()
  const uid = provider.getUid(payload)
  if (typeof uid !== 'string' || uid.length === 0) {
    throw new InvalidTokenError('The access token names no subject', { detail: 'getUid returned no string' })
  }
  const auth: CachedAuth = {
    uid,
    provider: provider.name,
    strategy: STRATEGY,
    credentials: provider.getCredentials(payload),
    info: provider.getInfo(payload),
    extra: provider.getExtra(payload),
  }
  // Shared by every request that hits this entry: nobody may change it under the others.
  return { auth: deepFreeze(auth), ttl: provider.getTtl(payload) }
}

/** Runs the provider under the deadline and turns every error into a failure outcome. */
async function callProvider(provider: Provider<unknown>, token: string, key: string, settings: PipelineSettings): Promise<Outcome> {
  const controller = new AbortController()
  const timer = setTimeout(() => {
    controller.abort(new ProviderUnavailableError('The identity provider did not answer in time', {
      cause: new Error(`no answer within ${settings.timeout} ms`),
    }))
  }, settings.timeout)
  const ctx: ProviderContext = { signal: controller.signal, log: settings.log }
  try {
    return await rejectOnAbort(validate(provider, token, ctx), controller.signal)
  } catch (err) {
    return failureOutcome(err, provider.name, token, key, settings.log)
  } finally {
    clearTimeout(timer)
  }
}

/** A provider's message, unless it quotes the token: then the generic one (undefined). */
function publicMessage(message: string, token: string): string | undefined {
  return message.length > 0 && !message.includes(token) ? message : undefined
}

function failureOutcome(err: unknown, providerName: string, token: string, key: string, log: Logger): Outcome {
  const tokenRef = fingerprint(key)
  if (isInvalidTokenError(err)) {
    log.debug({ tokenAuth: { provider: providerName, token: tokenRef, key: 'invalid_token', err: describeError(err, token) } }, 'token rejected')
    return { failure: Object.freeze(buildFailure(providerName, 'invalid_token', publicMessage(err.message, token))), cacheable: true }
  }
  if (isProviderUnavailableError(err)) {
    log.warn({ tokenAuth: { provider: providerName, token: tokenRef, key: 'provider_unavailable', err: describeError(err, token) } }, 'identity provider unavailable')
    return { failure: buildFailure(providerName, 'provider_unavailable', publicMessage(err.message, token), err.retryAfter), cacheable: false }
  }
  // Anything else is a bug in the provider: fail closed, loudly, and do not remember it.
  log.error({ tokenAuth: { provider: providerName, token: tokenRef, key: 'provider_unavailable', err: describeError(err, token) } }, 'provider threw an unexpected error')
  return { failure: buildFailure(providerName, 'provider_unavailable'), cacheable: false }
}

function settle(outcome: Outcome, token: string): Auth | AuthFailure {
  return 'auth' in outcome ? withToken(outcome.auth, token) : outcome.failure
}

function startFlight(provider: Provider<unknown>, token: string, key: string, settings: PipelineSettings): Promise<Outcome> {
  const { cache } = settings
  const flight = callProvider(provider, token, key, settings).then((outcome) => {
    cache.flights.delete(key)
    if ('auth' in outcome) cache.set(key, outcome.auth, outcome.ttl)
    else if (outcome.cacheable) cache.setRejected(key, outcome.failure)
    return outcome
  })
  cache.flights.set(key, flight)
  return flight
}

/**
 * The pipeline for a token that already passed extraction (grammar and length checked): the
 * plugin's per-request entry point. A cache hit answers synchronously; a miss returns a promise.
 */
export function authenticateExtracted(token: string, provider: Provider<unknown>, settings: PipelineSettings): Auth | AuthFailure | Promise<Auth | AuthFailure> {
  const { cache } = settings
  const key = cacheKey(provider.name, token)
  const hit = cache.get(key)
  if (hit !== undefined) return withToken(hit, token)
  const rejected = cache.getRejected(key)
  if (rejected !== undefined) return rejected
  const flight = cache.flights.get(key) ?? startFlight(provider, token, key, settings)
  return flight.then((outcome) => settle(outcome, token))
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
