// OAuth 2.0 Token Introspection (RFC 7662) for opaque tokens: one POST per validation over a
// keep-alive pool, client authentication per RFC 6749 §2.3.1, and a strict reading of the
// answer: only `"active": true` is active. A 4xx about the token (oidc-provider answers 400 to a
// JWT it cannot introspect) is 401 invalid_token: a client chooses it, so it never counts toward
// the circuit breaker. Our own credentials refused, a rate limit, a 5xx, or anything that is not
// a clean 200 JSON object is an outage (503), never a pass and never cached.
import type { Dispatcher } from 'undici'
import { audiencesOf, type Claims } from '../src/claims.js'
import { InvalidTokenError, ProviderUnavailableError } from '../src/errors.js'
import {
  asObject, DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_BYTES, fetchJson, isAboutTheToken, rateLimitOf, refusedToken, unexpectedStatus, type HttpAnswer,
} from '../src/http.js'
import { providerNamespace, recordUserRules } from '../src/namespace.js'
import { defineProvider, ttlUntilExpiry, type Logger, type Provider, type ProviderDefinition } from '../src/provider.js'
import { assertHttpUrl, assertIssuer } from './discovery.js'
import { ProviderEndpoint, startOrWarn } from './endpoint.js'
import { checkCommonNumbers, checkFunction, checkInteger, checkKnownOptions } from './option-checks.js'

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none'

export interface IntrospectionProviderOptions {
  /** The issuer: the endpoint comes from its discovery document, and answers' `iss` must match it. */
  issuer?: string
  /** The introspection endpoint, when not discovered from `issuer`. */
  endpoint?: string
  /** This API's client credentials at the identity provider. Required unless clientAuth is 'none'. */
  clientId?: string
  clientSecret?: string
  /** How the credentials are sent. Default `'client_secret_basic'`; `'none'` for an admin endpoint on a private network (Ory Hydra). */
  clientAuth?: ClientAuthMethod
  /** `token_type_hint` sent with each request. Default `'access_token'`; `null` sends none. */
  tokenTypeHint?: string | null
  /** When set, the answer's `aud` must contain it. */
  audience?: string | string[]
  /** Deadline of one introspection call, in ms (1 to 600,000). Default 5,000. */
  timeout?: number
  /**
   * Longest an active answer is trusted, in ms (0 to 86,400,000): the revocation window of this
   * API. Default 60,000; 0 re-introspects every request. The cache's own maxTtl and the token's
   * exp cap it too.
   */
  ttl?: number
  /** Largest answer read, in bytes (1 KiB to 64 MiB). Default 256 KiB. */
  maxBytes?: number
  /** Provider name (Auth.provider, cache namespace). Default `'introspection'`. */
  name?: string
  /** An undici Dispatcher. Default: a keep-alive pool for the endpoint's origin. */
  dispatcher?: Dispatcher
  /** Seconds of clock skew allowed on exp and nbf (0 to 600). Default 5. */
  clockTolerance?: number
  /** Extra checks on an active answer; throw InvalidTokenError to refuse the token. May be async. */
  validate?: (claims: Claims) => void | Promise<void>
  /**
   * During an outage, keep serving a token's last active answer for up to this many ms past its
   * cache entry (never past exp). Off by default: it widens the revocation window. At most 60,000.
   */
  staleIfError?: number
  /** Overrides of the claim mapping. */
  map?: Partial<Omit<ProviderDefinition<Claims>, 'name' | 'getPayload'>>
  /**
   * Names this provider's rules for caches shared across registrations or a fleet. Needed with a
   * shared store when functions of yours are among the options (`map`…). Default: derived from the options.
   */
  namespace?: string
}

/** RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined and base64-encoded. */
export function basicCredentials(clientId: string, clientSecret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+')
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`
}

function includesAudience(aud: unknown, expected: readonly string[]): boolean {
  const granted = audiencesOf(aud)
  return expected.some((audience) => granted.includes(audience))
}

// token_type (RFC 7662 §2.2) and token_use (Ory Hydra, Cognito) name what the token is: a
// refresh or ID token presented as a bearer token must not pass for an access token.
const ACCESS_TOKEN_TYPES = new Set(['bearer', 'dpop', 'access_token', 'n_a'])

function checkAnswer(answer: Record<string, unknown>, options: IntrospectionProviderOptions, audiences: string[] | undefined): void {
  if (answer.active !== true) throw new InvalidTokenError('The access token is not active', { detail: `active is ${JSON.stringify(answer.active)}`, reason: 'inactive' })
  if (typeof answer.token_type === 'string' && !ACCESS_TOKEN_TYPES.has(answer.token_type.toLowerCase())) {
    throw new InvalidTokenError('The token is not an access token', { detail: `token_type ${answer.token_type}`, reason: 'type' })
  }
  if (answer.token_use !== undefined && answer.token_use !== 'access_token' && answer.token_use !== 'access') {
    throw new InvalidTokenError('The token is not an access token', { detail: `token_use ${JSON.stringify(answer.token_use)}`, reason: 'type' })
  }
  if (options.issuer !== undefined && answer.iss !== undefined && answer.iss !== options.issuer) {
    throw new InvalidTokenError('The access token was issued by another issuer', { detail: `iss ${JSON.stringify(answer.iss)}`, reason: 'issuer' })
  }
  if (audiences !== undefined && !includesAudience(answer.aud, audiences)) {
    throw new InvalidTokenError('The access token is not meant for this API', { detail: `aud ${JSON.stringify(answer.aud)}`, reason: 'audience' })
  }
}

// RFC 6749 §5.2: the codes by which a server refuses the client (this API), not the token.
const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client'])

/**
 * The error for a non-200 answer. Our credentials refused (401, 403, or a 400 invalid_client):
 * every token would fail, so it is an outage, loud in the log; the client only learns that the
 * identity provider is unavailable, nothing about this API's configuration.
 */
function failedAnswer(answer: HttpAnswer, name: string, log: Logger): Error {
  if (rateLimitOf(answer) !== undefined) return unexpectedStatus(answer, 'introspection endpoint')
  if (answer.status === 401 || answer.status === 403 || (answer.status === 400 && CLIENT_ERRORS.has(answer.error ?? ''))) {
    const detail = `the introspection endpoint answered ${answer.status}${answer.error === undefined ? '' : ` ${answer.error}`}: it refused this API's client credentials`
    log.error({ tokenAuth: { provider: name, status: answer.status, error: answer.error } },
      'the introspection endpoint refused this API\'s client credentials: check clientId, clientSecret and clientAuth')
    return new ProviderUnavailableError(undefined, { reason: 'client_auth', cause: new Error(detail) })
  }
  // A missing endpoint is the same for every token: this API's configuration.
  if (answer.status !== 404 && isAboutTheToken(answer.status)) return refusedToken(answer, 'introspection endpoint')
  return unexpectedStatus(answer, 'introspection endpoint')
}

const KNOWN = [
  'issuer', 'endpoint', 'clientId', 'clientSecret', 'clientAuth', 'tokenTypeHint', 'audience', 'timeout', 'ttl', 'maxBytes',
  'name', 'dispatcher', 'clockTolerance', 'validate', 'staleIfError', 'map', 'namespace',
] as const

function checkOptions(options: IntrospectionProviderOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('introspectionProvider: options must be an object')
  checkKnownOptions(options, KNOWN, 'introspectionProvider')
  if (options.endpoint === undefined && options.issuer === undefined) throw new TypeError('introspectionProvider: issuer or endpoint is required')
  if (options.endpoint !== undefined) assertHttpUrl(options.endpoint, 'introspectionProvider: endpoint')
  if (options.issuer !== undefined) assertIssuer(options.issuer, 'introspectionProvider: issuer')
  checkCommonNumbers(options, 'introspectionProvider')
  checkInteger(options.staleIfError, 'introspectionProvider: staleIfError', 0, 60_000, 'ms')
  checkFunction(options.validate, 'introspectionProvider: validate')
  const method = options.clientAuth ?? 'client_secret_basic'
  if (method !== 'client_secret_basic' && method !== 'client_secret_post' && method !== 'none') {
    throw new TypeError('introspectionProvider: clientAuth must be "client_secret_basic", "client_secret_post" or "none"')
  }
  if (method !== 'none') {
    if (typeof options.clientId !== 'string' || options.clientId.length === 0) throw new TypeError('introspectionProvider: clientId is required')
    if (typeof options.clientSecret !== 'string' || options.clientSecret.length === 0) throw new TypeError('introspectionProvider: clientSecret is required')
  }
}

export function introspectionProvider(options: IntrospectionProviderOptions): Provider<Claims> {
  checkOptions(options)
  const clientAuth = options.clientAuth ?? 'client_secret_basic'
  const tokenTypeHint = options.tokenTypeHint === undefined ? 'access_token' : options.tokenTypeHint
  const audiences = options.audience === undefined ? undefined : ([] as string[]).concat(options.audience)
  const ttl = options.ttl ?? 60_000
  const timeout = options.timeout ?? DEFAULT_HTTP_TIMEOUT
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
  const authorization = clientAuth === 'client_secret_basic' ? basicCredentials(options.clientId!, options.clientSecret!) : undefined
  const endpoint = new ProviderEndpoint({ endpoint: options.endpoint, issuer: options.issuer, dispatcher: options.dispatcher, member: 'introspection_endpoint', timeout })

  const name = options.name ?? 'introspection'
  const rules = providerNamespace('introspection', options, ['dispatcher', 'timeout', 'clientSecret', 'maxBytes', 'staleIfError'],
    { name: 'introspection', clientAuth: 'client_secret_basic', tokenTypeHint: 'access_token', ttl: 60_000, clockTolerance: 5 })
  const provider: Provider<Claims> = defineProvider<Claims>({
    getTtl: (payload) => Math.min(ttlUntilExpiry(payload), ttl),
    ...options.map,
    name,
    namespace: rules.namespace,
    staleIfError: options.staleIfError ?? 0,
    clockTolerance: options.clockTolerance ?? 5,
    async getPayload(token, ctx) {
      const url = await endpoint.url()
      const form = new URLSearchParams({ token })
      if (tokenTypeHint !== null) form.set('token_type_hint', tokenTypeHint)
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
      if (authorization !== undefined) headers.authorization = authorization
      else if (clientAuth === 'client_secret_post') {
        form.set('client_id', options.clientId!)
        form.set('client_secret', options.clientSecret!)
      }
      const answer = await fetchJson(url, {
        method: 'POST', headers, body: form.toString(), signal: ctx.signal, timeout, maxBytes,
        dispatcher: endpoint.dispatcher(url), what: 'introspection endpoint',
      })
      if (answer.status !== 200) throw failedAnswer(answer, name, ctx.log)
      const body = asObject(answer.json)
      if (body === undefined) throw new ProviderUnavailableError('The introspection endpoint answered with something other than a JSON object', { reason: 'bad_answer' })
      checkAnswer(body, options, audiences)
      await options.validate?.(body)
      return body
    },
    ready: ({ log }) => {
      endpoint.log = log
      return startOrWarn(log, name, () => endpoint.url())
    },
    close: () => endpoint.close(),
  })
  return recordUserRules(provider, rules.functions)
}
