// Microsoft Entra ID (Azure AD): v2 tokens (issuer {authority}/{tenant}/v2.0, aud = the client id)
// or v1 (issuer https://sts.windows.net/{tenant}/, aud = the App ID URI). Delegated scopes in `scp`
// (a space-separated string), application roles in `roles`; the user's stable id is `oid` (`sub`
// is pairwise per application). The tenant (`tid`) must be the configured one, and a token must
// carry `scp` or `roles`, as Microsoft.Identity.Web requires (IDW10201): an ID token or a token
// minted for the API's own client id without any permission is not an access grant.
import { recordUserRules } from '../../src/namespace.js'
import type { JWTPayload } from 'jose'
import { InvalidTokenError } from '../../src/errors.js'
import { assertIssuer } from '../discovery.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { credentialsWith, stringsOf } from './_mapping.js'
import { bothChecks, checkPresetOptions, hostName, JWT_PRESET_OPTIONS, type JwtPresetOptions } from './_options.js'

export interface EntraOptions extends JwtPresetOptions {
  /** The directory (tenant) id, a GUID (or its primary domain, e.g. `contoso.onmicrosoft.com`). */
  tenantId: string
  /** The client id (v2) and/or the App ID URI (v1), e.g. `['8c0…', 'api://orders']`. */
  audience: string | string[]
  /** Token version the API receives (its manifest's accessTokenAcceptedVersion). Default 2. */
  version?: 1 | 2
  /** The login authority, for national clouds. Default `https://login.microsoftonline.com`. */
  authority?: string
}

/** Whether the token grants anything: delegated scopes (`scp`) or application roles (`roles`). */
function grantsPermissions(claims: JWTPayload): boolean {
  return (typeof claims.scp === 'string' && claims.scp.trim().length > 0) || stringsOf(claims.roles).length > 0
}

export function entra(options: EntraOptions): JwtProvider {
  const rules = checkPresetOptions(options, 'entra', [...JWT_PRESET_OPTIONS, 'tenantId', 'audience', 'version', 'authority'])
  const tenant = hostName(options.tenantId, 'entra: tenantId', 'a tenant GUID or domain such as contoso.onmicrosoft.com')
  const authority = (options.authority ?? 'https://login.microsoftonline.com').replace(/\/+$/, '')
  assertIssuer(authority, 'entra: authority')
  const version = options.version ?? 2
  if (version !== 1 && version !== 2) throw new TypeError('entra: version must be 1 or 2')
  const own = (claims: JWTPayload): void => {
    if (claims.tid !== tenant) throw new InvalidTokenError('The access token is from another tenant', { detail: `tid ${String(claims.tid)}`, reason: 'issuer' })
    if (!grantsPermissions(claims)) {
      throw new InvalidTokenError('The access token carries neither scopes nor roles', { detail: 'no scp or roles claim (IDW10201)', reason: 'missing_claim' })
    }
  }
  return recordUserRules(jwtProvider({
    namespace: rules.namespace,
    issuer: version === 2 ? `${authority}/${tenant}/v2.0` : `https://sts.windows.net/${tenant}/`,
    audience: options.audience,
    name: options.name ?? 'entra',
    // One key set serves v1 and v2 tokens; sts.windows.net serves no discovery of its own.
    jwksUri: options.jwksUri ?? `${authority}/${tenant}/discovery/v2.0/keys`,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    clockTolerance: options.clockTolerance,
    validate: bothChecks(own, options.validate),
    map: {
      getUid: (claims) => (typeof claims.oid === 'string' ? claims.oid : String(claims.sub)),
      getCredentials: (claims) => credentialsWith(claims, stringsOf(claims.roles), { tid: claims.tid, oid: claims.oid, appid: claims.appid ?? claims.azp }),
      ...options.map,
    },
  }), rules.functions)
}
