// Readers for standard claims (RFC 7519 §4.1, RFC 7662 §2.2, RFC 9068 §2.2, OIDC Core §5.1),
// shared by defineProvider's defaults and by any adapter that maps its own claims.
import type { Info } from './auth.js'
import { InvalidTokenError } from './errors.js'

export type Claims = Record<string, unknown>

const OIDC_PROFILE_CLAIMS = [
  'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
  'profile', 'picture', 'website', 'email', 'email_verified', 'gender', 'birthdate',
  'zoneinfo', 'locale', 'phone_number', 'phone_number_verified', 'address', 'updated_at',
] as const

const OTHER_CREDENTIAL_CLAIMS = ['iss', 'aud', 'client_id', 'azp', 'jti', 'iat', 'nbf', 'sid', 'token_type', 'cnf'] as const

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

/** `sub`, else `client_id` (client_credentials tokens often carry no `sub`). */
export function subjectOf(claims: Claims): string {
  if (isNonEmptyString(claims.sub)) return claims.sub
  if (isNonEmptyString(claims.client_id)) return claims.client_id
  throw new InvalidTokenError('The access token names no subject', { detail: 'neither sub nor client_id is a non-empty string' })
}

/** Scopes from `scope` (space-separated, RFC 8693/9068) or `scp` (array, or a string as Entra sends). */
export function scopesOf(claims: Claims): string[] {
  const value = claims.scope ?? claims.scp
  if (typeof value === 'string') return value.split(' ').filter((scope) => scope.length > 0)
  if (Array.isArray(value)) return value.filter(isNonEmptyString)
  return []
}

/** A NumericDate claim (seconds), or undefined when absent; a present non-number is invalid. */
export function numericDate(claims: Claims, name: 'exp' | 'nbf' | 'iat'): number | undefined {
  const value = claims[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidTokenError('The access token is malformed', { detail: `"${name}" claim is not a number` })
  }
  return value
}

/**
 * Rejects a token outside its validity window. `clockTolerance` (seconds) absorbs clock skew
 * between the identity provider and this server, in both directions.
 */
export function assertTimeWindow(claims: Claims, clockTolerance: number, nowMs = Date.now()): void {
  const now = nowMs / 1000
  const exp = numericDate(claims, 'exp')
  if (exp !== undefined && now - clockTolerance >= exp) {
    throw new InvalidTokenError('The access token expired', { detail: `exp ${exp} is past` })
  }
  const nbf = numericDate(claims, 'nbf')
  if (nbf !== undefined && now + clockTolerance < nbf) {
    throw new InvalidTokenError('The access token is not yet valid', { detail: `nbf ${nbf} is in the future` })
  }
  // A token issued in the future was minted by a clock (or a forger) not to be trusted.
  const iat = numericDate(claims, 'iat')
  if (iat !== undefined && now + clockTolerance < iat) {
    throw new InvalidTokenError('The access token is not yet valid', { detail: `iat ${iat} is in the future` })
  }
}

/** The `aud` claim as a list: a string or an array of strings (RFC 7519 §4.1.3); other values carry none. */
export function audiencesOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud]
  return Array.isArray(aud) ? aud.filter((value): value is string => typeof value === 'string') : []
}

/** The OIDC profile claims present in the payload. */
export function profileOf(claims: Claims): Info {
  const info: Info = {}
  for (const name of OIDC_PROFILE_CLAIMS) {
    if (claims[name] !== undefined) (info as Record<string, unknown>)[name] = claims[name]
  }
  return info
}

/** Standard non-profile claims for `credentials.other`. */
export function otherCredentialsOf(claims: Claims): Record<string, unknown> {
  const other: Record<string, unknown> = {}
  for (const name of OTHER_CREDENTIAL_CLAIMS) {
    if (claims[name] !== undefined) other[name] = claims[name]
  }
  return other
}
