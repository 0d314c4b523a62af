// Google: ID tokens (JWTs for your OAuth client: aud = client id, iss with or without https://)
// and opaque access tokens, checked at the tokeninfo endpoint, which must name your client as the
// audience (a token minted for another app is refused). tokeninfo answers 400 for a bad token:
// like any 4xx about the token, a 401, never an outage; a rate limit or a 5xx is a 503.
import { recordUserRules } from '../../src/namespace.js'
import type { Claims } from '../../src/claims.js'
import { InvalidTokenError, ProviderUnavailableError } from '../../src/errors.js'
import { asObject, DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_BYTES, fetchJson, isAboutTheToken, rateLimitOf, refusedToken, unexpectedStatus } from '../../src/http.js'
import { defineProvider, ttlUntilExpiry, type Provider } from '../../src/provider.js'
import { assertHttpUrl } from '../discovery.js'
import { ProviderEndpoint } from '../endpoint.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { required } from './_mapping.js'
import {
  checkPresetOptions, INTROSPECTION_PRESET_OPTIONS, JWT_PRESET_OPTIONS, type IntrospectionPresetOptions, type JwtPresetOptions,
} from './_options.js'

export interface GoogleIdTokenOptions extends JwtPresetOptions {
  /** Your OAuth client id (`….apps.googleusercontent.com`). */
  clientId: string
}

export interface GoogleAccessTokenOptions extends IntrospectionPresetOptions {
  /** Your OAuth client id (`….apps.googleusercontent.com`). */
  clientId: string
  /** The tokeninfo endpoint. Default `https://oauth2.googleapis.com/tokeninfo`. */
  tokeninfoUrl?: string
}

export function googleIdToken(options: GoogleIdTokenOptions): JwtProvider {
  const rules = checkPresetOptions(options, 'googleIdToken', [...JWT_PRESET_OPTIONS, 'clientId'])
  return recordUserRules(jwtProvider({
    namespace: rules.namespace,
    issuer: 'https://accounts.google.com',
    issuerAliases: ['accounts.google.com'],
    audience: required(options.clientId, 'googleIdToken: clientId'),
    name: options.name ?? 'google',
    jwksUri: options.jwksUri ?? 'https://www.googleapis.com/oauth2/v3/certs',
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    clockTolerance: options.clockTolerance,
    validate: options.validate,
    map: options.map,
  }), rules.functions)
}

export function googleAccessToken(options: GoogleAccessTokenOptions): Provider<Claims> {
  const rules = checkPresetOptions(options, 'googleAccessToken', [...INTROSPECTION_PRESET_OPTIONS, 'clientId', 'tokeninfoUrl'])
  const clientId = required(options.clientId, 'googleAccessToken: clientId')
  const tokeninfoUrl = options.tokeninfoUrl ?? 'https://oauth2.googleapis.com/tokeninfo'
  assertHttpUrl(tokeninfoUrl, 'googleAccessToken: tokeninfoUrl')
  const timeout = options.timeout ?? DEFAULT_HTTP_TIMEOUT
  const ttl = options.ttl ?? 60_000
  const endpoint = new ProviderEndpoint({ endpoint: tokeninfoUrl, member: 'userinfo_endpoint', timeout, dispatcher: options.dispatcher })
  return recordUserRules(defineProvider<Claims>({
    getTtl: (claims) => Math.min(ttlUntilExpiry(claims), ttl),
    ...options.map,
    name: options.name ?? 'google',
    namespace: rules.namespace,
    ...(options.clockTolerance === undefined ? {} : { clockTolerance: options.clockTolerance }),
    async getPayload(token, ctx) {
      const url = await endpoint.url()
      // POSTed, so that the token stays out of URLs and proxy logs.
      const answer = await fetchJson(url, {
        method: 'POST', body: new URLSearchParams({ access_token: token }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        signal: ctx.signal, timeout, maxBytes: DEFAULT_MAX_BYTES, dispatcher: endpoint.dispatcher(url), what: 'Google tokeninfo endpoint',
      })
      if (rateLimitOf(answer) === undefined && isAboutTheToken(answer.status)) throw refusedToken(answer, 'Google tokeninfo endpoint')
      if (answer.status !== 200) throw unexpectedStatus(answer, 'Google tokeninfo endpoint')
      const info = asObject(answer.json)
      if (info === undefined) throw new ProviderUnavailableError('The Google tokeninfo endpoint answered with something other than a JSON object', { reason: 'bad_answer' })
      if (info.aud !== clientId && info.azp !== clientId) {
        throw new InvalidTokenError('The access token is not meant for this API', { detail: `aud ${String(info.aud)}`, reason: 'audience' })
      }
      // tokeninfo sends numbers and booleans as strings.
      const claims: Claims = { ...info, exp: info.exp === undefined ? undefined : Number(info.exp) }
      if (typeof info.email_verified === 'string') claims.email_verified = info.email_verified === 'true'
      await options.validate?.(claims)
      return claims
    },
    close: () => endpoint.close(),
  }), rules.functions)
}
