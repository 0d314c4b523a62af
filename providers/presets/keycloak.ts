// Keycloak: JWT access tokens, issuer {url}/realms/{realm}. Realm roles (`realm_access.roles`) join
// the scopes as they are; client roles (`resource_access.{client}.roles`) as `{client}:{role}`.
import type { Dispatcher } from 'undici'
import type { Claims } from '../../src/claims.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { credentialsWith, required, stringsOf } from './_mapping.js'

export interface KeycloakOptions {
  /** The server's base URL, e.g. `https://sso.acme.com` (with `/auth` for Keycloak before 17). */
  url: string
  realm: string
  /** The audience your tokens carry (add an audience mapper for your API's client). */
  audience: string | string[]
  name?: string
  jwksUri?: string
  timeout?: number
  dispatcher?: Dispatcher
}

export function keycloakRoles(claims: Claims): string[] {
  const realm = stringsOf((claims.realm_access as { roles?: unknown } | undefined)?.roles)
  const clients = claims.resource_access !== null && typeof claims.resource_access === 'object' ? claims.resource_access as Record<string, { roles?: unknown }> : {}
  const clientRoles = Object.entries(clients).flatMap(([client, access]) => stringsOf(access?.roles).map((role) => `${client}:${role}`))
  return [...realm, ...clientRoles]
}

export function keycloak(options: KeycloakOptions): JwtProvider {
  const url = required(options?.url, 'keycloak: url').replace(/\/+$/, '')
  const realm = required(options.realm, 'keycloak: realm')
  return jwtProvider({
    issuer: `${url}/realms/${encodeURIComponent(realm)}`,
    audience: options.audience,
    name: options.name ?? 'keycloak',
    jwksUri: options.jwksUri,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    map: { getCredentials: (claims) => credentialsWith(claims, keycloakRoles(claims), { azp: claims.azp }) },
  })
}
