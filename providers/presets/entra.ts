// Microsoft Entra ID (Azure AD): v2 tokens (issuer {authority}/{tenant}/v2.0, aud = the client id)
// or v1 (issuer https://sts.windows.net/{tenant}/, aud = the App ID URI). Delegated scopes in `scp`
// (a space-separated string), application roles in `roles`; the user's stable id is `oid` (`sub`
// is pairwise per application). The tenant (`tid`) must be the configured one.
import type { Dispatcher } from 'undici'
import { InvalidTokenError } from '../../src/errors.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { credentialsWith, required, stringsOf } from './_mapping.js'

export interface EntraOptions {
  /** The directory (tenant) id, a GUID. */
  tenantId: string
  /** The client id (v2) and/or the App ID URI (v1), e.g. `['8c0…', 'api://orders']`. */
  audience: string | string[]
  /** Token version the API receives (its manifest's accessTokenAcceptedVersion). Default 2. */
  version?: 1 | 2
  /** The login authority, for national clouds. Default `https://login.microsoftonline.com`. */
  authority?: string
  name?: string
  jwksUri?: string
  timeout?: number
  dispatcher?: Dispatcher
}

export function entra(options: EntraOptions): JwtProvider {
  const tenant = required(options?.tenantId, 'entra: tenantId')
  const authority = (options.authority ?? 'https://login.microsoftonline.com').replace(/\/+$/, '')
  const version = options.version ?? 2
  return jwtProvider({
    issuer: version === 2 ? `${authority}/${tenant}/v2.0` : `https://sts.windows.net/${tenant}/`,
    audience: options.audience,
    name: options.name ?? 'entra',
    // One key set serves v1 and v2 tokens; sts.windows.net serves no discovery of its own.
    jwksUri: options.jwksUri ?? `${authority}/${tenant}/discovery/v2.0/keys`,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    validate: (claims) => {
      if (claims.tid !== tenant) throw new InvalidTokenError('The access token is from another tenant', { detail: `tid ${String(claims.tid)}` })
    },
    map: {
      getUid: (claims) => (typeof claims.oid === 'string' ? claims.oid : String(claims.sub)),
      getCredentials: (claims) => credentialsWith(claims, stringsOf(claims.roles), { tid: claims.tid, oid: claims.oid, appid: claims.appid ?? claims.azp }),
    },
  })
}
