// ZITADEL: opaque (or JWT) access tokens introspected at https://{domain}/oauth/v2/introspect with
// the API application's client id and secret. Project roles arrive as an object keyed by role
// (`urn:zitadel:iam:org:project:roles`, or per project `urn:zitadel:iam:org:project:{id}:roles`);
// the role names join the scopes.
import type { Dispatcher } from 'undici'
import type { Claims } from '../../src/claims.js'
import type { Provider } from '../../src/provider.js'
import { introspectionProvider } from '../introspection.js'
import { credentialsWith, required } from './_mapping.js'

export interface ZitadelOptions {
  /** The instance domain, e.g. `acme-abc123.zitadel.cloud`. */
  domain: string
  /** The API application's credentials (basic authentication). */
  clientId: string
  clientSecret: string
  /** A project id: its audience is then required, and its roles claim read. */
  projectId?: string
  ttl?: number
  name?: string
  /** Overrides `https://{domain}` (tests, self-hosted behind another URL). */
  baseUrl?: string
  timeout?: number
  dispatcher?: Dispatcher
}

const ROLES = /^urn:zitadel:iam:org:project:(?:[^:]+:)?roles$/

export function zitadelRoles(claims: Claims): string[] {
  const roles = new Set<string>()
  for (const [claim, value] of Object.entries(claims)) {
    if (ROLES.test(claim) && value !== null && typeof value === 'object') for (const role of Object.keys(value)) roles.add(role)
  }
  return [...roles]
}

export function zitadel(options: ZitadelOptions): Provider<Claims> {
  const domain = required(options?.domain, 'zitadel: domain')
  const base = (options.baseUrl ?? `https://${domain}`).replace(/\/+$/, '')
  return introspectionProvider({
    endpoint: `${base}/oauth/v2/introspect`,
    issuer: `https://${domain}`,
    clientId: required(options.clientId, 'zitadel: clientId'),
    clientSecret: required(options.clientSecret, 'zitadel: clientSecret'),
    audience: options.projectId,
    ttl: options.ttl,
    name: options.name ?? 'zitadel',
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    map: { getCredentials: (claims) => credentialsWith(claims, zitadelRoles(claims)) },
  })
}
