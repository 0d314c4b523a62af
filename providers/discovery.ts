// Issuer URL → authorization server metadata: OpenID Connect Discovery 1.0
// (`/.well-known/openid-configuration`), falling back to RFC 8414
// (`/.well-known/oauth-authorization-server`). The metadata must name the configured issuer
// exactly (RFC 8414 §3.3), else it is a configuration error: tokens would be checked against
// another server's keys.
import type { Dispatcher } from 'undici'
import { ConfigurationError, ProviderUnavailableError } from '../src/errors.js'
import { asObject, DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_BYTES, fetchJson, unexpectedStatus } from '../src/http.js'

export interface AuthorizationServerMetadata {
  issuer: string
  jwks_uri?: string
  token_endpoint?: string
  introspection_endpoint?: string
  revocation_endpoint?: string
  userinfo_endpoint?: string
  [member: string]: unknown
}

export interface DiscoveryOptions {
  /** Deadline per request, in ms. Default 5,000. */
  timeout?: number
  /** An undici Dispatcher (an Agent, a Pool, a ProxyAgent) for the requests. */
  dispatcher?: Dispatcher
  signal?: AbortSignal
}

/** Metadata by issuer: each issuer is discovered once per process (failures are not kept). */
const discovered = new Map<string, Promise<AuthorizationServerMetadata>>()

/** Checks an issuer (or endpoint) option: an absolute http(s) URL. Returns it as a URL. */
export function assertHttpUrl(value: unknown, path: string): URL {
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new TypeError(`${path} must be an absolute http(s) URL, got ${typeof value === 'string' ? JSON.stringify(value) : typeof value}`)
  }
  return url
}

/** Where each specification puts the metadata of an issuer. */
export function discoveryUrls(issuer: string): [oidc: string, oauth: string] {
  const url = new URL(issuer)
  const path = url.pathname.replace(/\/$/, '')
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ]
}

async function fetchMetadata(issuer: string, options: DiscoveryOptions): Promise<AuthorizationServerMetadata> {
  const call = { timeout: options.timeout ?? DEFAULT_HTTP_TIMEOUT, maxBytes: DEFAULT_MAX_BYTES, dispatcher: options.dispatcher, signal: options.signal }
  for (const url of discoveryUrls(issuer)) {
    const answer = await fetchJson(url, { ...call, what: 'discovery endpoint', headers: { accept: 'application/json' } })
    if (answer.status === 404) continue
    if (answer.status !== 200) throw unexpectedStatus(answer, 'discovery endpoint')
    const metadata = asObject(answer.json)
    if (metadata === undefined || typeof metadata.issuer !== 'string') {
      throw new ProviderUnavailableError('The discovery endpoint answered without an issuer')
    }
    if (metadata.issuer !== issuer) {
      throw new ConfigurationError(
        `Discovery at ${url} names the issuer "${metadata.issuer}", but "${issuer}" is configured: they must match exactly (RFC 8414 §3.3)`,
      )
    }
    return metadata as AuthorizationServerMetadata
  }
  throw new ConfigurationError(`No discovery document found for issuer "${issuer}" (tried ${discoveryUrls(issuer).join(' and ')})`)
}

/**
 * The metadata of an issuer, fetched once per process. Rejects with ConfigurationError when the
 * issuer does not match or no document exists, with ProviderUnavailableError when unreachable.
 */
export function discover(issuer: string, options: DiscoveryOptions = {}): Promise<AuthorizationServerMetadata> {
  assertHttpUrl(issuer, 'issuer')
  let pending = discovered.get(issuer)
  if (pending === undefined) {
    pending = fetchMetadata(issuer, options)
    discovered.set(issuer, pending)
    pending.catch(() => discovered.delete(issuer))
  }
  return pending
}

/** Forgets every discovered issuer (tests, or after an identity provider changed its metadata). */
export function clearDiscoveryCache(): void {
  discovered.clear()
}

/** An endpoint of the issuer's metadata; missing is a configuration error. */
export async function discoverEndpoint(
  issuer: string,
  member: 'jwks_uri' | 'introspection_endpoint' | 'userinfo_endpoint',
  options: DiscoveryOptions = {},
): Promise<string> {
  const metadata = await discover(issuer, options)
  const endpoint = metadata[member]
  if (typeof endpoint !== 'string') throw new ConfigurationError(`The metadata of "${issuer}" has no ${member}`)
  assertHttpUrl(endpoint, `${issuer} metadata ${member}`)
  return endpoint
}
