// Opaque tokens validated by calling an endpoint that answers only for a valid token: the OIDC
// UserInfo endpoint (OIDC Core §5.3), or an API such as GitHub's `/user`. A 401 (or 403) from
// it means the token is not good; anything else that is not a 200 JSON object is an outage.
import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import type { Claims } from '../src/claims.js'
import { InvalidTokenError, ProviderUnavailableError } from '../src/errors.js'
import { asObject, DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_BYTES, fetchJson, unexpectedStatus } from '../src/http.js'
import { providerNamespace, recordUserRules } from '../src/namespace.js'
import { defineProvider, type Provider, type ProviderDefinition } from '../src/provider.js'
import { assertHttpUrl } from './discovery.js'
import { ProviderEndpoint, startOrWarn } from './endpoint.js'

export interface UserinfoProviderOptions {
  /** The issuer, whose discovery document names the userinfo endpoint. */
  issuer?: string
  /** The endpoint itself (e.g. `https://api.github.com/user`), when not discovered. */
  endpoint?: string
  /**
   * Turns the endpoint's answer (and headers) into claims: `sub` at least. Default: the answer as
   * is. GitHub, for one: `(user, headers) => ({ sub: String(user.id), preferred_username: user.login,
   * scope: headers['x-oauth-scopes'] })`.
   */
  mapping?: (body: Record<string, unknown>, headers: IncomingHttpHeaders) => Claims
  /** Extra request headers (an API's `Accept` or version header). */
  headers?: Record<string, string>
  /** Deadline of one call, in ms. Default 5,000. */
  timeout?: number
  /** How long an answer is trusted, in ms (userinfo carries no exp). Default 60,000. */
  ttl?: number
  maxBytes?: number
  /** Provider name. Default `'userinfo'`. */
  name?: string
  dispatcher?: Dispatcher
  /** Overrides of the claim mapping. */
  map?: Partial<Omit<ProviderDefinition<Claims>, 'name' | 'getPayload'>>
  /**
   * Names this provider's rules for caches shared across registrations or a fleet. Needed with a
   * shared store when functions of yours are among the options (`map`…). Default: derived from the options.
   */
  namespace?: string
}

export function userinfoProvider(options: UserinfoProviderOptions): Provider<Claims> {
  if (options === null || typeof options !== 'object') throw new TypeError('userinfoProvider: options must be an object')
  if (options.endpoint === undefined && options.issuer === undefined) throw new TypeError('userinfoProvider: issuer or endpoint is required')
  if (options.endpoint !== undefined) assertHttpUrl(options.endpoint, 'userinfoProvider: endpoint')
  if (options.issuer !== undefined) assertHttpUrl(options.issuer, 'userinfoProvider: issuer')
  if (options.mapping !== undefined && typeof options.mapping !== 'function') throw new TypeError('userinfoProvider: mapping must be a function')
  const ttl = options.ttl ?? 60_000
  const timeout = options.timeout ?? DEFAULT_HTTP_TIMEOUT
  const endpoint = new ProviderEndpoint({ ...options, member: 'userinfo_endpoint', timeout })

  const name = options.name ?? 'userinfo'
  const rules = providerNamespace('userinfo', options, ['dispatcher', 'timeout', 'maxBytes'])
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
      if (answer.status === 401 || answer.status === 403) {
        throw new InvalidTokenError('The access token was refused by the identity provider', { detail: `userinfo answered ${answer.status}` })
      }
      if (answer.status !== 200) throw unexpectedStatus(answer, 'userinfo endpoint')
      const body = asObject(answer.json)
      if (body === undefined) throw new ProviderUnavailableError('The userinfo endpoint answered with something other than a JSON object')
      return options.mapping === undefined ? body : options.mapping(body, answer.headers)
    },
    ready: ({ log }) => startOrWarn(log, name, () => endpoint.url()),
    close: () => endpoint.close(),
  })
  return recordUserRules(provider, rules.functions)
}
