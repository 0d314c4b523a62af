// Issuer URL → authorization server metadata: OpenID Connect Discovery 1.0
// (`/.well-known/openid-configuration`), falling back to RFC 8414
// (`/.well-known/oauth-authorization-server`). The metadata must name the configured issuer
// exactly (RFC 8414 §3.3), and its endpoints must be http(s) URLs, else it is a configuration
// error: tokens would be checked against another server's keys, or against none. A document is
// refreshed once its max age passes (Cache-Control, bounded), one fetch at a time, and the last
// good one stays in use while a refresh fails, as a remote JWKS is.
import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { ConfigurationError, ProviderUnavailableError } from '../src/errors.js'
import { asObject, DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_BYTES, fetchJson, unexpectedStatus } from '../src/http.js'
import type { Logger } from '../src/provider.js'

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
  /** Where a failed refresh is reported (the last good document stays in use). */
  log?: Logger
  /** The clock, in ms since the epoch. Default `Date.now` (tests inject their own). */
  now?: () => number
}

/**
 * How long a document is used before it is refreshed, in ms: its `Cache-Control: max-age`,
 * bounded to [min, max] (`no-store`/`no-cache`: min), else `default`. After a failed refresh the
 * next try waits `min` too, so an identity provider that is down is not asked on every request.
 */
export const DISCOVERY_MAX_AGE = Object.freeze({ default: 3_600_000, min: 60_000, max: 86_400_000 })

/** The members naming endpoints that providers call: each must be an http(s) URL when present. */
const ENDPOINT_MEMBERS = ['jwks_uri', 'introspection_endpoint', 'userinfo_endpoint'] as const

interface Discovered {
  metadata?: AuthorizationServerMetadata
  /** When the document needs a refresh, in ms since the epoch. */
  staleAt: number
  /** Not before this time is a failed refresh tried again. */
  retryAt: number
  pending?: Promise<AuthorizationServerMetadata>
}

/** What is known of each issuer, for the whole process (first-fetch failures are not kept). */
const discovered = new Map<string, Discovered>()

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

/**
 * Checks a URL option that others are built on: an absolute http(s) URL with no query, fragment
 * or userinfo. The value is not quoted back: userinfo may hold a secret.
 */
export function assertBaseUrl(value: unknown, path: string, why = 'URLs are built on it'): URL {
  const url = assertHttpUrl(value, path)
  const raw = value as string
  const part = raw.includes('#') ? 'a fragment' : raw.includes('?') ? 'a query' : /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(raw) ? 'userinfo' : undefined
  if (part !== undefined) throw new TypeError(`${path} must not have ${part}: ${why}`)
  return url
}

/** Checks an issuer option: RFC 8414 §2 (and OIDC Discovery §3) allow no query, fragment or userinfo. */
export function assertIssuer(value: unknown, path: string): URL {
  return assertBaseUrl(value, path, 'an issuer identifier has no query, fragment or userinfo (RFC 8414 §2)')
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

/** How long a document may be used, from its Cache-Control header. */
export function maxAgeOf(headers: IncomingHttpHeaders): number {
  const control = String(headers['cache-control'] ?? '').toLowerCase()
  if (/(?:^|,)\s*no-(?:store|cache)\b/.test(control)) return DISCOVERY_MAX_AGE.min
  const seconds = /(?:^|,)\s*max-age\s*=\s*"?(\d+)/.exec(control)?.[1]
  if (seconds === undefined) return DISCOVERY_MAX_AGE.default
  return Math.min(Math.max(Number(seconds) * 1000, DISCOVERY_MAX_AGE.min), DISCOVERY_MAX_AGE.max)
}

/** The endpoints a provider may call: absolute http(s) URLs, https when the issuer is. */
function checkEndpoints(metadata: Record<string, unknown>, issuer: string, url: string): void {
  const secure = issuer.startsWith('https:')
  for (const member of ENDPOINT_MEMBERS) {
    const value = metadata[member]
    if (value === undefined) continue
    let endpoint: URL | undefined
    try {
      endpoint = typeof value === 'string' ? new URL(value) : undefined
    } catch {
      endpoint = undefined
    }
    const allowed = secure ? ['https:'] : ['https:', 'http:']
    if (endpoint === undefined || !allowed.includes(endpoint.protocol)) {
      throw new ConfigurationError(`Discovery at ${url} gives ${member} ${JSON.stringify(value)}: it must be an absolute ${secure ? 'https' : 'http(s)'} URL`)
    }
  }
}

async function fetchMetadata(issuer: string, options: DiscoveryOptions): Promise<{ metadata: AuthorizationServerMetadata; maxAge: number }> {
  const call = { timeout: options.timeout ?? DEFAULT_HTTP_TIMEOUT, maxBytes: DEFAULT_MAX_BYTES, dispatcher: options.dispatcher, signal: options.signal }
  for (const url of discoveryUrls(issuer)) {
    const answer = await fetchJson(url, { ...call, what: 'discovery endpoint', document: 'discovery', headers: { accept: 'application/json' } })
    if (answer.status === 404) continue
    if (answer.status !== 200) throw unexpectedStatus(answer, 'discovery endpoint')
    const metadata = asObject(answer.json)
    if (metadata === undefined || typeof metadata.issuer !== 'string') {
      throw new ProviderUnavailableError('The discovery endpoint answered without an issuer', { reason: 'bad_answer' })
    }
    if (metadata.issuer !== issuer) {
      throw new ConfigurationError(
        `Discovery at ${url} names the issuer "${metadata.issuer}", but "${issuer}" is configured: they must match exactly (RFC 8414 §3.3)`,
      )
    }
    checkEndpoints(metadata, issuer, url)
    return { metadata: metadata as AuthorizationServerMetadata, maxAge: maxAgeOf(answer.headers) }
  }
  throw new ConfigurationError(`No discovery document found for issuer "${issuer}" (tried ${discoveryUrls(issuer).join(' and ')})`)
}

/** One fetch at a time per issuer; concurrent callers share it. */
function fetchOnce(issuer: string, entry: Discovered, options: DiscoveryOptions, now: () => number): Promise<AuthorizationServerMetadata> {
  entry.pending ??= fetchMetadata(issuer, options)
    .then(({ metadata, maxAge }) => {
      entry.metadata = metadata
      entry.staleAt = now() + maxAge
      return metadata
    })
    .finally(() => {
      entry.pending = undefined
    })
  return entry.pending
}

/**
 * The metadata of an issuer. The first call fetches it (concurrent callers share the fetch);
 * later calls get it at once, and one past its max age starts a refresh in the background: a
 * document that changed is used from the refresh on, one that fails keeps the last good in use.
 * Rejects (first fetch only) with ConfigurationError when the issuer does not match, an endpoint
 * is not an http(s) URL or no document exists; with ProviderUnavailableError when unreachable.
 */
export function discover(issuer: string, options: DiscoveryOptions = {}): Promise<AuthorizationServerMetadata> {
  assertHttpUrl(issuer, 'issuer')
  const now = options.now ?? Date.now
  let entry = discovered.get(issuer)
  if (entry === undefined) {
    entry = { staleAt: 0, retryAt: 0 }
    discovered.set(issuer, entry)
  }
  const known = entry.metadata
  if (known === undefined) {
    const first = fetchOnce(issuer, entry, options, now)
    first.catch(() => {
      if (discovered.get(issuer)?.metadata === undefined) discovered.delete(issuer)
    })
    return first
  }
  const at = now()
  if (at >= entry.staleAt && at >= entry.retryAt && entry.pending === undefined) {
    const current = entry
    fetchOnce(issuer, current, options, now).catch((err: unknown) => {
      current.retryAt = now() + DISCOVERY_MAX_AGE.min
      const level = (err as { code?: unknown }).code === 'ERR_TOKEN_AUTH_CONFIGURATION' ? 'error' : 'warn'
      options.log?.[level]({ tokenAuth: { issuer, discovery: 'stale', err: (err as Error).message } }, 'discovery refresh failed; using the last good document')
    })
  }
  return Promise.resolve(known)
}

/** Forgets every discovered issuer (tests, or to force a refetch now). */
export function clearDiscoveryCache(): void {
  discovered.clear()
}

/** An endpoint of the issuer's metadata (an http(s) URL, checked at fetch); missing is a configuration error. */
export async function discoverEndpoint(
  issuer: string,
  member: (typeof ENDPOINT_MEMBERS)[number],
  options: DiscoveryOptions = {},
): Promise<string> {
  const metadata = await discover(issuer, options)
  const endpoint = metadata[member]
  if (typeof endpoint !== 'string') throw new ConfigurationError(`The metadata of "${issuer}" has no ${member}`)
  return endpoint
}
