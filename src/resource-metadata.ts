// OAuth 2.0 Protected Resource Metadata (RFC 9728): the API describes itself at
// /.well-known/oauth-protected-resource (inserted before the resource's path, §3.1), and every
// challenge points there with `resource_metadata=` (§5.1), so clients find the authorization server.
import { quotable } from './errors.js'

export interface ResourceMetadataOptions {
  /** This API's resource identifier, an https URL (the `aud` its tokens carry, often). Required. */
  resource: string
  /** Issuer URLs of the authorization servers that mint tokens for it. */
  authorization_servers?: string[]
  scopes_supported?: string[]
  /** Default: `['header']`, plus `'query'` with allowQuery. */
  bearer_methods_supported?: string[]
  resource_name?: string
  resource_documentation?: string
  resource_policy_uri?: string
  resource_tos_uri?: string
  /** Other members, published as they are. */
  [member: string]: unknown
}

export interface ResourceMetadata {
  /** The path this server answers at. */
  path: string
  /** The absolute URL put in challenges. */
  url: string
  document: Record<string, unknown>
}

export function resourceMetadata(options: ResourceMetadataOptions, allowQuery: boolean, path = 'fastify-token-auth: options.resourceMetadata'): ResourceMetadata {
  let resource: URL
  try {
    resource = new URL(options.resource)
  } catch {
    throw new TypeError(`${path}.resource must be an absolute URL`)
  }
  if (resource.hash !== '' || resource.search !== '') throw new TypeError(`${path}.resource must have no query or fragment (RFC 9728 §1.2)`)
  const url = `${resource.origin}/.well-known/oauth-protected-resource${resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '')}`
  if (quotable(url) !== url) throw new TypeError(`${path}.resource makes a metadata URL that cannot be quoted in a challenge`)
  const document: Record<string, unknown> = {
    bearer_methods_supported: allowQuery ? ['header', 'query'] : ['header'],
    ...options,
    resource: options.resource,
  }
  return { path: new URL(url).pathname, url, document }
}
