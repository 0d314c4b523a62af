// Local verification of JWT access tokens (RFC 7519, RFC 9068) with jose against the issuer's
// JWKS: signature with an asymmetric algorithm only, issuer and audience always, time window
// with a clock tolerance, `typ` and required claims when asked.
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyOptions } from 'jose'
import type { Dispatcher } from 'undici'
import { InvalidTokenError, isInvalidTokenError, isProviderUnavailableError } from '../src/errors.js'
import { providerNamespace, recordUserRules } from '../src/namespace.js'
import { defineProvider, type Provider, type ProviderDefinition } from '../src/provider.js'
import { assertHttpUrl } from './discovery.js'
import { ProviderEndpoint, startOrWarn } from './endpoint.js'
import { publicSigningKeys, RemoteJwks, type RemoteJwksOptions, type VerificationKey } from './jwks.js'

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
  /** Extra checks on the verified claims; throw InvalidTokenError to refuse the token. */
  validate?: (claims: JWTPayload) => void
  /** The JWKS URL; default: `jwks_uri` from the issuer's discovery document. */
  jwksUri?: string
  /** Local keys instead of a remote JWKS (no network at all). */
  keys?: JSONWebKeySet
  /**
   * Accepted `alg` values. Default: every asymmetric JWS algorithm, each usable only with a key
   * of its family from the JWKS. `none` and HMAC are never accepted.
   */
  algorithms?: string[]
  /** Seconds of clock skew allowed on exp, nbf and iat. Default 5. */
  clockTolerance?: number
  /** Claims that must be present, e.g. `['sub', 'jti']`. */
  requiredClaims?: string[]
  /** Required `typ` header, e.g. `'at+jwt'` for RFC 9068 access tokens. Default: not checked. */
  typ?: string
  /** Provider name (Auth.provider, cache namespace). Default `'jwt'`. */
  name?: string
  /** Deadline for discovery and JWKS fetches, in ms. Default 5,000. */
  timeout?: number
  /** An undici Dispatcher for discovery and JWKS fetches. Default: a keep-alive pool per origin. */
  dispatcher?: Dispatcher
  /** JWKS refresh policy: cooldown, maxAge, maxStale. */
  jwks?: Pick<RemoteJwksOptions, 'cooldown' | 'maxAge' | 'maxStale' | 'maxBytes'>
  /** Overrides of the claim mapping (getUid, getCredentials, getInfo, getExtra, getTtl, validToken). */
  map?: Partial<Omit<ProviderDefinition<JWTPayload>, 'name' | 'getPayload'>>
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

export const ASYMMETRIC_ALGORITHMS = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
])

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

const CLAIM_MESSAGES: Record<string, string> = {
  nbf: 'The access token is not yet valid',
  iat: 'The access token is not yet valid',
  iss: 'The access token was issued by another issuer',
  aud: 'The access token is not meant for this API',
  typ: 'The access token is not an access token of the expected type',
}

/** jose's errors, as the public message and the detail for the log. */
export function invalidJwt(err: unknown): Error {
  // Outages and misconfiguration are not the token's fault: 503, never a 401. A refusal from
  // `validate` already says why.
  if (isProviderUnavailableError(err) || isInvalidTokenError(err) || (err as { code?: unknown }).code === 'ERR_TOKEN_AUTH_CONFIGURATION') return err as Error
  const { code, claim, message } = err as { code?: string; claim?: string; message?: string }
  const detail = `${code ?? 'error'}: ${message ?? ''}`
  switch (code) {
    case 'ERR_JWT_EXPIRED': return new InvalidTokenError('The access token expired', { detail })
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return new InvalidTokenError(CLAIM_MESSAGES[claim ?? ''] ?? 'The access token lacks a required claim', { detail })
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return new InvalidTokenError('The access token signature is invalid', { detail })
    case 'ERR_JOSE_ALG_NOT_ALLOWED': return new InvalidTokenError('The access token is signed with an algorithm this API does not accept', { detail })
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new InvalidTokenError('The access token is signed with an unknown key', { detail })
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
    case 'ERR_JWT_CLAIM_INVALID':
      return new InvalidTokenError('The access token is malformed', { detail })
    default:
      // A key that cannot be imported, a TypeError from a hostile header: the token is not
      // acceptable, and nothing about it is the identity provider's outage.
      return new InvalidTokenError('The access token is malformed', { detail })
  }
}

/** Names of the members of a JSON object's top level, in order, duplicates included. */
export function topLevelNames(json: string): string[] {
  const names: string[] = []
  let depth = 0
  let expectName = false
  for (let i = 0; i < json.length; i++) {
    const char = json[i]
    if (char === '"') {
      let end = i + 1
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1
      if (depth === 1 && expectName) names.push(json.slice(i + 1, end))
      expectName = false
      i = end
    } else if (char === '{' || char === '[') {
      depth++
      expectName = char === '{' && depth === 1
    } else if (char === '}' || char === ']') depth--
    else if (char === ',' && depth === 1) expectName = true
  }
  return names
}

/** Dot-separated segments of a compact serialization: 3 for a JWS, 5 for a JWE. */
export function segmentCount(token: string): number {
  let dots = 0
  for (let i = 0; i < token.length; i++) if (token.charCodeAt(i) === 0x2e) dots++
  return dots + 1
}

/**
 * Only a compact JWS (three segments: a JWE has five and is never looked at), without `b64`,
 * whose protected header names no member twice: JSON.parse would keep the last `alg`, another parser in front of
 * this API the first (RFC 7515 §4 allows refusing them).
 */
function assertCompactJws(token: string): void {
  const segments = segmentCount(token)
  if (segments !== 3) throw new InvalidTokenError('The access token is not a signed JWT', { detail: `${segments} segments` })
  const names = topLevelNames(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'))
  if (new Set(names).size !== names.length) throw new InvalidTokenError('The access token is malformed', { detail: 'duplicate protected header member' })
  // RFC 7797 unencoded payloads: never an access token; a parser that honours `b64` without
  // `crit` would verify other bytes than jose does.
  if (names.includes('b64')) throw new InvalidTokenError('The access token is malformed', { detail: 'b64 header member' })
}

export function jwtProvider(options: JwtProviderOptions): JwtProvider {
  if (options === null || typeof options !== 'object') throw new TypeError('jwtProvider: options must be an object')
  assertHttpUrl(options.issuer, 'jwtProvider: issuer')
  const { issuer } = options
  const audience = checkAudience(options.audience, options.validate)
  const verifyOptions: JWTVerifyOptions = {
    issuer: options.issuerAliases === undefined ? issuer : [issuer, ...options.issuerAliases],
    algorithms: checkAlgorithms(options.algorithms),
    clockTolerance: options.clockTolerance ?? 5,
  }
  if (audience !== undefined) verifyOptions.audience = audience
  if (options.requiredClaims !== undefined) verifyOptions.requiredClaims = options.requiredClaims
  if (options.typ !== undefined) verifyOptions.typ = options.typ
  if (options.jwksUri !== undefined) assertHttpUrl(options.jwksUri, 'jwtProvider: jwksUri')

  let endpoint: ProviderEndpoint | undefined
  let jwks: RemoteJwks | undefined
  let getKey: (header: Parameters<RemoteJwks['getKey']>[0], token: Parameters<RemoteJwks['getKey']>[1], signal?: AbortSignal) => Promise<VerificationKey>
  if (options.keys !== undefined) {
    const local = createLocalJWKSet(publicSigningKeys(options.keys))
    getKey = (header, token) => local(header, token)
  } else {
    const source = new ProviderEndpoint({ endpoint: options.jwksUri, issuer, member: 'jwks_uri', timeout: options.timeout ?? 5_000, dispatcher: options.dispatcher })
    let uri: string | undefined
    const remote = new RemoteJwks(async () => (uri = await source.url()), {
      ...options.jwks, timeout: options.timeout, dispatcher: () => (uri === undefined ? undefined : source.dispatcher(uri)),
    })
    endpoint = source
    jwks = remote
    getKey = (header, token, signal) => remote.getKey(header, token, signal)
  }

  // Rules as they apply (one audience or a list of one are the same rule).
  const effective = { ...options, audience: audience === undefined ? null : ([] as string[]).concat(audience) }
  const rules = providerNamespace('jwt', effective, NOT_RULES, { name: 'jwt', clockTolerance: 5, algorithms: ASYMMETRIC_ALGORITHMS })
  const provider = defineProvider<JWTPayload>({
    ...options.map,
    name: options.name ?? 'jwt',
    issuer,
    // A token accepted under one set of rules must never be served from a shared cache to another.
    namespace: rules.namespace,
    clockTolerance: verifyOptions.clockTolerance as number,
    async getPayload(token, ctx) {
      assertCompactJws(token)
      try {
        const { payload } = await jwtVerify(token, (header, jws) => getKey(header, jws, ctx.signal), verifyOptions)
        options.validate?.(payload)
        return payload
      } catch (err) {
        throw invalidJwt(err)
      }
    },
    async ready({ log }) {
      if (jwks === undefined) return
      jwks.log = log
      await startOrWarn(log, provider.name, () => jwks.reload())
    },
    close: async () => endpoint?.close(),
  })
  recordUserRules(provider, rules.functions)
  return Object.defineProperty(provider, 'jwks', { value: jwks, enumerable: false }) as JwtProvider
}
