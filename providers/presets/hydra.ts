// Ory Hydra (v2): opaque tokens introspected at the admin API's /admin/oauth2/introspect, which
// lives on a private network and takes no client authentication. Hydra marks refresh tokens with
// `token_use`, which the introspection provider refuses.
import { recordUserRules } from '../../src/namespace.js'
import type { Claims } from '../../src/claims.js'
import type { Provider } from '../../src/provider.js'
import { assertBaseUrl, assertIssuer } from '../discovery.js'
import { introspectionProvider } from '../introspection.js'
import { required } from './_mapping.js'
import { checkPresetOptions, INTROSPECTION_PRESET_OPTIONS, type IntrospectionPresetOptions } from './_options.js'

export interface HydraOptions extends IntrospectionPresetOptions {
  /** The admin API's base URL, e.g. `http://hydra-admin:4445`. */
  adminUrl: string
  /** The public issuer URL: answers must name it (`iss`). */
  issuer?: string
  audience?: string | string[]
}

export function hydra(options: HydraOptions): Provider<Claims> {
  const rules = checkPresetOptions(options, 'hydra', [...INTROSPECTION_PRESET_OPTIONS, 'adminUrl', 'issuer', 'audience'])
  const adminUrl = required(options.adminUrl, 'hydra: adminUrl').replace(/\/+$/, '')
  assertBaseUrl(adminUrl, 'hydra: adminUrl', '/admin/oauth2/introspect is appended to it')
  if (options.issuer !== undefined) assertIssuer(options.issuer, 'hydra: issuer')
  return recordUserRules(introspectionProvider({
    namespace: rules.namespace,
    endpoint: `${adminUrl}/admin/oauth2/introspect`,
    clientAuth: 'none',
    issuer: options.issuer,
    audience: options.audience,
    ttl: options.ttl,
    name: options.name ?? 'hydra',
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    clockTolerance: options.clockTolerance,
    validate: options.validate,
    map: options.map,
  }), rules.functions)
}
