// Google: ID tokens (JWTs for your OAuth client: aud = client id, iss with or without https://)
// and opaque access tokens, checked at the tokeninfo endpoint, which must name your client as the
// audience (a token minted for another app is refused). tokeninfo answers 400 for a bad token.
import type { Dispatcher } from 'undici'
import type { Claims } from '../../src/claims.js'
import { InvalidTokenError, ProviderUnavailableError } from '../../src/errors.js'
import { asObject, DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_BYTES, fetchJson, unexpectedStatus } from '../../src/http.js'
import { defineProvider, ttlUntilExpiry, type Provider } from '../../src/provider.js'
import { ProviderEndpoint } from '../endpoint.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { required } from './_mapping.js'

export interface GoogleOptions {
  /** Your OAuth client id (`….apps.googleusercontent.com`). */
  clientId: string
  name?: string
  timeout?: number
  dispatcher?: Dispatcher
}

export function googleIdToken(options: GoogleOptions & { jwksUri?: string }): JwtProvider {
  return jwtProvider({
    issuer: 'https://accounts.google.com',
    issuerAliases: ['accounts.google.com'],
    audience: required(options?.clientId, 'googleIdToken: clientId'),
    name: options.name ?? 'google',
    jwksUri: options.jwksUri ?? 'https://www.googleapis.com/oauth2/v3/certs',
    timeout: options.timeout,
    dispatcher: options.dispatcher,
  })
}

export function googleAccessToken(options: GoogleOptions & { tokeninfoUrl?: string; ttl?: number }): Provider<Claims> {
  const clientId = required(options?.clientId, 'googleAccessToken: clientId')
  const timeout = options.timeout ?? DEFAULT_HTTP_TIMEOUT
  const ttl = options.ttl ?? 60_000
  const endpoint = new ProviderEndpoint({ endpoint: options.tokeninfoUrl ?? 'https://oauth2.googleapis.com/tokeninfo', member: 'userinfo_endpoint', timeout, dispatcher: options.dispatcher })
  return defineProvider<Claims>({
    name: options.name ?? 'google',
    namespace: `google-access ${clientId}`,
    async getPayload(token, ctx) {
      const url = await endpoint.url()
      // POSTed, so that the token stays out of URLs and proxy logs.
      const answer = await fetchJson(url, {
        method: 'POST', body: new URLSearchParams({ access_token: token }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        signal: ctx.signal, timeout, maxBytes: DEFAULT_MAX_BYTES, dispatcher: endpoint.dispatcher(url), what: 'Google tokeninfo endpoint',
      })
      if (answer.status === 400 || answer.status === 401) throw new InvalidTokenError('The access token was refused by Google')
      if (answer.status !== 200) throw unexpectedStatus(answer, 'Google tokeninfo endpoint')
      const info = asObject(answer.json)
      if (info === undefined) throw new ProviderUnavailableError('The Google tokeninfo endpoint answered with something other than a JSON object')
      if (info.aud !== clientId && info.azp !== clientId) throw new InvalidTokenError('The access token is not meant for this API', { detail: `aud ${String(info.aud)}` })
      // tokeninfo sends numbers and booleans as strings.
      const claims: Claims = { ...info, exp: info.exp === undefined ? undefined : Number(info.exp) }
      if (typeof info.email_verified === 'string') claims.email_verified = info.email_verified === 'true'
      return claims
    },
    getTtl: (claims) => Math.min(ttlUntilExpiry(claims), ttl),
    close: () => endpoint.close(),
  })
}
