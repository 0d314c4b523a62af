// The authentication engine: one per registration (or tokenAuth() call), framework-free. Every door
// (the HTTP hook, requireAuth, verify(), tokenAuth(), a WebSocket upgrade by header, subprotocol or
// ticket, first-message auth, in-band re-auth, revalidation) hands it a credential and the facts of
// its presentation and gets `Auth | AuthFailure`. The order of the checks is written here once:
//   denial lists ─► namespace'd cache ─► single-flight ─► shared store ─► provider ─► denial lists
//   ─► sender binding ─► route rule (scopes)
// Shared state (in-flight calls, denial lists, spent tickets) is updated in `finally` or before any
// await, so that a throwing store, provider or user function cannot poison it.
import { authorize, NO_RULE, type AccessRule } from './access-rule.js'
import { buildFailure, isAuthFailure, withToken, type Auth, type AuthFailure, type CachedAuth } from './auth.js'
import { checkBinding, NO_PROOF, type Facts } from './binding.js'
import { cacheKey, type Outcome, type TokenCache } from './cache.js'
import { integerOption } from './defaults.js'
import { channels } from './diagnostics.js'
import { DpopVerifier, type DpopMode } from './dpop.js'
import { checkToken } from './extract-token.js'
import { callThroughStore } from './fleet.js'
import { checkKnownOptions } from './known-options.js'
import { fingerprint } from './log.js'
import { claimNamespace } from './namespace.js'
import type { FailureReason } from './errors.js'
import { DEFAULT_CLOCK_TOLERANCE, type Logger, type Provider } from './provider.js'
import { callProvider, validateNow, type CallSettings } from './provider-call.js'
import type { RevocationMessage } from './store.js'
import type { RefusalGuard } from './refusal-guard.js'
import { authFromTicket, type TicketReason, type Tickets } from './ticket.js'

export { NO_RULE, type AccessRule } from './access-rule.js'

/** Options checked once, so that the per-request path merges nothing. */
export interface EngineSettings extends CallSettings {
  cache: TokenCache
  /** Longest token accepted, in characters. */
  maxTokenLength: number
  log: Logger
}

export interface EngineOptions {
  provider: Provider<unknown>
  settings: EngineSettings
  /** DPoP policy (see options.dpop). Default 'allowed'. */
  dpop?: DpopMode
  tickets?: Tickets
  /** Remembers DPoP proofs seen (single use); shared by engines that share a cache. Default: one of its own. */
  verifier?: DpopVerifier
  /** Refuses a client's new tokens with 429 once it had too many refused by the identity provider. */
  guard?: RefusalGuard
  /** Where configuration errors point, e.g. `fastify-token-auth: options`. */
  path?: string
}

export interface RevokeOptions {
  /** Until when (ms since the epoch) the revocation holds; default: see Engine.revoke. */
  until?: number
}

export interface TicketOptions {
  /** The route (URL pattern) the ticket opens, e.g. `'/stream'`. Required. */
  route: string
  /** ms the ticket is valid (never past the token's exp). Default 30,000; at most 600,000. */
  ttl?: number
}

type CacheEvent = 'hit' | 'negative' | 'miss' | 'joined' | 'breaker' | 'stale'

const TICKET_FAILURES: Readonly<Record<TicketReason, string>> = Object.freeze({
  malformed: 'The connection ticket is malformed',
  signature: 'The connection ticket is invalid',
  expired: 'The connection ticket expired',
  replayed: 'The connection ticket was already used',
})

/** How long a revocation lasts past a token's exp: longer than any clock tolerance accepts it. */
const PAST_EXP_MARGIN = 5 * 60_000
/** The longest any revocation is kept (a forged exp of 1e20 must not pin memory forever). */
const LONGEST_REVOCATION = 366 * 24 * 3600_000
/** The shortest a revocation without an exp lasts, whatever the cache's maxTtl. */
const SHORTEST_REVOCATION = 60_000
/** The longest an exp read from a token not verified here is believed, in ms. */
const UNVERIFIED_EXP_CAP = 24 * 3600_000

/** The `exp` (seconds) a compact JWT claims, read without verification, or undefined. */
function claimedExp(token: string): number | undefined {
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  if (first <= 0 || second === -1) return undefined
  try {
    const exp = (JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8')) as { exp?: unknown } | null)?.exp
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined
  } catch {
    return undefined
  }
}

export class Engine {
  readonly provider: Provider<unknown>
  readonly namespace: string
  readonly settings: EngineSettings
  readonly dpop: DpopMode
  /** The failure for a request without any credential (shared: it allocates nothing). */
  readonly missing: AuthFailure
  readonly #tickets: Tickets | undefined
  readonly #verifier: DpopVerifier
  readonly #guard: RefusalGuard | undefined
  readonly #revoked: AuthFailure
  readonly #revocationListeners = new Set<(message: RevocationMessage) => void>()

  constructor({ provider, settings, dpop = 'allowed', tickets, verifier = new DpopVerifier(), guard, path = 'options' }: EngineOptions) {
    this.provider = provider
    this.#verifier = verifier
    this.#guard = guard
    this.settings = settings
    this.dpop = dpop
    this.#tickets = tickets
    this.namespace = claimNamespace(settings.cache.namespaces, settings.cache.shared !== undefined, provider, `${path}.provider`)
    if (settings.cache.shared !== undefined) settings.cache.shared.log = settings.log
    this.missing = Object.freeze(buildFailure(provider.name, 'missing_token'))
    this.#revoked = Object.freeze(buildFailure(provider.name, 'invalid_token', 'The access token was revoked', undefined, 'revoked'))
  }

  get cache(): TokenCache {
    return this.settings.cache
  }

  /** The cache key of a token: SHA-256 over the namespace and the token. */
  keyOf(token: string): string {
    return cacheKey(this.namespace, token)
  }

  /** Any string from anywhere: grammar and length first, then authenticate(). */
  check(token: unknown, facts: Facts = NO_PROOF, rule: AccessRule = NO_RULE): Auth | AuthFailure | Promise<Auth | AuthFailure> {
    if (typeof token !== 'string' || token.length === 0) return this.missing
    const syntax = checkToken(token, this.settings.maxTokenLength)
    if (typeof syntax !== 'string') return buildFailure(this.provider.name, syntax.key, syntax.description)
    return this.authenticate(token, facts, rule)
  }

  /**
   * A token that passed extraction (grammar and length checked) through every rule. A cache hit
   * with an unbound token answers synchronously; anything else returns a promise.
   */
  authenticate(token: string, facts: Facts, rule: AccessRule): Auth | AuthFailure | Promise<Auth | AuthFailure> {
    const { cache } = this.settings
    const key = cacheKey(this.namespace, token)
    const observed = channels.validation.hasSubscribers
    const started = observed ? performance.now() : 0
    const hit = cache.get(key)
    // A revoked token never reaches the provider; a uid's revocation also refuses its cached entries.
    if (cache.hasDenials && this.#isDenied(key, hit)) return this.#publish(key, this.#revoked, 'hit', started, observed)
    if (hit !== undefined) {
      if (observed) this.#publish(key, hit, 'hit', started, true)
      return this.#admit(withToken(hit, token), facts, rule)
    }
    const rejected = cache.getRejected(key)
    if (rejected !== undefined) return this.#publish(key, rejected, 'negative', started, observed)
    const joined = cache.flights.get(key)
    let underWay: PromiseLike<unknown> | undefined
    if (joined === undefined) {
      // No call under way: a provider that can answer without waiting (a JWT whose key is at hand)
      // answers now, with no promise, timer or deadline.
      const now = validateNow(this.provider, token, key, this.settings.log, cache.enabled)
      if (now !== undefined && 'outcome' in now) {
        const outcome = this.#record(token, key, now.outcome)
        const result = 'auth' in outcome ? outcome.auth : outcome.failure
        if (observed) this.#publish(key, result, 'miss', started, true)
        return 'auth' in outcome ? this.#admit(withToken(outcome.auth, token), facts, rule) : outcome.failure
      }
      underWay = now?.started
      // A call to the identity provider is due: a client that had too many tokens refused waits.
      const client = this.#guard === undefined ? undefined : facts.client?.()
      const wait = this.#guard?.blocked(client)
      if (wait !== undefined) {
        underWay?.then(undefined, () => {})
        return this.#publish(key, buildFailure(this.provider.name, 'too_many_attempts', undefined, wait, 'rate_limited'), 'miss', started, observed)
      }
      if (client !== undefined) return this.#guarded(this.#fly(token, key, underWay), client, token, facts, rule, key, started, observed)
    }
    const flight = joined ?? this.#fly(token, key, underWay)
    return flight.then((outcome) => {
      const result = 'auth' in outcome ? outcome.auth : outcome.failure
      if (observed) {
        const event = outcome.breakerOpen === true ? 'breaker' : 'auth' in outcome && outcome.stale === true ? 'stale' : joined !== undefined ? 'joined' : 'miss'
        this.#publish(key, result, event, started, true)
      }
      return 'auth' in outcome ? this.#admit(withToken(outcome.auth, token), facts, rule) : outcome.failure
    })
  }

  /** A flight whose refusal counts against the client that started it (and counts while under way). */
  #guarded(flight: Promise<Outcome>, client: string, token: string, facts: Facts, rule: AccessRule, key: string, started: number, observed: boolean): Promise<Auth | AuthFailure> {
    const guard = this.#guard!
    guard.started(client)
    return flight.then((outcome) => {
      guard.ended(client, 'failure' in outcome && outcome.cacheable)
      const result = 'auth' in outcome ? outcome.auth : outcome.failure
      if (observed) this.#publish(key, result, outcome.breakerOpen === true ? 'breaker' : 'miss', started, true)
      return 'auth' in outcome ? this.#admit(withToken(outcome.auth, token), facts, rule) : outcome.failure
    })
  }

  /** The route rule on an Auth that passed every other check: the cache holds claims, never this decision. */
  authorize(auth: Auth, rule: AccessRule): Auth | AuthFailure | Promise<Auth | AuthFailure> {
    return rule.scopes.length === 0 && rule.anyScopes === undefined && rule.claims === undefined && rule.check === undefined ? auth : authorize(auth, rule, this.settings.log)
  }

  /** Sender binding, then the route rule. */
  #admit(auth: Auth, facts: Facts, rule: AccessRule): Auth | AuthFailure | Promise<Auth | AuthFailure> {
    const bound = checkBinding(auth, facts, this.dpop, this.#verifier)
    if (bound instanceof Promise) return bound.then((result) => (isAuthFailure(result) ? result : this.authorize(result, rule)))
    return isAuthFailure(bound) ? bound : this.authorize(bound, rule)
  }

  #isDenied(key: string, auth: CachedAuth | undefined): boolean {
    return this.settings.cache.isDenied(key, this.namespace, auth?.uid, auth?.credentials.other.iat)
  }

  #publish<R extends CachedAuth | AuthFailure>(key: string, result: R, cache: CacheEvent, started: number, observed: boolean): R {
    if (!observed) return result
    channels.validation.publish({
      provider: this.provider.name,
      token: fingerprint(key),
      outcome: isAuthFailure(result as Auth | AuthFailure) ? ((result as AuthFailure).errors[0]?.messageKey ?? 'invalid_token') : 'accepted',
      cache,
      durationMs: performance.now() - started,
    })
    return result
  }

  /** One provider call (or one fleet-wide call) for a key, shared by every concurrent miss; never rejects. */
  #fly(token: string, key: string, started: PromiseLike<unknown> | undefined): Promise<Outcome> {
    const { cache } = this.settings
    const flight = this.#settle(token, key, started).finally(() => {
      if (cache.flights.get(key) === flight) cache.flights.delete(key)
    })
    cache.flights.set(key, flight)
    return flight
  }

  async #settle(token: string, key: string, started: PromiseLike<unknown> | undefined): Promise<Outcome> {
    const { cache } = this.settings
    const { shared } = cache
    let outcome: Outcome
    try {
      const ask = (): Promise<Outcome> => callProvider(this.provider, token, key, this.settings, started)
      const called = shared === undefined
        ? await ask()
        : await callThroughStore(shared, key, { ask, ttlOf: (o) => ('auth' in o ? cache.clamp(o.auth, o.ttl) : 0), timeout: this.settings.timeout })
      outcome = this.#staleOr(called, key)
    } catch (err) {
      // callProvider never rejects; this is a bug elsewhere (a store's contract, a clock): fail closed.
      this.settings.log.error({ tokenAuth: { provider: this.provider.name, token: fingerprint(key), err: (err as Error)?.message } }, 'token validation failed unexpectedly')
      return { failure: buildFailure(this.provider.name, 'provider_unavailable'), cacheable: false }
    }
    return this.#record(token, key, outcome)
  }

  /** What an answer leaves behind: refused if revoked meanwhile, else cached (or negative-cached). */
  #record(token: string, key: string, outcome: Outcome): Outcome {
    const { cache } = this.settings
    // Revoked while the answer was on its way, or a uid revoked since the token was issued.
    if ('auth' in outcome && cache.hasDenials && this.#isDenied(key, outcome.auth)) return { failure: this.#revoked, cacheable: false }
    if ('auth' in outcome) {
      if (outcome.stale !== true) cache.set(key, outcome.auth, outcome.ttl, Date.now(), { token, namespace: this.namespace })
    } else if (outcome.cacheable) cache.setRejected(key, outcome.failure)
    return outcome
  }

  /**
   * An outage with a recent good answer for this token: serve it for the provider's
   * `staleIfError` grace (opt-in), never past the token's exp, and say so in the log.
   */
  #staleOr(outcome: Outcome, key: string): Outcome {
    const grace = this.provider.staleIfError ?? 0
    if (grace <= 0 || !('failure' in outcome) || outcome.cacheable) return outcome
    const stale = this.settings.cache.getStale(key, grace)
    if (stale === undefined) return outcome
    this.settings.log.warn({ tokenAuth: { provider: this.provider.name, token: fingerprint(key) } }, 'identity provider unavailable; serving the last good answer (staleIfError)')
    return { auth: stale, ttl: 0, stale: true }
  }

  /**
   * Checks a cached token again at the identity provider (background re-validation): 'revoked'
   * evicts it; undefined when there is nothing to check (gone, or a request is asking anyway).
   */
  async recheck(key: string, held?: { token: string; uid: string }): Promise<{ verdict: 'kept' | 'revoked' | 'unavailable'; uid: string } | undefined> {
    const { cache } = this.settings
    // A token held by an open socket is checked even when its cache entry has ended.
    const token = held?.token ?? cache.tokenOf(key)
    const entry = cache.get(key)
    // An entry that ended is re-checked only for a socket that still holds its token.
    const uid = entry?.uid ?? held?.uid
    if (token === undefined || uid === undefined || cache.flights.has(key)) return undefined
    const outcome = await callProvider(this.provider, token, key, this.settings)
    if ('auth' in outcome) {
      // Checked again just now: the entry (and the token kept beside it) lives on from here.
      cache.set(key, outcome.auth, outcome.ttl, Date.now(), { token, namespace: this.namespace })
      return { verdict: 'kept', uid }
    }
    if (!outcome.cacheable) return { verdict: 'unavailable', uid }
    // No longer valid at the identity provider: a revocation, for the whole fleet (its shared
    // entry deleted, every instance told), until the token's exp.
    await this.revoke(token, entry?.credentials.expiresAt === undefined ? {} : { until: Math.max(Date.now() + 1, entry.credentials.expiresAt * 1000 + PAST_EXP_MARGIN) })
    return { verdict: 'revoked', uid }
  }

  // ─── Connection tickets ────────────────────────────────────────────────────────────────────

  /**
   * Mints a ticket from an Auth that passed every check on its own request. A DPoP-bound token
   * cannot mint one: a ticket travels in a URL, where no proof can follow it.
   */
  issueTicket(auth: Auth, options: TicketOptions): string {
    if (this.#tickets === undefined) throw new TypeError('fastify-token-auth: issueTicket needs the ticketSecret option')
    if (auth === null || typeof auth !== 'object' || typeof auth.uid !== 'string' || typeof auth.credentials?.token !== 'string') {
      throw new TypeError('issueTicket: pass request.auth of an authenticated request')
    }
    if (options === null || typeof options !== 'object' || typeof options.route !== 'string' || !options.route.startsWith('/')) {
      throw new TypeError("issueTicket: options.route must name the WebSocket route the ticket opens, e.g. { route: '/stream' }")
    }
    checkKnownOptions(options, ['route', 'ttl'], 'issueTicket: options')
    const ttl = integerOption(options.ttl, 'issueTicket.ttl', 'issueTicket: options.ttl')
    if (auth.strategy === 'ticket') throw new TypeError('issueTicket: a ticket cannot mint another ticket')
    const cnf = auth.credentials.other.cnf as { jkt?: unknown; 'x5t#S256'?: unknown } | undefined
    if (auth.strategy === 'dpop' || cnf?.jkt !== undefined) {
      throw Object.assign(new TypeError('issueTicket: a DPoP-bound token cannot mint a connection ticket (no proof can follow a ticket); open the socket with the DPoP scheme and a proof instead'), { statusCode: 400 })
    }
    const x5t = typeof cnf?.['x5t#S256'] === 'string' ? cnf['x5t#S256'] : undefined
    const key = auth.credentials.token.length > 0 ? this.keyOf(auth.credentials.token) : ''
    return this.#tickets.issue({ auth, namespace: this.namespace, route: options.route, key, ttl, ...(x5t === undefined ? {} : { x5t }) })
  }

  /**
   * A ticket presented at the upgrade of `route`: its seal and expiry, this registration and this
   * route, the denial lists (its token's key and uid), spent once fleet-wide, then the same binding
   * and route rule as any token. `key` is the minting token's cache key, for the socket's revocation.
   */
  async redeemTicket(ticket: string, route: string, facts: Facts, rule: AccessRule): Promise<{ result: Auth | AuthFailure; key: string | undefined }> {
    const name = this.provider.name
    const refused = (message: string, reason: FailureReason): { result: AuthFailure; key: undefined } =>
      ({ result: buildFailure(name, 'invalid_token', message, undefined, reason), key: undefined })
    // Whether tickets are enabled is this API's configuration: the client hears only that its ticket is invalid.
    if (this.#tickets === undefined) return refused(TICKET_FAILURES.signature, 'malformed')
    const checked = this.#tickets.verify(ticket)
    if (!checked.ok) return refused(TICKET_FAILURES[checked.reason], checked.reason === 'expired' ? 'expired' : 'malformed')
    const { payload } = checked
    if (payload.ns !== this.namespace) return refused('The connection ticket is for another API', 'audience')
    if (payload.rt !== route) return refused('The connection ticket is for another route', 'audience')
    const { cache } = this.settings
    const denied = (): boolean => cache.hasDenials && cache.isDenied(payload.key, this.namespace, payload.uid, payload.iat)
    if (denied()) return { result: this.#revoked, key: undefined }
    // Spent here before any await, so that two concurrent upgrades cannot both pass; then fleet-wide.
    const spent = this.#tickets.spendHere(payload)
    if (spent === 'replayed') return refused(TICKET_FAILURES.replayed, 'revoked')
    // Too many tickets in force to remember one more: refused rather than forget one (a replay).
    if (spent === 'full') return refused(TICKET_FAILURES.signature, 'malformed')
    const fresh = await cache.shared?.claim(`ticket:${payload.jti}`, Math.max(1, Math.ceil(payload.exp - Date.now())))
    if (fresh === false) return refused(TICKET_FAILURES.replayed, 'revoked')
    // Revoked while the fleet was asked.
    if (denied()) return { result: this.#revoked, key: undefined }
    return { result: await this.#admit(authFromTicket(payload), facts, rule), key: payload.key === '' ? undefined : payload.key }
  }

  // ─── Revocation ────────────────────────────────────────────────────────────────────────────

  /** Called with every revocation applied here (this instance's, or the fleet's). */
  onRevocation(listener: (message: RevocationMessage) => void): () => void {
    this.#revocationListeners.add(listener)
    return () => this.#revocationListeners.delete(listener)
  }

  /**
   * Revokes a token, or every token of `{ uid }` issued until now, on this instance and (through a
   * store that publishes) on every instance of the fleet. A token stays refused until its exp (from
   * the cached answer, or the JWT's own `exp` claim) plus a margin for clock tolerance; an opaque
   * token whose exp is not known here, and a uid, for as long as any cached answer may live
   * (max(maxTtl, 60 s)) unless `until` says otherwise. Resolves with the time it holds until.
   */
  async revoke(target: string | { uid: string }, options: RevokeOptions = {}): Promise<{ until: number }> {
    if (options === null || typeof options !== 'object') throw new TypeError('revoke: options must be an object ({ until })')
    checkKnownOptions(options, ['until'], 'revoke: options')
    const now = Date.now()
    const given = options.until
    if (given !== undefined && !(typeof given === 'number' && Number.isFinite(given) && given > now)) throw new TypeError('revoke: options.until must be a time in the future (ms since the epoch)')
    const lasting = now + Math.max(this.settings.cache.maxTtl, SHORTEST_REVOCATION)
    let message: RevocationMessage
    if (typeof target === 'string' && target.length > 0) {
      const key = this.keyOf(target)
      const exp = given === undefined ? this.#expOf(target, key, now) : undefined
      // A token no verification here would accept needs no revocation (a made-up one must not pin memory).
      if (exp === 'invalid') return { until: now }
      const until = given ?? (exp === undefined ? lasting : Math.max(exp * 1000 + PAST_EXP_MARGIN, now + SHORTEST_REVOCATION))
      message = { key, until: Math.min(until, now + LONGEST_REVOCATION) }
    } else if (target !== null && typeof target === 'object' && typeof target.uid === 'string' && target.uid.length > 0) {
      // Tokens issued until now, by the identity provider's clock: one that runs ahead by as much
      // as the provider accepts stamps a token issued just before with a later iat.
      const skew = Math.ceil(this.provider.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE)
      message = { uid: target.uid, ns: this.namespace, at: Math.floor(now / 1000) + skew, until: Math.min(given ?? lasting, now + LONGEST_REVOCATION) }
    } else {
      throw new TypeError('tokenAuth.revoke: pass a token or { uid }')
    }
    // Here first, then the fleet: a slow store never delays this instance's refusal.
    this.applyRevocation(message)
    if ('key' in message) await this.settings.cache.shared?.delete(message.key)
    await this.settings.cache.shared?.publish(message)
    return { until: message.until }
  }

  /**
   * The exp (seconds) a revocation of `token` must last until: the cached answer's; else the
   * token's own, once verified here without waiting (a JWT whose key is at hand); 'invalid' when
   * that verification refuses it; else the exp it claims, unverified and capped at a day (so that
   * a forged exp cannot pin an entry); undefined for a token with none (opaque).
   */
  #expOf(token: string, key: string, now: number): number | 'invalid' | undefined {
    const cached = this.settings.cache.peek(key)
    const expiresAt = (cached as CachedAuth | undefined)?.credentials?.expiresAt
    if (expiresAt !== undefined) return expiresAt
    const verified = validateNow(this.provider, token, key, this.settings.log, false)
    if (verified !== undefined && 'outcome' in verified) {
      return 'auth' in verified.outcome ? verified.outcome.auth.credentials.expiresAt : verified.outcome.cacheable ? 'invalid' : undefined
    }
    const claimed = claimedExp(token)
    return claimed === undefined ? undefined : Math.min(claimed, now / 1000 + UNVERIFIED_EXP_CAP / 1000)
  }

  /** Applies a revocation here (from this instance or from the fleet). Idempotent; one already over is ignored. */
  applyRevocation(message: RevocationMessage): void {
    const { cache } = this.settings
    if (message.until <= Date.now()) return
    const dropped = cache.droppedRevocations
    if ('key' in message) cache.denyKey(message.key, message.until)
    else cache.denyUid(message.ns, message.uid, message.at, message.until)
    if (cache.droppedRevocations > dropped) {
      this.settings.log.error({ tokenAuth: { dropped: cache.droppedRevocations } }, 'too many revocations in force: the oldest was dropped')
    }
    for (const listener of this.#revocationListeners) {
      try {
        listener(message)
      } catch (err) {
        this.settings.log.error({ tokenAuth: { err: (err as Error)?.message } }, 'revocation listener failed')
      }
    }
  }

  /** Joins the fleet's revocation channel; resolves with a leave function (or undefined without one). */
  joinFleet(): Promise<(() => Promise<void>) | undefined> {
    const { shared } = this.settings.cache
    if (shared === undefined) return Promise.resolve(undefined)
    return shared.subscribe((message) => {
      // A uid's revocation concerns the namespace it was made in; a key is namespace'd already.
      if ('key' in message || message.ns === this.namespace) this.applyRevocation(message)
    })
  }
}
