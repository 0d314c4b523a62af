// Hints that fix a rejection: each compares what the (unverified) token says with what the API
// expects and names the difference — "token aud is X, API expects Y", "expired 3 min ago". The
// verdict itself always comes from the provider pipeline; hints only explain it.
import { audiencesOf } from '../claims.js'
import type { FailureKey, FailureReason } from '../errors.js'
import type { DecodedToken } from './decode.js'

/** How the API validates tokens: locally as JWTs, by introspection (RFC 7662), or at userinfo. */
export type InspectMethod = 'jwt' | 'introspection' | 'userinfo'

export interface Expectations {
  method: InspectMethod
  issuer: string
  /** Empty: the audience is not checked. */
  audience: readonly string[]
  scopes: readonly string[]
  clockTolerance: number
  algorithms: readonly string[]
  /** The JWKS, introspection or userinfo endpoint the token was checked against. */
  endpoint?: string
}

export interface FailureFacts {
  key: FailureKey
  message: string
  /** Why, as the failure's machine-readable word: what hints are chosen by, never the message. */
  reason?: FailureReason
  /** What the provider logged about it (jose's code and message, the network error). */
  detail?: string
}

// jose's error codes, for a jwt provider that throws without a reason of its own: the code is
// jose's machine-readable word, the first thing in the logged detail ("ERR_JWT_EXPIRED: …").
const JOSE_REASONS: Readonly<Record<string, FailureReason>> = {
  ERR_JWT_EXPIRED: 'expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'signature',
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'unknown_key',
}

/** The failure's reason, or the one its jose error code gives; undefined when neither says. */
export function reasonOf(failure: Pick<FailureFacts, 'reason' | 'detail'>): FailureReason | undefined {
  return failure.reason ?? JOSE_REASONS[/^(ERR_[A-Z_]+):/.exec(failure.detail ?? '')?.[1] ?? '']
}

export interface Evidence {
  nowSeconds: number
  /** The kids of the key set the provider checked the token against (after an unknown-key failure). */
  jwksKids?: string[]
  /** Scopes the token carries, when the provider accepted it. */
  grantedScopes?: readonly string[]
}

/** "42 s", "3 min", "5 h", "2 d": the largest whole unit. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  if (s < 120) return `${s} s`
  if (s < 2 * 3600) return `${Math.floor(s / 60)} min`
  if (s < 2 * 86_400) return `${Math.floor(s / 3600)} h`
  return `${Math.floor(s / 86_400)} d`
}

/** Milliseconds either side of the epoch that a Date can hold (ECMAScript's time range). */
const DATE_RANGE_MS = 8.64e15

/** A NumericDate as an ISO time; one beyond what a date can hold (`exp: 1e20`) is said to be. */
export function isoTime(seconds: number): string {
  const ms = seconds * 1000
  if (!Number.isFinite(ms) || Math.abs(ms) > DATE_RANGE_MS) return `${seconds} s after 1970, beyond any calendar date`
  return new Date(ms).toISOString().replace('.000Z', 'Z')
}

const list = (values: readonly string[]): string => values.length === 0 ? '(none)' : values.join(', ')

function timeHints(claims: Record<string, unknown>, expected: Expectations, now: number): string[] {
  const hints: string[] = []
  const { exp, nbf, iat } = claims
  if (typeof exp === 'number' && exp + expected.clockTolerance < now) hints.push(`expired ${humanDuration(now - exp)} ago (exp ${isoTime(exp)})`)
  if (typeof nbf === 'number' && nbf - expected.clockTolerance > now) {
    hints.push(`not valid for another ${humanDuration(nbf - now)} (nbf ${isoTime(nbf)}): check the clocks of the identity provider and this machine`)
  }
  if (typeof iat === 'number' && iat - expected.clockTolerance > now) {
    hints.push(`issued ${humanDuration(iat - now)} in the future (iat ${isoTime(iat)}): the clocks of the identity provider and this machine disagree`)
  }
  return hints
}

function jwtHints(decoded: DecodedToken, expected: Expectations, failure: FailureFacts | undefined, evidence: Evidence): string[] {
  const hints: string[] = []
  const claims = (decoded.claims ?? {}) as Record<string, unknown>
  const header = decoded.header ?? {}
  if (decoded.problem !== undefined) hints.push(`the token has three segments like a JWT but does not decode: ${decoded.problem}`)

  if (typeof claims.iss !== 'string') {
    if (decoded.claims !== undefined) hints.push('the token has no iss claim')
  } else if (claims.iss !== expected.issuer) {
    const slash = claims.iss.replace(/\/$/, '') === expected.issuer.replace(/\/$/, '') ? ' (they differ by a trailing slash: issuers are compared exactly)' : ''
    hints.push(`token iss is ${claims.iss}, API expects ${expected.issuer}${slash}`)
  }
  const granted = audiencesOf(claims.aud)
  if (expected.audience.length > 0 && decoded.claims !== undefined && !granted.some((aud) => expected.audience.includes(aud))) {
    hints.push(`token aud is ${granted.length === 0 ? 'absent' : list(granted)}, API expects ${list(expected.audience)}`)
  }
  hints.push(...timeHints(claims, expected, evidence.nowSeconds))

  if (expected.method !== 'jwt') return hints
  const alg = typeof header.alg === 'string' ? header.alg : undefined
  if (alg !== undefined && !expected.algorithms.includes(alg)) {
    const why = alg === 'none' ? ': the token is not signed' : alg.startsWith('HS') ? ': HMAC tokens are checked with a shared secret, which a resource server must not hold' : ''
    hints.push(`alg ${alg} is not accepted (this API verifies ${list(expected.algorithms)})${why}`)
  }
  const reason = failure === undefined ? undefined : reasonOf(failure)
  if (reason === 'unknown_key') {
    const at = expected.endpoint === undefined ? 'the JWKS' : `JWKS at ${expected.endpoint}`
    const holds = evidence.jwksKids === undefined ? '' : ` (it has: ${list(evidence.jwksKids)})`
    hints.push(typeof header.kid === 'string'
      ? `kid ${header.kid} not in ${at}${holds}: the token comes from another issuer or environment, or from a key not yet published`
      : `the token names no kid, and no key in ${at} fits alg ${alg ?? '(none)'}${holds}`)
  }
  if (reason === 'signature') {
    hints.push(`the signature does not verify with key ${typeof header.kid === 'string' ? header.kid : '(no kid)'}${expected.endpoint === undefined ? '' : ` from ${expected.endpoint}`}: the token was altered, or signed by another party`)
  }
  return hints
}

function introspectionHints(decoded: DecodedToken, failure: FailureFacts): string[] {
  switch (failure.reason) {
    case 'inactive':
      return ['the identity provider answers "active": false: the token was revoked, has expired, or belongs to another client or realm than --client-id']
    case 'type':
      return [`the token is not an access token (${failure.detail ?? 'token_type'}): send the access_token of the token response, not a refresh or ID token`]
    case 'refused':
      return [decoded.format === 'jwt'
        ? `the introspection endpoint refused to introspect this JWT (${failure.detail ?? 'a 4xx'}; some identity providers, oidc-provider among them, introspect only opaque tokens): check it as a JWT, without --introspect`
        : `the introspection endpoint refused the token (${failure.detail ?? 'a 4xx'}) instead of answering "active": false: it is not a token of this identity provider`]
    default:
      return []
  }
}

/** Hints for an outage: what kept the identity provider from answering, by the failure's reason. */
function outageHints(failure: FailureFacts): string[] {
  const detail = failure.detail === undefined ? '' : ` (${failure.detail})`
  switch (failure.reason) {
    case 'client_auth':
      return [`the introspection endpoint refused --client-id / --client-secret${detail}: check them, and --client-auth (client_secret_basic or client_secret_post); your API answers 503 meanwhile, never 401`]
    case 'rate_limited':
      return [`the identity provider is rate limiting this API${detail}: your API answers 503 with Retry-After meanwhile, and never caches it as a refusal`]
    default:
      return [`the identity provider did not give an answer${detail}: check --issuer and that it is up; your API answers 503 meanwhile, never 401`]
  }
}

/** Hints for a rejection (or an outage); empty when nothing explains it beyond the provider's message. */
export function hintsFor(decoded: DecodedToken, expected: Expectations, failure: FailureFacts | undefined, evidence: Evidence): string[] {
  if (failure === undefined) return []
  const hints: string[] = []
  if (failure.key === 'provider_unavailable') return outageHints(failure)
  if (failure.key === 'invalid_request') {
    hints.push('the token is not a well-formed bearer token (RFC 6750 b64token): quotes, spaces or line breaks copied along, or a token over the length limit')
    return hints
  }
  if (failure.key === 'insufficient_scope' && evidence.grantedScopes !== undefined) {
    const missing = expected.scopes.filter((scope) => !evidence.grantedScopes!.includes(scope))
    hints.push(`token scopes are ${list(evidence.grantedScopes)}; the route needs ${list(expected.scopes)} (missing: ${list(missing)})`)
    return hints
  }
  if (decoded.format === 'jwe') hints.push('the token is an encrypted JWT (JWE): this API accepts signed JWTs, or opaque tokens through introspection')
  if (decoded.format === 'opaque' && expected.method === 'jwt') {
    hints.push('the token is opaque, not a JWT: only the identity provider can check it; inspect it with --introspect --client-id … --client-secret … (or --userinfo)')
  }
  if (decoded.format === 'jwt') hints.push(...jwtHints(decoded, expected, failure, evidence))
  if (expected.method === 'introspection') hints.push(...introspectionHints(decoded, failure))
  if (expected.method === 'userinfo' && failure.reason === 'refused') {
    hints.push(`the identity provider refused the token at its userinfo endpoint (${failure.detail ?? 'a 4xx'}): it expired or was revoked, was issued without the openid scope, or is not meant for userinfo (a client-credentials token has no user)`)
  }
  return hints
}

/** Remarks on an accepted token: what was not checked, when it stops working. */
export function notesFor(decoded: DecodedToken, expected: Expectations, nowSeconds: number, expiresAt: number | undefined): string[] {
  const notes: string[] = []
  const claims = (decoded.claims ?? {}) as Record<string, unknown>
  if (expected.method === 'userinfo') {
    notes.push('userinfo does not check the audience: any token of this issuer that may read userinfo passes; prefer JWT verification or introspection for an API')
  }
  if (expected.method === 'jwt' && expected.audience.length === 0) {
    const granted = audiencesOf(claims.aud)
    notes.push(`the audience was not checked (no --audience): token aud is ${granted.length === 0 ? 'absent' : list(granted)}; an API must check it`)
  }
  if (expiresAt !== undefined && expiresAt < nowSeconds) {
    notes.push(`expired ${humanDuration(nowSeconds - expiresAt)} ago, accepted within the clock tolerance of ${expected.clockTolerance} s`)
  }
  return notes
}
