// The JWT Claims Set of a verified JWS (RFC 7519 §7.2, RFC 9068 §4): parsed strictly and checked
// with the semantics of jose's jwtVerify (typ, presence, iss, aud, nbf, exp with a clock
// tolerance), plus `exp` required by default (RFC 9068 §2.2) and non-finite dates refused.
import type { JWTPayload } from 'jose'
import { JoseFailure, utf8Text, type JoseHeader } from './jws.js'

export interface ClaimsRules {
  /** Accepted `iss` values (the issuer and its aliases), compared exactly. */
  readonly issuers: readonly string[]
  /** Accepted `aud` values, one of which the token must carry; undefined: not checked. */
  readonly audience: readonly string[] | undefined
  /** Required `typ` header, compared as media types (`at+jwt` = `application/at+jwt`). */
  readonly typ: string | undefined
  /** Claims that must be present (any value), checked in jose's order; `exp` first when required. */
  readonly requiredClaims: readonly string[]
  /** Seconds of clock skew allowed on nbf and exp. */
  readonly clockTolerance: number
}

const failed = (claim: string, message: string, reason: 'missing' | 'invalid' | 'check_failed' = 'check_failed'): JoseFailure =>
  new JoseFailure('ERR_JWT_CLAIM_VALIDATION_FAILED', message, claim, reason)

/** RFC 7515 §4.1.9: `typ` is a media type whose `application/` prefix may be left out; case-insensitive. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}

/** A NumericDate claim (RFC 7519 §2): absent, or a finite number. */
function numericDate(claims: JWTPayload, claim: 'iat' | 'nbf' | 'exp'): number | undefined {
  const value = claims[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) throw failed(claim, `"${claim}" claim must be a number`, 'invalid')
  return value
}

function audienceMatches(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud)
  return Array.isArray(aud) && accepted.some((value) => aud.includes(value))
}

/** The rules' presence list in the order jose checks it: iss, aud, then required claims last to first. */
export function presenceOrder(rules: Pick<ClaimsRules, 'issuers' | 'audience' | 'requiredClaims'>): readonly string[] {
  const order = [...rules.requiredClaims]
  if (rules.audience !== undefined) order.push('aud')
  if (rules.issuers.length > 0) order.push('iss')
  return [...new Set(order.reverse())]
}

/**
 * The claims of a verified payload, or a JoseFailure saying which check failed. `presence` is
 * presenceOrder(rules), computed once per provider.
 */
export function verifiedClaims(header: JoseHeader, payload: Buffer, rules: ClaimsRules, presence: readonly string[], nowMs: number): JWTPayload {
  let claims: unknown
  try {
    claims = JSON.parse(utf8Text(payload, 'payload'))
  } catch {
    throw new JoseFailure('ERR_JWT_INVALID', 'JWT Claims Set must be a top-level JSON object')
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new JoseFailure('ERR_JWT_INVALID', 'JWT Claims Set must be a top-level JSON object')
  }
  const set = claims as JWTPayload
  if (rules.typ !== undefined && (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(rules.typ))) {
    throw failed('typ', 'unexpected "typ" JWT header value')
  }
  for (const claim of presence) {
    if (!Object.hasOwn(set, claim)) throw failed(claim, `missing required "${claim}" claim`, 'missing')
  }
  if (rules.issuers.length > 0 && !rules.issuers.includes(set.iss as string)) throw failed('iss', 'unexpected "iss" claim value')
  if (rules.audience !== undefined && !audienceMatches(set.aud, rules.audience)) throw failed('aud', 'unexpected "aud" claim value')
  // Whole seconds, as jose compares them.
  const now = Math.floor(nowMs / 1000)
  const tolerance = rules.clockTolerance
  numericDate(set, 'iat')
  const nbf = numericDate(set, 'nbf')
  if (nbf !== undefined && nbf > now + tolerance) throw failed('nbf', '"nbf" claim timestamp check failed')
  const exp = numericDate(set, 'exp')
  if (exp !== undefined && exp <= now - tolerance) throw new JoseFailure('ERR_JWT_EXPIRED', '"exp" claim timestamp check failed', 'exp', 'check_failed')
  return set
}
