// Auth0: JWT access tokens for an API (audience = the API identifier), issuer https://{domain}/.
// With RBAC on, the token carries `permissions`; they join `scope` in credentials.scopes.
import type { Dispatcher } from 'undici'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { credentialsWith, required, stringsOf } from './_mapping.js'

export interface Auth0Options {
  /** The tenant domain, e.g. `acme.eu.auth0.com` (or a custom domain). */
  domain: string
  /** The API identifier set in the Auth0 dashboard, e.g. `https://api.acme.com`. */
  audience: string | string[]
  name?: string
  jwksUri?: string
  timeout?: number
  dispatcher?: Dispatcher
}

export function auth0(options: Auth0Options): JwtProvider {
  const domain = required(options?.domain, 'auth0: domain')
  return jwtProvider({
    issuer: `https://${domain}/`,
    audience: options.audience,
    name: options.name ?? 'auth0',
    jwksUri: options.jwksUri,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    map: { getCredentials: (claims) => credentialsWith(claims, stringsOf(claims.permissions)) },
  })
}
