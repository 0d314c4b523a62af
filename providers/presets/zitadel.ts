// ZITADEL: opaque (or JWT) access tokens introspected at https://{domain}/oauth/v2/introspect with
// the API application's client id and secret. Project roles arrive as an object keyed by role
// (`urn:zitadel:iam:org:project:roles`, or per project `urn:zitadel:iam:org:project:{id}:roles`);
// the role names join the scopes. The login name comes as `username` (RFC 7662), and becomes
// `info.preferred_username` as ZITADEL's userinfo would name it.
import { recordUserRules } from '../../src/namespace.js'
import type { Info } from '../../src/auth.js'
import { profileOf, type Claims } from '../../src/claims.js'
import type { Provider } from '../../src/provider.js'
import { assertBaseUrl } from '../discovery.js'
import { introspectionProvider } from '../introspection.js'
import { credentialsWith, required } from './_mapping.js'
import { checkPresetOptions, hostName, INTROSPECTION_PRESET_OPTIONS, type IntrospectionPresetOptions } from './_options.js'

export interface ZitadelOptions extends IntrospectionPresetOptions {
  /** The instance domain, e.g. `acme-abc123.zitadel.cloud`. */
  domain: string
  /** The API application's credentials (basic authentication). */
  clientId: string
  clientSecret: string
  /** A project id: its audience is then required, and its roles claim read. */
  projectId?: string
  /** Overrides `https://{domain}` (tests, self-hosted behind another URL). */
  baseUrl?: string
}

const ROLES = /^urn:zitadel:iam:org:project:(?:[^:]+:)?roles$/

export function zitadelRoles(claims: Claims): string[] {
  const roles = new Set<string>()
  for (const [claim, value] of Object.entries(claims)) {
    if (ROLES.test(claim) && value !== null && typeof value === 'object') for (const role of Object.keys(value)) roles.add(role)
  }
  return [...roles]
}

/** The OIDC profile, with the introspection answer's `username` as `preferred_username`. */
export function zitadelProfile(claims: Claims): Info {
  const info = profileOf(claims)
  if (info.preferred_username === undefined && typeof claims.username === 'string' && claims.username.length > 0) info.preferred_username = claims.username
  return info
}

export function zitadel(options: ZitadelOptions): Provider<Claims> {
  const rules = checkPresetOptions(options, 'zitadel', [...INTROSPECTION_PRESET_OPTIONS, 'domain', 'clientId', 'clientSecret', 'projectId', 'baseUrl'])
  const domain = hostName(options.domain, 'zitadel: domain')
  const base = (options.baseUrl ?? `https://${domain}`).replace(/\/+$/, '')
  assertBaseUrl(base, 'zitadel: baseUrl', '/oauth/v2/introspect is appended to it')
  return recordUserRules(introspectionProvider({
    namespace: rules.namespace,
    endpoint: `${base}/oauth/v2/introspect`,
    issuer: `https://${domain}`,
    clientId: required(options.clientId, 'zitadel: clientId'),
    clientSecret: required(options.clientSecret, 'zitadel: clientSecret'),
    audience: options.projectId,
    ttl: options.ttl,
    name: options.name ?? 'zitadel',
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    clockTolerance: options.clockTolerance,
    validate: options.validate,
    map: { getCredentials: (claims) => credentialsWith(claims, zitadelRoles(claims)), getInfo: zitadelProfile, ...options.map },
  }), rules.functions)
}
