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

const wrongType = (detail: string): InvalidTokenError =>
  new InvalidTokenError('The access token is malformed', { detail, reason: 'claim_type' })

/** An object that is not an array (a JSON object, once parsed). */
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Refuses claims of the wrong type (RFC 7519 §4.1, RFC 9068 §2.2, RFC 7662 §2.2): a present
 * `sub`, `client_id`, `jti` or `scope` that is not a string, a `scp` that is neither a string
 * nor an array of strings. A value of another type is not "absent": `sub: 1` must not let the uid
 * come from `client_id`, nor a `scope: ["admin"]` be read by a mapping that expects a string.
 */
export function assertClaimTypes(claims: Claims): void {
  for (const name of ['sub', 'client_id', 'jti', 'scope'] as const) {
    if (claims[name] !== undefined && typeof claims[name] !== 'string') throw wrongType(`"${name}" claim is not a string`)
  }
  const { scp } = claims
  if (scp !== undefined && typeof scp !== 'string' && !(Array.isArray(scp) && scp.every((scope) => typeof scope === 'string'))) {
    throw wrongType('"scp" claim is neither a string nor an array of strings')
  }
  bindingOf(claims)
}

/**
 * The confirmation claim (RFC 7800 §3.1): absent, or an object whose `jkt` (RFC 9449 §6.1) and
 * `x5t#S256` (RFC 8705 §3.1), when present, are non-empty strings. A malformed one refuses the
 * token: read as "not bound", it would pass a sender-constrained token as a bearer token.
 */
export function bindingOf(claims: Claims): Record<string, unknown> | undefined {
  const { cnf } = claims
  if (cnf === undefined) return undefined
  if (!isObject(cnf)) throw wrongType('"cnf" claim is not an object')
  for (const member of ['jkt', 'x5t#S256']) {
    if (cnf[member] !== undefined && !isNonEmptyString(cnf[member])) throw wrongType(`"cnf.${member}" is not a non-empty string`)
  }
  return cnf
}

/** `sub`, else `client_id` (client_credentials tokens often carry no `sub`). A `sub` of another type is refused, never skipped. */
export function subjectOf(claims: Claims): string {
  if (claims.sub !== undefined && typeof claims.sub !== 'string') throw wrongType('"sub" claim is not a string')
  if (isNonEmptyString(claims.sub)) return claims.sub
  if (isNonEmptyString(claims.client_id)) return claims.client_id
  throw new InvalidTokenError('The access token names no subject', { detail: 'neither sub nor client_id is a non-empty string' })
}

/**
 * Scopes from `scope` (space-separated, RFC 8693/9068) or `scp` (array, or a string as Entra
 * sends). A `scope` that is not a string, or a `scp` that is neither a string nor an array of
 * strings, is refused.
 */
export function scopesOf(claims: Claims): string[] {
  if (claims.scope !== undefined && typeof claims.scope !== 'string') throw wrongType('"scope" claim is not a string')
  const value = claims.scope ?? claims.scp
  if (typeof value === 'string') return value.split(' ').filter((scope) => scope.length > 0)
  if (Array.isArray(value) && value.every((scope) => typeof scope === 'string')) return value.filter(isNonEmptyString)
  if (value === undefined) return []
  throw wrongType('"scp" claim is neither a string nor an array of strings')
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
  bindingOf(claims)
  const other: Record<string, unknown> = {}
  for (const name of OTHER_CREDENTIAL_CLAIMS) {
    if (claims[name] !== undefined) other[name] = claims[name]
  }
  return other
}
