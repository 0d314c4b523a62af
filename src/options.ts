// The plugin's options, each documented once next to its default, and their normalization:
// wrong types fail at registration with the option's path; the request path reads settled values.
import type { BreakerOptions } from './breaker.js'
import { checkRevalidate, type RevalidateOptions } from './revalidate.js'
import type { DpopMode } from './dpop.js'
import type { EngineSettings } from './engine.js'
import { integerOption, OTHER_DEFAULTS } from './defaults.js'
import { RefusalGuard, type RefusalLimitOptions } from './refusal-guard.js'
import { checkPublicUrl } from './http-facts.js'
import { resourceMetadata, type ResourceMetadata, type ResourceMetadataOptions } from './resource-metadata.js'
import { Tickets, type TicketSecret } from './ticket.js'
import { TokenCache, type CacheOptions } from './cache.js'
import { quotable } from './errors.js'
import type { ExtractOptions } from './extract-token.js'
import { resolveSettings } from './pipeline.js'
import { multiIssuer } from './multi-issuer.js'
import { assertProvider, type AnyProvider, type Logger, type Provider } from './provider.js'

interface PluginOptionsBase {
  /**
   * Cache of validated tokens: options for a new one, a TokenCache to share between
   * registrations, or `false` for none. Default `{ max: 10_000, maxTtl: 300_000, negativeTtl: 0, negativeMax: 1_000 }`.
   */
  cache?: CacheOptions | TokenCache | false
  /** `realm` of the WWW-Authenticate challenge. Default `'api'`. */
  realm?: string
  /** Longest token accepted, in characters; longer is a 400. Default 8,192. */
  maxTokenLength?: number
  /**
   * Accept `?access_token=` (RFC 6750 §2.3). Default false: tokens in URLs reach access logs and
   * browser history. When on, log URLs through `redactUrl` (see README).
   */
  allowQuery?: boolean
  /**
   * Accept `access_token` in an `application/x-www-form-urlencoded` body (RFC 6750 §2.2), for
   * clients that cannot set headers; such requests are authenticated after the body is parsed
   * (register @fastify/formbody). One way per request: a header or query token with it is a 400.
   * Default false.
   */
  allowBody?: boolean
  /** Deadline for validating one token at the identity provider (one retry included), in ms; past it the request gets a 503. Default 5,000. */
  timeout?: number
  /**
   * Circuit breaker for the provider: after `threshold` consecutive failed calls it is not called
   * for `cooldown` ms (fast 503s with Retry-After), then one probe decides. `false` turns it off.
   * Default `{ threshold: 5, cooldown: 10_000 }`.
   */
  breaker?: BreakerOptions | false
  /**
   * Background re-validation: each cached token is checked again at the identity provider about
   * once per `interval` ms, and evicted (with a 'revoked' event on `app.tokenAuth.events`) when
   * no longer valid. Keeps the raw tokens of cached entries in memory. Default: off.
   */
  revalidate?: RevalidateOptions | false
  /**
   * Secret(s) for WebSocket connection tickets (`app.tokenAuth.issueTicket`), each at least 32
   * bytes. A list rotates: the first signs, all verify. Default: tickets off.
   */
  ticketSecret?: TicketSecret | TicketSecret[]
  /**
   * RFC 9728: serve `/.well-known/oauth-protected-resource` with this document and point every
   * challenge at it (`resource_metadata=`). Default: off.
   */
  resourceMetadata?: ResourceMetadataOptions
  /**
   * DPoP (RFC 9449). 'allowed' (default): tokens bound to a key (`cnf.jkt`) need a valid proof
   * and the DPoP scheme, others pass as Bearer. 'required': only DPoP-bound tokens. 'disabled':
   * the DPoP scheme is not accepted, and bound tokens are refused (never downgraded to Bearer).
   */
  dpop?: DpopMode
  /**
   * The API's public URL as clients address it, when it runs behind a proxy that rewrites the
   * host or strips a path prefix (e.g. `'https://api.example.com'` or `'https://example.com/api'`):
   * DPoP proofs must name it (`htu`). Default: the request's protocol and Host (with Fastify's
   * `trustProxy`, X-Forwarded-Proto and X-Forwarded-Host).
   */
  publicUrl?: string
  /**
   * A guard against token guessing: a client (its address, `request.ip`) whose tokens the identity
   * provider refused `max` times within `window` ms gets 429 with Retry-After for its new tokens,
   * before the identity provider is asked. Only refusals that cost a call count (not a JWT checked
   * locally); cache hits pass. Behind a proxy, set Fastify's `trustProxy`. `false` turns it off.
   * Default `{ max: 100, window: 60_000 }`.
   */
  refusalLimit?: RefusalLimitOptions | false
  /**
   * How a refused WebSocket upgrade is answered: `'http'` (default), a plain 401/403/503 with the
   * challenge (what servers and CLIs read); `'close'`, accepted and closed at once with
   * 4000 + the status (1013 for an outage) and the failure key, after an `auth_error` message, so
   * that a browser page can tell why (it sees any refused upgrade as close 1006). Per route too.
   */
  upgradeRefusal?: 'http' | 'close'
}

/** The plugin's options: a `provider` (or a list of them), or `issuers`. */
export type TokenAuthPluginOptions = PluginOptionsBase & (
  | {
    /**
     * Validates tokens: a provider from `fastify-token-auth/providers/*` or defineProvider(), or a
     * list of them (JWTs go to the provider of their `iss`, opaque tokens try the others in order).
     */
    provider: AnyProvider | AnyProvider[]
    issuers?: undefined
  }
  | {
    /** Providers by issuer: `{ 'https://login.acme.com/': jwtProvider(…) }`. An unknown issuer is a 401 without any network call. */
    issuers: Record<string, AnyProvider>
    provider?: undefined
  }
)

export interface NormalizedOptions {
  provider: Provider<unknown>
  realm: string
  extract: ExtractOptions
  settings: EngineSettings
  /** Whether the cache was made here (and may be cleared when the app closes), not passed in to share. */
  ownsCache: boolean
  revalidate: RevalidateOptions | undefined
  tickets: Tickets | undefined
  resourceMetadata: ResourceMetadata | undefined
  dpop: DpopMode
  publicUrl: string | undefined
  guard: RefusalGuard | undefined
  upgradeRefusal: 'http' | 'close'
}


// Ours, plus what Fastify's register() itself may pass along.
const KNOWN_OPTIONS = new Set(['provider', 'cache', 'issuers', 'realm', 'maxTokenLength', 'allowQuery', 'allowBody', 'timeout', 'breaker', 'revalidate', 'ticketSecret', 'resourceMetadata', 'dpop', 'publicUrl', 'refusalLimit', 'upgradeRefusal', 'prefix', 'logLevel', 'logSerializers'])



function refusalGuard(value: unknown, path: string): RefusalGuard | undefined {
  if (value === false) return undefined
  if (value !== undefined && (value === null || typeof value !== 'object')) throw new TypeError(`${path} must be false or { max, window }`)
  const { max, window, ...rest } = (value ?? {}) as RefusalLimitOptions
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw new TypeError(`${path}: unknown option "${unknown}"`)
  return new RefusalGuard(integerOption(max, 'refusalLimit.max', `${path}.max`), integerOption(window, 'refusalLimit.window', `${path}.window`))
}

export function checkUpgradeRefusal(value: unknown, path: string): 'http' | 'close' {
  if (value !== 'http' && value !== 'close') throw new TypeError(`${path} must be 'http' or 'close'`)
  return value
}

function revalidateOptions(value: unknown, cache: TokenCache): RevalidateOptions | undefined {
  const checked = checkRevalidate(value, 'fastify-token-auth: options.revalidate')
  if (checked !== undefined && !cache.enabled) throw new TypeError('fastify-token-auth: options.revalidate needs the cache (it re-checks cached entries)')
  return checked
}

export function normalizeOptions(options: TokenAuthPluginOptions, log: Logger): NormalizedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('fastify-token-auth: options must be an object')
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) throw new TypeError(`fastify-token-auth: unknown option "${name}"`)
  }
  const provider: AnyProvider | undefined = options.issuers !== undefined
    ? multiIssuer(options.issuers, 'fastify-token-auth: options.issuers')
    : Array.isArray(options.provider) ? multiIssuer(options.provider, 'fastify-token-auth: options.provider') : options.provider
  assertProvider(provider, 'fastify-token-auth: options.provider')
  const realm = options.realm ?? OTHER_DEFAULTS.realm
  if (typeof realm !== 'string' || realm.length === 0 || quotable(realm) !== realm) {
    throw new TypeError('fastify-token-auth: options.realm must be a non-empty string of printable ASCII without " or \\')
  }
  const allowQuery = options.allowQuery ?? OTHER_DEFAULTS.allowQuery
  const dpop = options.dpop ?? OTHER_DEFAULTS.dpop
  if (dpop !== 'allowed' && dpop !== 'required' && dpop !== 'disabled') throw new TypeError("fastify-token-auth: options.dpop must be 'allowed', 'required' or 'disabled'")
  if (typeof allowQuery !== 'boolean') throw new TypeError('fastify-token-auth: options.allowQuery must be a boolean')
  const allowBody = options.allowBody ?? OTHER_DEFAULTS.allowBody
  if (typeof allowBody !== 'boolean') throw new TypeError('fastify-token-auth: options.allowBody must be a boolean')
  const ownsCache = !(options.cache instanceof TokenCache)
  const cache = options.cache instanceof TokenCache ? options.cache : new TokenCache(options.cache ?? {}, 'fastify-token-auth: options.cache')
  const settings = resolveSettings(
    { cache, timeout: options.timeout, maxTokenLength: options.maxTokenLength, logger: log, breaker: options.breaker },
    'fastify-token-auth: options',
  )
  return {
    provider,
    realm,
    extract: { maxTokenLength: settings.maxTokenLength, allowQuery, allowBody, dpop: dpop !== 'disabled' },
    settings,
    ownsCache,
    revalidate: revalidateOptions(options.revalidate, cache),
    tickets: options.ticketSecret === undefined ? undefined : new Tickets(options.ticketSecret, 'fastify-token-auth: options.ticketSecret'),
    resourceMetadata: options.resourceMetadata === undefined ? undefined : resourceMetadata(options.resourceMetadata, allowQuery),
    dpop,
    publicUrl: checkPublicUrl(options.publicUrl, 'fastify-token-auth: options.publicUrl'),
    guard: refusalGuard(options.refusalLimit, 'fastify-token-auth: options.refusalLimit'),
    upgradeRefusal: checkUpgradeRefusal(options.upgradeRefusal ?? OTHER_DEFAULTS.upgradeRefusal, 'fastify-token-auth: options.upgradeRefusal'),
  }
}
