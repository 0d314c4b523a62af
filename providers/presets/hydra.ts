// Ory Hydra (v2): opaque tokens introspected at the admin API's /admin/oauth2/introspect, which
// lives on a private network and takes no client authentication. Hydra marks refresh tokens with
// `token_use`, which the introspection provider refuses.
import type { Dispatcher } from 'undici'
import type { Claims } from '../../src/claims.js'
import type { Provider } from '../../src/provider.js'
import { introspectionProvider } from '../introspection.js'
import { required } from './_mapping.js'

export interface HydraOptions {
  /** The admin API's base URL, e.g. `http://hydra-admin:4445`. */
  adminUrl: string
  /** The public issuer URL: answers must name it (`iss`). */
  issuer?: string
  audience?: string | string[]
  ttl?: number
  name?: string
  timeout?: number
  dispatcher?: Dispatcher
}

export function hydra(options: HydraOptions): Provider<Claims> {
  const adminUrl = required(options?.adminUrl, 'hydra: adminUrl').replace(/\/+$/, '')
  return introspectionProvider({
    endpoint: `${adminUrl}/admin/oauth2/introspect`,
    clientAuth: 'none',
    issuer: options.issuer,
    audience: options.audience,
    ttl: options.ttl,
    name: options.name ?? 'hydra',
    timeout: options.timeout,
    dispatcher: options.dispatcher,
  })
}
