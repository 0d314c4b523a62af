// Opaque tokens validated by calling an endpoint that answers only for a valid token: the OIDC
// UserInfo endpoint (OIDC Core §5.3), or an API such as GitHub's `/user`. A 4xx about the token
// (401 with or without a challenge, 403, 400, 404 as Glewlwyd answers for a client-credentials
// token) means the token is not good: 401 invalid_token, which a client may cause at will and so
// never counts toward the circuit breaker. A rate limit, a 5xx or anything that is not a 200 JSON
// object is an outage.
import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import type { Claims } from '../src/claims.js'
import { ProviderUnavailableError } from '../src/errors.js'
import { asObject, DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_BYTES, fetchJson, isAboutTheToken, rateLimitOf, refusedToken, unexpectedStatus } from '../src/http.js'
import { providerNamespace, recordUserRules } from '../src/namespace.js'
import { defineProvider, type Provider, type ProviderDefinition } from '../src/provider.js'
import { assertHttpUrl, assertIssuer } from './discovery.js'
import { ProviderEndpoint, startOrWarn } from './endpoint.js'
import { checkCommonNumbers, checkFunction, checkKnownOptions } from './option-checks.js'

export interface UserinfoProviderOptions {
  /** The issuer, whose discovery document names the userinfo endpoint. */
  issuer?: string
  /** The endpoint itself (e.g. `https://api.github.com/user`), when not discovered. */
  endpoint?: string
  /**
   * Turns the endpoint's answer (and headers) into claims: `sub` at least. Default: the answer as
   * is. GitHub, for one: `(user, headers) => ({ sub: String(user.id), preferred_username: user.login,
   * scope: headers['x-oauth-scopes'] })`. Formerly `mapping`; not to be confused with `map` below.
   */
  toClaims?: (body: Record<string, unknown>, headers: IncomingHttpHeaders) => Claims
  /** Extra checks on the claims; throw InvalidTokenError to refuse the token. May be async. */
  validate?: (claims: Claims) => void | Promise<void>
  /** Extra request headers (an API's `Accept` or version header). */
  headers?: Record<string, string>
  /** Deadline of one call, in ms (1 to 600,000). Default 5,000. */
  timeout?: number
  /** How long an answer is trusted, in ms (0 to 86,400,000; userinfo carries no exp). Default 60,000. */
  ttl?: number
  /** Largest answer read, in bytes (1 KiB to 64 MiB). Default 256 KiB. */
  maxBytes?: number
  /** Provider name. Default `'userinfo'`. */
  name?: string
  dispatcher?: Dispatcher
  /** Overrides of the claim mapping (getUid, getCredentials, getInfo, getExtra, getTtl, validToken). */
  map?: Partial<Omit<ProviderDefinition<Claims>, 'name' | 'getPayload'>>
  /**
   * Names this provider's rules for caches shared across registrations or a fleet. Needed with a
   * shared store when functions of yours are among the options (`map`…). Default: derived from the options.
   */
  namespace?: string
}

const KNOWN = ['issuer', 'endpoint', 'toClaims', 'validate', 'headers', 'timeout', 'ttl', 'maxBytes', 'name', 'dispatcher', 'map', 'namespace'] as const

function checkOptions(options: UserinfoProviderOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('userinfoProvider: options must be an object')
  checkKnownOptions(options, KNOWN, 'userinfoProvider', { mapping: 'toClaims' })
  if (options.endpoint === undefined && options.issuer === undefined) throw new TypeError('userinfoProvider: issuer or endpoint is required')
  if (options.endpoint !== undefined) assertHttpUrl(options.endpoint, 'userinfoProvider: endpoint')
  if (options.issuer !== undefined) assertIssuer(options.issuer, 'userinfoProvider: issuer')
  checkFunction(options.toClaims, 'userinfoProvider: toClaims')
  checkFunction(options.validate, 'userinfoProvider: validate')
  checkCommonNumbers(options, 'userinfoProvider')
}

export function userinfoProvider(options: UserinfoProviderOptions): Provider<Claims> {
  checkOptions(options)
  const ttl = options.ttl ?? 60_000
  const timeout = options.timeout ?? DEFAULT_HTTP_TIMEOUT
  const endpoint = new ProviderEndpoint({ endpoint: options.endpoint, issuer: options.issuer, dispatcher: options.dispatcher, member: 'userinfo_endpoint', timeout })

  const name = options.name ?? 'userinfo'
  const rules = providerNamespace('userinfo', options, ['dispatcher', 'timeout', 'maxBytes'], { name: 'userinfo', ttl: 60_000 })
  const provider: Provider<Claims> = defineProvider<Claims>({
    getTtl: () => ttl,
    ...options.map,
    name,
    namespace: rules.namespace,
    async getPayload(token, ctx) {
      const url = await endpoint.url()
      const answer = await fetchJson(url, {
        headers: { accept: 'application/json', ...options.headers, authorization: `Bearer ${token}` },
        signal: ctx.signal, timeout, maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
        dispatcher: endpoint.dispatcher(url), what: 'userinfo endpoint',
      })
      // A spent rate limit (GitHub answers it with 403) is the API's outage, not the token's fault.
      if (rateLimitOf(answer) === undefined && isAboutTheToken(answer.status)) throw refusedToken(answer, 'userinfo endpoint')
      if (answer.status !== 200) throw unexpectedStatus(answer, 'userinfo endpoint')
      const body = asObject(answer.json)
      if (body === undefined) throw new ProviderUnavailableError('The userinfo endpoint answered with something other than a JSON object', { reason: 'bad_answer' })
      const claims = options.toClaims === undefined ? body : options.toClaims(body, answer.headers)
      await options.validate?.(claims)
      return claims
    },
    ready: ({ log }) => {
      endpoint.log = log
      return startOrWarn(log, name, () => endpoint.url())
    },
    close: () => endpoint.close(),
  })
  return recordUserRules(provider, rules.functions)
}
