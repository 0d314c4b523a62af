// Keycloak: JWT access tokens, issuer {url}/realms/{realm}. Only access tokens pass: Keycloak puts
// the kind in the `typ` claim (`Bearer`, or `DPoP` for a DPoP-bound one) and signs its ID, refresh
// and logout tokens with the same keys (`ID`, `Refresh`, `Offline`, `Logout`), so a token of any
// other `typ` is refused, as Keycloak's own verifier does. Realm roles (`realm_access.roles`)
// join the scopes as they are; client roles (`resource_access.{client}.roles`) as `{client}:{role}`.
import { recordUserRules } from '../../src/namespace.js'
import type { JWTPayload } from 'jose'
import type { Claims } from '../../src/claims.js'
import { InvalidTokenError } from '../../src/errors.js'
import { assertIssuer } from '../discovery.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { credentialsWith, required, stringsOf } from './_mapping.js'
import { bothChecks, checkPresetOptions, JWT_PRESET_OPTIONS, type JwtPresetOptions } from './_options.js'

export interface KeycloakOptions extends JwtPresetOptions {
  /** The server's base URL, e.g. `https://sso.acme.com` (with `/auth` for Keycloak before 17). */
  url: string
  realm: string
  /** The audience your tokens carry (add an audience mapper for your API's client). */
  audience: string | string[]
}

export function keycloakRoles(claims: Claims): string[] {
  const realm = stringsOf((claims.realm_access as { roles?: unknown } | undefined)?.roles)
  const clients = claims.resource_access !== null && typeof claims.resource_access === 'object' ? claims.resource_access as Record<string, { roles?: unknown }> : {}
  const clientRoles = Object.entries(clients).flatMap(([client, access]) => stringsOf(access?.roles).map((role) => `${client}:${role}`))
  return [...realm, ...clientRoles]
}

/** The `typ` claim values of Keycloak access tokens. */
const ACCESS_TOKEN_TYPS = new Set(['bearer', 'dpop'])

function accessTokenOnly(claims: JWTPayload): void {
  if (typeof claims.typ !== 'string' || !ACCESS_TOKEN_TYPS.has(claims.typ.toLowerCase())) {
    throw new InvalidTokenError('The token is not an access token', { detail: `typ claim ${JSON.stringify(claims.typ)}`, reason: 'type' })
  }
}

export function keycloak(options: KeycloakOptions): JwtProvider {
  const rules = checkPresetOptions(options, 'keycloak', [...JWT_PRESET_OPTIONS, 'url', 'realm', 'audience'])
  const url = required(options.url, 'keycloak: url').replace(/\/+$/, '')
  assertIssuer(url, 'keycloak: url')
  const realm = required(options.realm, 'keycloak: realm')
  return recordUserRules(jwtProvider({
    namespace: rules.namespace,
    issuer: `${url}/realms/${encodeURIComponent(realm)}`,
    audience: options.audience,
    name: options.name ?? 'keycloak',
    jwksUri: options.jwksUri,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    clockTolerance: options.clockTolerance,
    validate: bothChecks(accessTokenOnly, options.validate),
    map: { getCredentials: (claims) => credentialsWith(claims, keycloakRoles(claims), { azp: claims.azp }), ...options.map },
  }), rules.functions)
}
