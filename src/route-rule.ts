// A route's `config.auth`, settled once: skip, optional, or enforced with scopes, plus what a
// WebSocket route asks for after the upgrade (first-message auth, expiry policy).
import type { FastifyRequest } from 'fastify'
import type { RouteAuthConfig } from './types.js'
import { ACCESS_RULE_KEYS, accessRule, NO_RULE, type AccessRule } from './access-rule.js'
import { integerOption } from './defaults.js'
import { checkUpgradeRefusal } from './options.js'
import { SOCKET_DEFAULTS, type SocketRule } from './websocket.js'

export interface RouteRule extends AccessRule {
  /** No authentication at all (`auth: false`). */
  readonly skip: boolean
  /** The request must be authenticated before the handler (or the upgrade). */
  readonly enforce: boolean
  /** A WebSocket route (`websocket: true`): its upgrades may carry a ticket or a subprotocol token. */
  readonly websocket: boolean
  /** The route's URL pattern, e.g. `/stream` (what a connection ticket is bound to). */
  readonly url: string
  /** How a refused upgrade of this route is answered, when it says (else the plugin's option). */
  readonly upgradeRefusal?: 'http' | 'close'
  readonly socket: SocketRule
}

const DEFAULT_SOCKET: SocketRule = Object.freeze({ ...NO_RULE, firstMessage: false, ...SOCKET_DEFAULTS })
export const OPTIONAL: RouteRule = Object.freeze({ ...NO_RULE, skip: false, enforce: false, websocket: false, url: '', socket: DEFAULT_SOCKET })
const SKIP: RouteRule = Object.freeze({ ...OPTIONAL, skip: true })
const REQUIRED: RouteRule = Object.freeze({ ...OPTIONAL, enforce: true })
const kRule = Symbol('fastify-token-auth.rule')
/** Every key `config.auth` may hold: any other is refused at startup (a typo must not drop a check). */
const RULE_KEYS = [...ACCESS_RULE_KEYS, 'firstMessage', 'authTimeout', 'onExpire', 'reauthGrace', 'upgradeRefusal']


/** Where the route is: a WebSocket route or not, and its URL pattern; `known` when onRoute saw it. */
export interface RouteSite {
  websocket: boolean
  url: string
  known?: boolean
}

const PLAIN_SITE: RouteSite = Object.freeze({ websocket: false, url: '' })
/** Keys that mean something on a WebSocket route only. */
const SOCKET_KEYS = ['firstMessage', 'authTimeout', 'onExpire', 'reauthGrace', 'upgradeRefusal']

function sited(rule: RouteRule, site: RouteSite): RouteRule {
  return site.websocket || site.url !== '' ? Object.freeze({ ...rule, websocket: site.websocket, url: site.url }) : rule
}

/** `keys`: what config.auth may hold (requireAuth() takes the access-rule keys only: socket keys mean nothing in a preHandler). */
export function toRule(config: RouteAuthConfig | undefined, where: string, site: RouteSite = PLAIN_SITE, keys: readonly string[] = RULE_KEYS): RouteRule {
  if (config === undefined) return sited(OPTIONAL, site)
  if (config === false) return sited(SKIP, site)
  if (config === true) return sited(REQUIRED, site)
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new TypeError(`fastify-token-auth: ${where} must be true, false or { scopes: string[] }`)
  const access = accessRule(config, `fastify-token-auth: ${where}`, keys)
  const socketKey = SOCKET_KEYS.find((name) => Object.hasOwn(config, name))
  if (socketKey !== undefined && site.known === true && !site.websocket) {
    throw new TypeError(`fastify-token-auth: ${where}: ${socketKey} is for WebSocket routes only (websocket: true or wsHandler)`)
  }
  const onExpire = config.onExpire ?? SOCKET_DEFAULTS.onExpire
  if (onExpire !== 'close' && onExpire !== 'reauth') throw new TypeError(`fastify-token-auth: ${where}.onExpire must be 'close' or 'reauth'`)
  if (config.firstMessage !== undefined && typeof config.firstMessage !== 'boolean') throw new TypeError(`fastify-token-auth: ${where}.firstMessage must be a boolean`)
  const firstMessage = config.firstMessage ?? false
  return Object.freeze({
    ...access,
    ...(config.upgradeRefusal === undefined ? {} : { upgradeRefusal: checkUpgradeRefusal(config.upgradeRefusal, `fastify-token-auth: ${where}.upgradeRefusal`) }),
    skip: false,
    // An upgrade to a first-message route carries no token (the socket door knows); any other request must.
    enforce: true,
    websocket: site.websocket,
    url: site.url,
    socket: Object.freeze({
      ...access,
      firstMessage,
      authTimeout: integerOption(config.authTimeout, 'config.auth.authTimeout', `fastify-token-auth: ${where}.authTimeout`),
      onExpire,
      reauthGrace: integerOption(config.reauthGrace, 'config.auth.reauthGrace', `fastify-token-auth: ${where}.reauthGrace`),
    }),
  })
}

/** What a client of a route whose config.auth is unusable gets: a 500 that says nothing of the configuration. */
const unusableRoute = (): Error => Object.assign(new Error('Internal Server Error'), { statusCode: 500 })
const kUnusable = Symbol('fastify-token-auth.unusable')

type RuleCarrier = { auth?: RouteAuthConfig; [kRule]?: RouteRule; [kUnusable]?: true }

/** Settles a route's rule at startup (onRoute): a bad config.auth fails there, naming the route. */
export function settleRouteConfig<C>(config: C | undefined, where: string, site: RouteSite): C {
  const carrier = (config ?? {}) as RuleCarrier
  return { ...carrier, [kRule]: toRule(carrier.auth, where, site) } as C
}

/**
 * The rule of the request's route: settled in onRoute, or here once for routes declared before
 * the plugin (Fastify runs a global hook on those too, and so must the enforcement). Whether such
 * a route is a WebSocket route is not known here: it is taken as one, so that an upgrade Node
 * made (which reaches its WebSocket handler, or @fastify/websocket's refusal) goes through the
 * socket door and its socket is watched for expiry and revocation. A config.auth that cannot be
 * settled fails the route closed (500, the reason in the log only).
 */
export function ruleOf(request: FastifyRequest): RouteRule {
  const config = request.routeOptions.config as RuleCarrier | undefined
  if (config === undefined) return OPTIONAL
  const settled = config[kRule]
  if (settled !== undefined) return settled
  if (config[kUnusable] === true) throw unusableRoute()
  const url = request.routeOptions.url ?? ''
  const where = `route ${String(request.routeOptions.method)} ${url} config.auth`
  try {
    config[kRule] = toRule(config.auth, where, { websocket: true, url, known: false })
  } catch (err) {
    config[kUnusable] = true
    request.log.error({ tokenAuth: { route: url, err: (err as Error).message } }, 'fastify-token-auth: this route was declared before the plugin was registered and its config.auth is invalid: it answers 500 until fixed (declare routes after registering fastify-token-auth, so that startup checks them)')
    throw unusableRoute()
  }
  if (config.auth !== undefined) {
    request.log.warn({ tokenAuth: { route: url } }, 'fastify-token-auth: this route was declared before the plugin was registered: its config.auth was checked at its first request, not at startup (declare routes after registering fastify-token-auth)')
  }
  return config[kRule]
}
