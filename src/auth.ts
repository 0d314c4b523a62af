// The two results of authentication, shaped after Ueberauth.Auth and Ueberauth.Failure, and
// their builders. A cached Auth never holds the raw token: it is attached per request.
import { DEFAULT_RETRY_AFTER, FAILURES, type FailureKey, type FailureReason } from './errors.js'

export interface Credentials {
  /**
   * The raw access token. Present on `request.auth`, never stored in any cache, and not
   * enumerable: JSON.stringify, logs and spreads of an Auth leave it out.
   */
  readonly token: string
  /** `Bearer` (the scheme the token came with). */
  tokenType: string
  /** Whether the token has an expiry. */
  expires: boolean
  /** Expiry, in seconds since the epoch (the `exp` claim), when the token has one. */
  expiresAt?: number
  /** Granted scopes, from `scope` (space-separated) or `scp`. */
  scopes: string[]
  /** Other standard claims worth having at hand (iss, aud, client_id, azp, jti, iat, nbf…). */
  other: Record<string, unknown>
}

/** OIDC standard profile claims (OpenID Connect Core §5.1) that the token or answer carried. */
export interface Info {
  name?: string
  given_name?: string
  family_name?: string
  middle_name?: string
  nickname?: string
  preferred_username?: string
  profile?: string
  picture?: string
  website?: string
  email?: string
  email_verified?: boolean
  gender?: string
  birthdate?: string
  zoneinfo?: string
  locale?: string
  phone_number?: string
  phone_number_verified?: boolean
  address?: Record<string, unknown>
  updated_at?: number
  [claim: string]: unknown
}

export interface Extra {
  /** The whole payload the provider returned (JWT claims, introspection or userinfo answer). */
  rawInfo: Record<string, unknown>
  [key: string]: unknown
}

export interface Auth {
  /** The subject: `sub`, else `client_id` for machine-to-machine tokens (provider-defined). */
  uid: string
  /** The provider's name. */
  provider: string
  /** How the token was presented: `bearer`. */
  strategy: string
  credentials: Credentials
  info: Info
  extra: Extra
}

/** What the cache holds: an Auth without the raw token. */
export type CachedAuth = Omit<Auth, 'credentials'> & { credentials: Omit<Credentials, 'token'> }

export interface AuthError {
  messageKey: FailureKey
  message: string
  /** Why, as a stable word (the error's `reason`), when the provider said more than the key. */
  reason?: FailureReason
}

export interface AuthFailure {
  provider: string
  strategy: string
  status: number
  errors: AuthError[]
  /** Seconds to wait before retrying: on every `provider_unavailable` (the identity provider's hint, or 5). */
  retryAfter?: number
  /** The scheme the client must use: `DPoP` when the failure is about a DPoP binding or proof. */
  challenge?: 'DPoP'
}

export const STRATEGY = 'bearer'

export function buildFailure(provider: string, key: FailureKey, message?: string, retryAfter?: number, reason?: FailureReason): AuthFailure {
  const error: AuthError = { messageKey: key, message: message ?? FAILURES[key].description }
  if (reason !== undefined) error.reason = reason
  const failure: AuthFailure = { provider, strategy: STRATEGY, status: FAILURES[key].status, errors: [error] }
  // Every outage says when to come back, whichever door reports it.
  if (retryAfter !== undefined || key === 'provider_unavailable') failure.retryAfter = retryAfter ?? DEFAULT_RETRY_AFTER
  return failure
}

/**
 * Attaches the request's token to a cached Auth (the cached object itself is not touched). The
 * token is readable but not enumerable: an Auth serialises (JSON, logs, spreads) without it,
 * whatever a handler does with it.
 */
export function withToken(cached: CachedAuth, token: string): Auth {
  return {
    uid: cached.uid,
    provider: cached.provider,
    strategy: cached.strategy,
    credentials: credentialsWith(cached.credentials, token),
    info: cached.info,
    extra: cached.extra,
  }
}

/** Credentials with the token attached, not enumerable (see withToken); `changes` applied over them. */
export function credentialsWith(credentials: Omit<Credentials, 'token'>, token: string, changes?: Partial<Omit<Credentials, 'token'>>): Credentials {
  const copy = changes === undefined ? copyOf(credentials) : { ...credentials, ...changes }
  return Object.defineProperty(copy, 'token', { value: token, enumerable: false }) as Credentials
}

const CREDENTIAL_MEMBERS = 5

/**
 * A copy of cached credentials, member by member when they have the standard ones (a spread of a
 * frozen object costs three times as much on the hit path); a spread for anything else.
 */
function copyOf(credentials: Omit<Credentials, 'token'>): Omit<Credentials, 'token'> {
  const { tokenType, expires, expiresAt, scopes, other } = credentials
  if (expiresAt === undefined) {
    if (Object.keys(credentials).length !== CREDENTIAL_MEMBERS - 1) return { ...credentials }
    return { tokenType, expires, scopes, other }
  }
  if (Object.keys(credentials).length !== CREDENTIAL_MEMBERS) return { ...credentials }
  return { tokenType, expires, expiresAt, scopes, other }
}

export function isAuthFailure(result: Auth | AuthFailure): result is AuthFailure {
  return (result as AuthFailure).errors !== undefined
}

/** The failure key of a failure (its first error). */
export function failureKey(failure: AuthFailure): FailureKey {
  return failure.errors[0]?.messageKey ?? 'invalid_token'
}

/** Every scope in `required` is granted. */
export function hasScopes(auth: Pick<Auth, 'credentials'> | CachedAuth, required: readonly string[]): boolean {
  const granted = auth.credentials.scopes
  for (const scope of required) if (!granted.includes(scope)) return false
  return true
}
