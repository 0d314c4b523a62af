// Auth0: JWT access tokens for an API (audience = the API identifier), issuer https://{domain}/.
// With RBAC on, the token carries `permissions`; they join `scope` in credentials.scopes.
import { recordUserRules } from '../../src/namespace.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { credentialsWith, stringsOf } from './_mapping.js'
import { checkPresetOptions, hostName, JWT_PRESET_OPTIONS, type JwtPresetOptions } from './_options.js'

export interface Auth0Options extends JwtPresetOptions {
  /** The tenant domain, e.g. `acme.eu.auth0.com` (or a custom domain). */
  domain: string
  /** The API identifier set in the Auth0 dashboard, e.g. `https://api.acme.com`. */
  audience: string | string[]
}

export function auth0(options: Auth0Options): JwtProvider {
  const rules = checkPresetOptions(options, 'auth0', [...JWT_PRESET_OPTIONS, 'domain', 'audience'])
  const domain = hostName(options.domain, 'auth0: domain')
  return recordUserRules(jwtProvider({
    namespace: rules.namespace,
    issuer: `https://${domain}/`,
    audience: options.audience,
    name: options.name ?? 'auth0',
    jwksUri: options.jwksUri,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    clockTolerance: options.clockTolerance,
    validate: options.validate,
    map: { getCredentials: (claims) => credentialsWith(claims, stringsOf(claims.permissions)), ...options.map },
  }), rules.functions)
}
