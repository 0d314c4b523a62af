// inspectToken(): one token through the same provider and pipeline an API would use, with
// everything a person needs to see why it passes or fails. What `npx fastify-token-auth inspect`
// prints. The raw token never appears in the report.
import type { JWTPayload } from 'jose'
import { hasScopes, isAuthFailure, type Auth, type Credentials } from '../auth.js'
import { cacheKey } from '../cache.js'
import { ConfigurationError, FAILURES, isProviderUnavailableError, type FailureKey, type FailureReason } from '../errors.js'
import { describeError, fingerprint } from '../log.js'
import { namespaceOf, tokenAuth } from '../pipeline.js'
import type { Logger, Provider } from '../provider.js'
import { discover } from '../../providers/discovery.js'
import { introspectionProvider, type ClientAuthMethod } from '../../providers/introspection.js'
import { ASYMMETRIC_ALGORITHMS, jwtProvider, type JwtProvider } from '../../providers/jwt.js'
import { userinfoProvider } from '../../providers/userinfo.js'
import { decodeToken, type DecodedToken } from './decode.js'
import { hintsFor, notesFor, reasonOf, type Expectations, type FailureFacts, type InspectMethod } from './diagnose.js'

export interface InspectOptions {
  /** The issuer the API trusts: discovery, and the `iss` tokens must carry. */
  issuer: string
  /** The API's audience; absent: not checked (and said so). */
  audience?: string[]
  /** Scopes a route would require. */
  scopes?: string[]
  /**
   * How the API validates tokens: `jwt` (locally against the JWKS, the default), `introspection`
   * (RFC 7662) or `userinfo` (the OIDC userinfo endpoint).
   */
  method?: InspectMethod
  clientId?: string
  clientSecret?: string
  clientAuth?: ClientAuthMethod
  /** Endpoints, when not discovered from the issuer. */
  jwksUri?: string
  introspectionEndpoint?: string
  userinfoEndpoint?: string
  /** Seconds of clock skew allowed. Default 5, as in the providers. */
  clockTolerance?: number
  /** Deadline of each call to the identity provider, in ms. Default 5,000. */
  timeout?: number
}

/** Per method: the discovery member of its endpoint, and the option that gives it instead. */
const ENDPOINTS = {
  jwt: { member: 'jwks_uri', option: 'jwksUri', flag: '--jwks-uri' },
  introspection: { member: 'introspection_endpoint', option: 'introspectionEndpoint', flag: '--introspection-endpoint' },
  userinfo: { member: 'userinfo_endpoint', option: 'userinfoEndpoint', flag: '--userinfo-endpoint' },
} as const

export type Verdict = 'accepted' | 'rejected' | 'unavailable'

export const EXIT_CODES: Readonly<Record<Verdict, number>> = Object.freeze({ accepted: 0, rejected: 1, unavailable: 2 })

export interface InspectReport {
  verdict: Verdict
  exitCode: number
  token: DecodedToken & {
    /** The prefix of its cache key that the plugin's log lines carry for this token. */
    logFingerprint: string
  }
  checked: { method: Expectations['method']; issuer: string; audience: string[] | null; scopes: string[]; endpoint: string | undefined }
  /** What `request.auth` holds on a route, without the raw token. */
  auth?: Omit<Auth, 'credentials'> & { credentials: Omit<Credentials, 'token'> }
  failure?: FailureFacts & { status: number }
  hints: string[]
  notes: string[]
}

/** A logger that keeps what the pipeline says about the failure (already scrubbed of the token). */
function detailLogger(): Logger & { detail: string | undefined } {
  const sink = {
    detail: undefined as string | undefined,
    trace: () => {}, debug: keep, info: () => {}, warn: keep, error: keep,
  }
  function keep(obj: object): void {
    const err = (obj as { tokenAuth?: { err?: Record<string, unknown> } }).tokenAuth?.err
    if (err !== undefined) sink.detail = detailOf(err)
  }
  return sink
}

/** "ERR_JWT_EXPIRED: …" or "connect ECONNREFUSED 127.0.0.1:9" from a described error. */
function detailOf(described: Record<string, unknown>): string | undefined {
  const parts: string[] = []
  if (typeof described.detail === 'string') parts.push(described.detail)
  let cause = described.cause as Record<string, unknown> | undefined
  while (cause !== undefined) {
    if (typeof cause.message === 'string' && cause.message.length > 0) parts.push(cause.message)
    cause = cause.cause as Record<string, unknown> | undefined
  }
  return parts.length === 0 ? undefined : parts.join(': ')
}

function buildProvider(options: InspectOptions, method: InspectMethod, audience: string[], clockTolerance: number, timeout: number): Provider<unknown> {
  const { issuer } = options
  const endpoint = options[ENDPOINTS[method].option]
  if (method === 'introspection') {
    return introspectionProvider({
      issuer, clientId: options.clientId, clientSecret: options.clientSecret, clockTolerance, timeout,
      ...(options.clientAuth === undefined ? {} : { clientAuth: options.clientAuth }),
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(audience.length > 0 ? { audience } : {}),
    })
  }
  if (method === 'userinfo') return userinfoProvider({ issuer, timeout, ...(endpoint === undefined ? {} : { endpoint }) })
  return jwtProvider({
    issuer, clockTolerance, timeout,
    ...(endpoint === undefined ? {} : { jwksUri: endpoint }),
    // Without --audience the token is still verified, and the report says the audience was not checked.
    ...(audience.length > 0 ? { audience } : { audience: null, validate: (_claims: JWTPayload) => {} }),
  })
}

/** The endpoint the provider will call, for the report: given, or from discovery (which the provider then reuses). */
async function endpointOf(options: InspectOptions, method: InspectMethod, timeout: number): Promise<string> {
  const { member, option, flag } = ENDPOINTS[method]
  const given = options[option]
  if (given !== undefined) return given
  const found = (await discover(options.issuer, { timeout }))[member]
  if (typeof found !== 'string') throw new ConfigurationError(`The metadata of "${options.issuer}" has no ${member}: pass ${flag}`)
  return found
}

/** Longest wait for the provider's connection pool to close: the report must not hang on a socket. */
const CLOSE_WAIT = 1_000

async function closeWithin(provider: Provider<unknown>, ms: number): Promise<void> {
  if (provider.close === undefined) return
  let timer: NodeJS.Timeout | undefined
  const waited = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  await Promise.race([provider.close().catch(() => undefined), waited])
  clearTimeout(timer)
}

function failureFacts(key: FailureKey, message: string, detail: string | undefined, reason?: FailureReason): FailureFacts & { status: number } {
  const facts: FailureFacts & { status: number } = { key, status: FAILURES[key].status, message, ...(detail === undefined ? {} : { detail }) }
  const why = reasonOf({ reason, detail })
  if (why !== undefined) facts.reason = why
  return facts
}

/**
 * Validates `token` as an API configured with these options would, and explains the result.
 * Throws ConfigurationError (or TypeError) for options that could not configure an API at all.
 */
export async function inspectToken(rawToken: string, options: InspectOptions): Promise<InspectReport> {
  const notes: string[] = []
  let token = rawToken.trim()
  if (/^bearer\s+/i.test(token)) {
    token = token.replace(/^bearer\s+/i, '')
    notes.push('the "Bearer " prefix was removed: pass the token alone')
  }
  const audience = options.audience ?? []
  const scopes = options.scopes ?? []
  const clockTolerance = options.clockTolerance ?? 5
  const timeout = options.timeout ?? 5_000
  const decoded = decodeToken(token)
  const method = options.method ?? 'jwt'
  const expected: Expectations = {
    method,
    issuer: options.issuer, audience, scopes, clockTolerance, algorithms: ASYMMETRIC_ALGORITHMS,
  }
  const nowSeconds = Date.now() / 1000
  const provider = buildProvider(options, method, audience, clockTolerance, timeout)
  const logFingerprint = fingerprint(cacheKey(namespaceOf(provider), token))
  const report = (verdict: Verdict, rest: Pick<InspectReport, 'auth' | 'failure'>, hints: string[]): InspectReport => ({
    verdict,
    exitCode: EXIT_CODES[verdict],
    token: { ...decoded, logFingerprint },
    checked: { method: expected.method, issuer: options.issuer, audience: audience.length > 0 ? audience : null, scopes, endpoint: expected.endpoint },
    ...rest,
    hints,
    notes,
  })

  const log = detailLogger()
  try {
    try {
      expected.endpoint = await endpointOf(options, method, timeout)
    } catch (err) {
      if (!isProviderUnavailableError(err)) throw err
      const failure = failureFacts('provider_unavailable', err.message, detailOf(describeError(err, token)), err.reason)
      return report('unavailable', { failure }, hintsFor(decoded, expected, failure, { nowSeconds }))
    }
    const result = await tokenAuth(token, provider, { timeout, breaker: false, logger: log })
    if (isAuthFailure(result)) {
      const error = result.errors[0]!
      const failure = failureFacts(error.messageKey, error.message, log.detail, error.reason)
      // The key set the provider itself just fetched (an unknown kid refetches it): no second request.
      const kids = failure.reason === 'unknown_key' ? (provider as Partial<JwtProvider>).jwks?.kids : undefined
      const verdict = error.messageKey === 'provider_unavailable' ? 'unavailable' : 'rejected'
      return report(verdict, { failure }, hintsFor(decoded, expected, failure, { nowSeconds, ...(kids === undefined ? {} : { jwksKids: [...kids] }) }))
    }
    const { token: _omitted, ...credentials } = result.credentials
    const auth = { ...result, credentials }
    if (!hasScopes(result, scopes)) {
      const failure = failureFacts('insufficient_scope', FAILURES.insufficient_scope.description, undefined)
      return report('rejected', { auth, failure }, hintsFor(decoded, expected, failure, { nowSeconds, grantedScopes: credentials.scopes }))
    }
    notes.push(...notesFor(decoded, expected, nowSeconds, credentials.expiresAt))
    return report('accepted', { auth }, [])
  } finally {
    await closeWithin(provider, CLOSE_WAIT)
  }
}
