// Local verification of JWT access tokens (RFC 7519, RFC 9068) against the issuer's JWKS, on
// node:crypto (providers/jws.ts): signature with an asymmetric algorithm only, issuer and audience
// always, `exp` required, time window with a clock tolerance, `typ` and required claims when asked.
// Synchronous once the key set is known: no await on the way of a token whose key is at hand.
import type { JSONWebKeySet, JWTPayload } from 'jose'
import type { Dispatcher } from 'undici'
import { InvalidTokenError, isInvalidTokenError, isProviderUnavailableError, type FailureReason } from '../src/errors.js'
import { providerNamespace, recordUserRules } from '../src/namespace.js'
import { defineProvider, type Provider } from '../src/provider.js'
import { assertHttpUrl, assertIssuer } from './discovery.js'
import { ProviderEndpoint, startOrWarn } from './endpoint.js'
import { checkRange, JWKS_OPTION_RANGES, JwkSet, publicSigningKeys, RemoteJwks, type RemoteJwksOptions, type VerifyInput } from './jwks.js'
import { decodeCompactJws, JWS_ALGORITHMS, verifySignature, type CompactJws } from './jws.js'
import { presenceOrder, verifiedClaims, type ClaimsRules } from './jwt-claims.js'

/** What `map` may override: the claim mapping, never how the token is verified. */
type MapMember = 'validToken' | 'getUid' | 'getCredentials' | 'getInfo' | 'getExtra' | 'getTtl' | 'nameOf' | 'staleIfError'

export interface JwtProviderOptions {
  /** The `iss` every token must carry, exactly. Also where discovery finds the JWKS. Required. */
  issuer: string
  /** Other spellings of the same issuer that tokens may carry (Google: `accounts.google.com`). */
  issuerAliases?: string[]
  /**
   * The `aud` (one of them) every token must carry: this API's identifier. Required. `null` turns
   * the check off, only for identity providers whose access tokens carry no `aud` and are bound to
   * the API by another claim, which `validate` must then check (AWS Cognito: `client_id`).
   */
  audience: string | string[] | null
  /**
   * Extra checks on the verified claims, awaited when they return a promise. Throw (or reject
   * with) InvalidTokenError to refuse the token with its message; any other error refuses it as
   * "The access token was refused" (reason `validate`); a ProviderUnavailableError is an outage (503).
   */
  validate?: (claims: JWTPayload) => void | Promise<void>
  /** The JWKS URL; default: `jwks_uri` from the issuer's discovery document. */
  jwksUri?: string
  /** Local keys instead of a remote JWKS (no network at all). Not together with `jwksUri`. */
  keys?: JSONWebKeySet
  /**
   * Accepted `alg` values. Default: every asymmetric JWS algorithm, each usable only with a key
   * of its family from the JWKS. `none` and HMAC are never accepted.
   */
  algorithms?: string[]
  /** Seconds of clock skew allowed on exp, nbf and iat (0 to 600). Default 5. */
  clockTolerance?: number
  /** Claims that must be present, e.g. `['sub', 'jti']`. */
  requiredClaims?: string[]
  /**
   * Refuse tokens without `exp` (RFC 9068 §2.2 makes it mandatory in access tokens). Default
   * true; false accepts tokens that never expire, bounded only by the cache's maxTtl.
   */
  requireExp?: boolean
  /** Required `typ` header, e.g. `'at+jwt'` for RFC 9068 access tokens. Default: not checked. */
  typ?: string
  /** Provider name (Auth.provider, cache namespace). Default `'jwt'`. */
  name?: string
  /** Deadline for discovery and JWKS fetches, in ms (1 to 300,000). Default 5,000. */
  timeout?: number
  /** An undici Dispatcher for discovery and JWKS fetches. Default: a keep-alive pool per origin. */
  dispatcher?: Dispatcher
  /** JWKS refresh policy: cooldown, maxAge, maxStale, maxBytes (ms and bytes; see RemoteJwksOptions). */
  jwks?: Pick<RemoteJwksOptions, 'cooldown' | 'maxAge' | 'maxStale' | 'maxBytes'>
  /** Overrides of the claim mapping (getUid, getCredentials, getInfo, getExtra, getTtl, validToken, nameOf, staleIfError). */
  map?: Partial<Pick<Provider<JWTPayload>, MapMember>>
  /**
   * Names this provider's rules for caches shared across registrations or a fleet. Needed with a
   * shared store when `validate` or `map` is given (the library cannot compare functions); give
   * the same name only to providers with the same functions. Default: derived from the options.
   */
  namespace?: string
}

/** Options that say how keys are fetched, not which tokens are accepted. */
const NOT_RULES = ['dispatcher', 'timeout', 'jwks']

export interface JwtProvider extends Provider<JWTPayload> {
  /** The remote key set, when keys come from a JWKS URL (its `fetches` counter is useful in tests). */
  readonly jwks: RemoteJwks | undefined
}

export const ASYMMETRIC_ALGORITHMS = Object.freeze([...JWS_ALGORITHMS.keys()])

const OPTIONS = new Set(['issuer', 'issuerAliases', 'audience', 'validate', 'jwksUri', 'keys', 'algorithms', 'clockTolerance', 'requiredClaims', 'requireExp', 'typ', 'name', 'timeout', 'dispatcher', 'jwks', 'map', 'namespace'])
const JWKS_OPTIONS = ['cooldown', 'maxAge', 'maxStale', 'maxBytes'] as const
const MAP_OPTIONS: ReadonlySet<string> = new Set<MapMember>(['validToken', 'getUid', 'getCredentials', 'getInfo', 'getExtra', 'getTtl', 'nameOf', 'staleIfError'])
const CLOCK_TOLERANCE_RANGE = [0, 600] as const

function assertKnown(value: object, known: ReadonlySet<string> | readonly string[], path: string): void {
  for (const key of Object.keys(value)) {
    if (!(known instanceof Set ? known.has(key) : (known as readonly string[]).includes(key))) throw new TypeError(`${path}.${key} is not an option`)
  }
}

function stringList(value: unknown, path: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item.length > 0)) throw new TypeError(`${path} must be an array of non-empty strings`)
  return value as string[]
}

function checkAlgorithms(algorithms: unknown): string[] {
  if (algorithms === undefined) return [...ASYMMETRIC_ALGORITHMS]
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw new TypeError('jwtProvider: algorithms must be a non-empty array')
  for (const alg of algorithms) {
    if (typeof alg !== 'string' || !ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw new TypeError(`jwtProvider: algorithm ${JSON.stringify(alg)} is not accepted (asymmetric JWS algorithms only: ${ASYMMETRIC_ALGORITHMS.join(', ')})`)
    }
  }
  return algorithms as string[]
}

function checkAudience(audience: unknown, validate: unknown): string | string[] | undefined {
  const valid = (value: unknown): value is string => typeof value === 'string' && value.length > 0
  if (valid(audience) || (Array.isArray(audience) && audience.length > 0 && audience.every(valid))) return audience
  if (audience === null && typeof validate === 'function') return undefined
  throw new TypeError('jwtProvider: audience is required (this API\'s identifier, or a list of them; null only together with validate)')
}

/** Every option checked at construction: unknown names, types, ranges, and what cannot go together. */
function checkOptions(options: JwtProviderOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('jwtProvider: options must be an object')
  assertKnown(options, OPTIONS, 'jwtProvider')
  assertIssuer(options.issuer, 'jwtProvider: issuer')
  if (options.validate !== undefined && typeof options.validate !== 'function') throw new TypeError('jwtProvider: validate must be a function')
  if (options.keys !== undefined && options.jwksUri !== undefined) throw new TypeError('jwtProvider: keys and jwksUri cannot go together (local keys, or a remote JWKS)')
  if (options.jwksUri !== undefined) assertHttpUrl(options.jwksUri, 'jwtProvider: jwksUri')
  if (options.keys !== undefined && (options.keys === null || typeof options.keys !== 'object' || !Array.isArray(options.keys.keys))) {
    throw new TypeError('jwtProvider: keys must be a JSON Web Key Set ({ keys: [...] })')
  }
  checkRange(options.clockTolerance, 'jwtProvider: clockTolerance', CLOCK_TOLERANCE_RANGE)
  checkRange(options.timeout, 'jwtProvider: timeout', JWKS_OPTION_RANGES.timeout)
  if (options.jwks !== undefined) {
    if (options.jwks === null || typeof options.jwks !== 'object') throw new TypeError('jwtProvider: jwks must be an object')
    assertKnown(options.jwks, JWKS_OPTIONS, 'jwtProvider: jwks')
    for (const name of JWKS_OPTIONS) checkRange(options.jwks[name], `jwtProvider: jwks.${name}`, JWKS_OPTION_RANGES[name])
  }
  if (options.map !== undefined) {
    if (options.map === null || typeof options.map !== 'object') throw new TypeError('jwtProvider: map must be an object')
    assertKnown(options.map, MAP_OPTIONS, 'jwtProvider: map')
  }
  stringList(options.issuerAliases, 'jwtProvider: issuerAliases')
  stringList(options.requiredClaims, 'jwtProvider: requiredClaims')
  if (options.requireExp !== undefined && typeof options.requireExp !== 'boolean') throw new TypeError('jwtProvider: requireExp must be a boolean')
  if (options.typ !== undefined && (typeof options.typ !== 'string' || options.typ.length === 0)) throw new TypeError('jwtProvider: typ must be a non-empty string')
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) throw new TypeError('jwtProvider: name must be a non-empty string')
}

const CLAIM_MESSAGES: Record<string, string> = {
  nbf: 'The access token is not yet valid',
  iat: 'The access token is not yet valid',
  iss: 'The access token was issued by another issuer',
  aud: 'The access token is not meant for this API',
  typ: 'The access token is not an access token of the expected type',
}

const CLAIM_REASONS: Record<string, FailureReason> = { nbf: 'not_yet_valid', iat: 'not_yet_valid', iss: 'issuer', aud: 'audience', typ: 'type' }

/** A claims-check failure's reason: absent, of the wrong type, or the check itself. */
function claimReason(claim: string | undefined, how: unknown): FailureReason {
  if (how === 'missing') return 'missing_claim'
  if (how === 'invalid') return 'claim_type'
  return CLAIM_REASONS[claim ?? ''] ?? 'missing_claim'
}

/** A refusal (ours, coded as jose codes its errors, or jose's own) as the public message, reason and logged detail. */
export function invalidJwt(err: unknown): Error {
  // Outages and misconfiguration are not the token's fault: 503, never a 401. A refusal from
  // `validate` already says why.
  if (isProviderUnavailableError(err) || isInvalidTokenError(err) || (err as { code?: unknown }).code === 'ERR_TOKEN_AUTH_CONFIGURATION') return err as Error
  const { code, claim, reason, message } = err as { code?: string; claim?: string; reason?: string; message?: string }
  const detail = `${code ?? 'error'}: ${message ?? ''}`
  const refuse = (text: string, why: FailureReason): InvalidTokenError => new InvalidTokenError(text, { detail, reason: why })
  switch (code) {
    case 'ERR_JWT_EXPIRED': return refuse('The access token expired', 'expired')
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return refuse(CLAIM_MESSAGES[claim ?? ''] ?? 'The access token lacks a required claim', claimReason(claim, reason))
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return refuse('The access token signature is invalid', 'signature')
    case 'ERR_JOSE_ALG_NOT_ALLOWED': return refuse('The access token is signed with an algorithm this API does not accept', 'algorithm')
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return refuse('The access token is signed with an unknown key', 'unknown_key')
    case 'ERR_JWS_NOT_COMPACT': return refuse('The access token is not a signed JWT', 'malformed')
    default:
      // A malformed header or payload, a key that cannot verify, a TypeError from a hostile
      // header: the token is not acceptable, and nothing about it is the identity provider's outage.
      return refuse('The access token is malformed', 'malformed')
  }
}

/** What `validate` threw, as the refusal it stands for. */
function refusedByValidate(err: unknown): Error {
  if (isInvalidTokenError(err) || isProviderUnavailableError(err)) return err
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  return new InvalidTokenError('The access token was refused', { detail: `validate: ${detail}`, reason: 'validate', cause: err })
}

/** Runs `validate`; a promise only when it returned one (nothing to wait for otherwise). */
function runValidate(validate: NonNullable<JwtProviderOptions['validate']>, claims: JWTPayload): Promise<void> | undefined {
  let checked: unknown
  try {
    checked = validate(claims)
  } catch (err) {
    throw refusedByValidate(err)
  }
  if (typeof (checked as { then?: unknown } | null | undefined)?.then !== 'function') return undefined
  return Promise.resolve(checked as PromiseLike<unknown>).then(() => undefined, (err: unknown) => {
    throw refusedByValidate(err)
  })
}

/** Dot-separated segments of a compact serialization: 3 for a JWS, 5 for a JWE. */
export function segmentCount(token: string): number {
  let dots = 0
  for (let i = 0; i < token.length; i++) if (token.charCodeAt(i) === 0x2e) dots++
  return dots + 1
}

export function jwtProvider(options: JwtProviderOptions): JwtProvider {
  checkOptions(options)
  const { issuer, validate } = options
  const audience = checkAudience(options.audience, validate)
  const allowed: ReadonlySet<string> = new Set(checkAlgorithms(options.algorithms))
  const requiredClaims = options.requiredClaims ?? []
  const rules: ClaimsRules = {
    issuers: [issuer, ...(options.issuerAliases ?? [])],
    audience: audience === undefined ? undefined : ([] as string[]).concat(audience),
    typ: options.typ,
    requiredClaims: options.requireExp === false || requiredClaims.includes('exp') ? requiredClaims : ['exp', ...requiredClaims],
    clockTolerance: options.clockTolerance ?? 5,
  }
  const presence = presenceOrder(rules)

  let endpoint: ProviderEndpoint | undefined
  let jwks: RemoteJwks | undefined
  const local = options.keys === undefined ? undefined : new JwkSet(publicSigningKeys(options.keys))
  if (local === undefined) {
    const source = new ProviderEndpoint({ endpoint: options.jwksUri, issuer, member: 'jwks_uri', timeout: options.timeout ?? 5_000, dispatcher: options.dispatcher })
    let uri: string | undefined
    jwks = new RemoteJwks(async () => (uri = await source.url()), {
      ...options.jwks, timeout: options.timeout, dispatcher: () => (uri === undefined ? undefined : source.dispatcher(uri)),
    })
    endpoint = source
  }

  /** The key from the key set at hand; undefined when the remote set must be fetched first (or again, for an unknown kid). */
  function knownKey(jws: CompactJws): VerifyInput | undefined {
    if (local !== undefined) return local.keyFor(jws.header, jws.algorithm)
    const keys = jwks!.fresh()
    if (keys === undefined) return undefined
    try {
      return keys.keyFor(jws.header, jws.algorithm)
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_JWKS_NO_MATCHING_KEY') return undefined
      throw err
    }
  }

  async function fetchedKey(jws: CompactJws, signal: AbortSignal): Promise<VerifyInput> {
    const remote = jwks!
    const keys = await remote.keySet(signal)
    try {
      return keys.keyFor(jws.header, jws.algorithm)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err
      // An unknown kid: perhaps a rotation. Refetch, but not more than once per cooldown.
      const refetched = remote.refetchForUnknownKid(signal)
      if (refetched === undefined) throw err
      return (await refetched).keyFor(jws.header, jws.algorithm)
    }
  }

  // Rules as they apply (one audience or a list of one are the same rule).
  const effective = { ...options, audience: audience === undefined ? null : ([] as string[]).concat(audience) }
  const named = providerNamespace('jwt', effective, NOT_RULES, { name: 'jwt', clockTolerance: 5, algorithms: ASYMMETRIC_ALGORITHMS, requireExp: true })
  const provider = defineProvider<JWTPayload>({
    ...options.map,
    name: options.name ?? 'jwt',
    issuer,
    // A token accepted under one set of rules must never be served from a shared cache to another.
    namespace: named.namespace,
    clockTolerance: rules.clockTolerance,
    // A token whose key is at hand is verified at once: no promise, timer or deadline.
    getPayloadSync(token) {
      try {
        const jws = decodeCompactJws(token, allowed)
        const key = knownKey(jws)
        if (key === undefined) return undefined
        const claims = verifiedClaims(jws.header, verifySignature(jws, key).payload, rules, presence, Date.now())
        const pending = validate === undefined ? undefined : runValidate(validate, claims)
        return pending === undefined ? claims : pending.then(() => claims, (err: unknown) => { throw invalidJwt(err) })
      } catch (err) {
        throw invalidJwt(err)
      }
    },
    async getPayload(token, ctx) {
      try {
        const jws = decodeCompactJws(token, allowed)
        const { payload } = verifySignature(jws, knownKey(jws) ?? await fetchedKey(jws, ctx.signal))
        const claims = verifiedClaims(jws.header, payload, rules, presence, Date.now())
        const pending = validate === undefined ? undefined : runValidate(validate, claims)
        if (pending !== undefined) await pending
        return claims
      } catch (err) {
        throw invalidJwt(err)
      }
    },
    async ready({ log }) {
      if (jwks === undefined) return
      jwks.log = log
      if (endpoint !== undefined) endpoint.log = log
      await startOrWarn(log, provider.name, () => jwks.reload())
    },
    close: async () => endpoint?.close(),
  })
  recordUserRules(provider, named.functions)
  return Object.defineProperty(provider, 'jwks', { value: jwks, enumerable: false }) as JwtProvider
}
