// Every failure this library can report, its HTTP status, and how it is written on the wire
// (RFC 6750 §3 WWW-Authenticate challenges). Nothing else in the code base decides a status.

/** The failure keys, as RFC 6750 §3.1 names them plus our own two. */
export type FailureKey =
  | 'missing_token'
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'provider_unavailable'
  | 'too_many_attempts'

interface FailureSpec {
  readonly status: 400 | 401 | 403 | 429 | 503
  /** Whether the challenge names an `error=` code; RFC 6750 §3.1 omits it when no token came. */
  readonly challengeError: boolean
  /** The generic public description used when nothing more specific is known. */
  readonly description: string
}

export const FAILURES: Readonly<Record<FailureKey, FailureSpec>> = Object.freeze({
  missing_token: { status: 401, challengeError: false, description: 'An access token is required' },
  invalid_request: { status: 400, challengeError: true, description: 'The request carries a malformed access token' },
  invalid_token: { status: 401, challengeError: true, description: 'The access token is invalid' },
  insufficient_scope: { status: 403, challengeError: true, description: 'The access token lacks a required scope' },
  invalid_dpop_proof: { status: 401, challengeError: true, description: 'The DPoP proof is invalid' },
  provider_unavailable: { status: 503, challengeError: false, description: 'The identity provider is unavailable' },
  too_many_attempts: { status: 429, challengeError: false, description: 'Too many unknown access tokens from this client: try again later' },
})

/** Seconds a client is told to wait after a 503 when the provider gave no hint. */
export const DEFAULT_RETRY_AFTER = 5

/** Base class: every error this library throws on purpose carries a stable `code`. */
export class TokenAuthError extends Error {
  readonly code: string = 'ERR_TOKEN_AUTH'
  override name = 'TokenAuthError'
}

/**
 * Why a token was refused or an answer could not be had, for code that reacts to it (the CLI's
 * hints, metrics): a stable word, never parsed from the message. Absent when nothing more
 * specific than the error's class is known.
 */
export type FailureReason =
  // the token
  | 'malformed' | 'signature' | 'algorithm' | 'unknown_key' | 'expired' | 'not_yet_valid'
  | 'issuer' | 'audience' | 'type' | 'missing_claim' | 'claim_type' | 'subject' | 'inactive'
  | 'revoked' | 'validate' | 'binding' | 'scope' | 'claim_value' | 'check'
  // the identity provider answered about the token with a refusal that says no more (a 4xx)
  | 'refused'
  // the identity provider
  | 'timeout' | 'network' | 'status' | 'rate_limited' | 'bad_answer' | 'client_auth' | 'circuit_open'

/**
 * The token is not acceptable (bad signature, expired, inactive, wrong audience…).
 * `message` is public: it becomes the `error_description`, so keep it generic and never put
 * the token in it. Put the detail for operators in `detail`; it is logged, never sent.
 */
export class InvalidTokenError extends TokenAuthError {
  override readonly code = 'ERR_TOKEN_AUTH_INVALID_TOKEN'
  override name = 'InvalidTokenError'
  readonly detail: string | undefined
  readonly reason: FailureReason | undefined
  constructor(message = FAILURES.invalid_token.description, options?: { detail?: string; reason?: FailureReason; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.detail = options?.detail
    this.reason = options?.reason
  }
}

/**
 * The identity provider could not give an answer (timeout, 5xx, connection error, garbage).
 * Never cached; answered with 503 and `Retry-After`.
 */
export class ProviderUnavailableError extends TokenAuthError {
  override readonly code = 'ERR_TOKEN_AUTH_PROVIDER_UNAVAILABLE'
  override name = 'ProviderUnavailableError'
  /** Seconds the client should wait, when the identity provider said so. */
  readonly retryAfter: number | undefined
  /**
   * Whether one quick retry may succeed: a refused or reset connection, a 502 from a proxy.
   * Not a timeout (a slow identity provider is not helped by more load), not a 429.
   */
  readonly retryable: boolean
  readonly reason: FailureReason | undefined
  constructor(message = FAILURES.provider_unavailable.description, options?: { retryAfter?: number; retryable?: boolean; reason?: FailureReason; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.retryAfter = options?.retryAfter
    this.retryable = options?.retryable ?? false
    this.reason = options?.reason
  }
}

/**
 * The library or a provider is configured wrongly (discovery names another issuer, an endpoint
 * is missing). Thrown at registration, never per request.
 */
export class ConfigurationError extends TokenAuthError {
  override readonly code = 'ERR_TOKEN_AUTH_CONFIGURATION'
  override name = 'ConfigurationError'
}

/** Codes are checked rather than `instanceof`, so that two copies of the package still agree. */
export function isInvalidTokenError(err: unknown): err is InvalidTokenError {
  return (err as { code?: unknown } | null)?.code === 'ERR_TOKEN_AUTH_INVALID_TOKEN'
}

export function isProviderUnavailableError(err: unknown): err is ProviderUnavailableError {
  return (err as { code?: unknown } | null)?.code === 'ERR_TOKEN_AUTH_PROVIDER_UNAVAILABLE'
}

// RFC 6750 §3: error_description and scope values are limited to %x20-21 / %x23-5B / %x5D-7E,
// so a quote, a backslash, CR/LF or any non-ASCII byte can never break out of the header.
const NOT_QUOTABLE = /[^\x20\x21\x23-\x5B\x5D-\x7E]/g

/** Makes a string safe inside a quoted WWW-Authenticate parameter. */
export function quotable(value: string): string {
  return value.replace(NOT_QUOTABLE, '')
}

export interface ChallengeParams {
  realm: string | undefined
  key: FailureKey
  description?: string
  /** Scopes the route needs; sent with insufficient_scope (RFC 6750 §3). */
  scopes?: readonly string[]
  /** RFC 9728 §5.1: where the protected resource's metadata is. */
  resourceMetadata?: string
  /** `DPoP` challenges (RFC 9449 §7.1) name the proof algorithms accepted. */
  scheme?: 'Bearer' | 'DPoP'
  algs?: readonly string[]
}

/** The `WWW-Authenticate` value for a failure, or undefined for 503 and 429 (not an auth challenge). */
export function challenge({ realm, key, description, scopes, resourceMetadata, scheme = 'Bearer', algs }: ChallengeParams): string | undefined {
  const spec = FAILURES[key]
  if (spec.status === 503 || spec.status === 429) return undefined
  const params: string[] = []
  if (realm !== undefined) params.push(`realm="${quotable(realm)}"`)
  if (scheme === 'DPoP' && algs !== undefined) params.push(`algs="${quotable(algs.join(' '))}"`)
  if (resourceMetadata !== undefined) params.push(`resource_metadata="${quotable(resourceMetadata)}"`)
  if (spec.challengeError) {
    params.push(`error="${key}"`)
    params.push(`error_description="${quotable(description ?? spec.description)}"`)
    if (key === 'insufficient_scope' && scopes !== undefined && scopes.length > 0) {
      params.push(`scope="${quotable(scopes.join(' '))}"`)
    }
  }
  return params.length === 0 ? scheme : `${scheme} ${params.join(', ')}`
}
