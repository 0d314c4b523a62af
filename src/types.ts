// Type merging into Fastify, in one place: `request.auth`, `request.authFailure`, the route
// option `config.auth`, and the instance decorators.
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { AccessRuleConfig } from './access-rule.js'
import type { Auth, AuthFailure } from './auth.js'
import type { TokenCache } from './cache.js'
import type { Provider } from './provider.js'
import type { RevokedEvent } from './revalidate.js'
import type { EventEmitter } from 'node:events'

/**
 * A route's `config.auth`: `true` requires a valid token, `{ scopes }` also requires every scope,
 * `false` skips authentication altogether (health checks, public assets). Absent: the request
 * is authenticated when it carries a token, and the handler decides.
 */
export type RouteAuthConfig = boolean | (AccessRuleConfig & {
  /** WebSocket routes: the socket opens unauthenticated and must send `{"type":"auth","token":"…"}` first. */
  firstMessage?: boolean
  /** WebSocket routes: ms to wait for that first message. Default 5,000. */
  authTimeout?: number
  /** WebSocket routes: at the token's exp, close with 4401 ('close', default) or ask for a fresh token ('reauth'). */
  onExpire?: 'close' | 'reauth'
  /** WebSocket routes: ms a socket has to re-authenticate after `reauth_required`. Default 10,000. */
  reauthGrace?: number
  /** WebSocket routes: how a refused upgrade is answered (see the plugin's `upgradeRefusal`). */
  upgradeRefusal?: 'http' | 'close'
})

export interface TokenAuthDecorator {
  readonly provider: Provider<unknown>
  readonly cache: TokenCache
  /** 'revoked' when background re-validation evicts a token (see the `revalidate` option). */
  readonly events: EventEmitter<{ revoked: [RevokedEvent] }>
  /**
   * Runs a token from elsewhere (a message, a header of your own) through every check the hook
   * applies. A sender-constrained (DPoP or certificate-bound) token passes only with `request`,
   * the request it came with, so that its proof can be checked.
   */
  verify(token: string, options?: AccessRuleConfig & { request?: FastifyRequest }): Promise<Auth | AuthFailure>
  /**
   * Mints a single-use connection ticket for an upgrade of the WebSocket route `route`
   * (`?ticket=`) from the request's Auth; valid `ttl` ms (default 30,000), never past the token's
   * exp; refused for a DPoP-bound token. Needs `ticketSecret`.
   */
  issueTicket(auth: Auth, options: { route: string; ttl?: number }): string
  /**
   * Revokes a token, or every token of `{ uid }` issued until now: this instance and (with a
   * store that publishes, such as RedisStore) every instance of the fleet refuse it at once and
   * close its sockets. A token stays refused until its exp (the cached answer's, or a JWT's own);
   * an opaque token not cached here, and a uid, for max(cache maxTtl, 60 s), unless `until` (ms
   * since the epoch) says otherwise. Resolves with the time the revocation holds until.
   */
  revoke(target: string | { uid: string }, options?: { until?: number }): Promise<{ until: number }>
  /** Open WebSockets under this plugin's care. */
  readonly sockets: { readonly size: number; readonly timers: number }
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The authenticated token. Typed for the routes that enforce authentication (where it is
     * always set); elsewhere it is `null` unless a valid token came: check it before use.
     */
    auth: Auth
    /** Why the request is not authenticated, or null. */
    authFailure: AuthFailure | null
  }
  interface FastifyInstance {
    /** A preHandler that answers 401/403/400/503 unless the request is authenticated with `scopes`. */
    requireAuth(rule?: AccessRuleConfig): preHandlerAsyncHookHandler
    tokenAuth: TokenAuthDecorator
  }
  interface FastifyContextConfig {
    auth?: RouteAuthConfig
  }
}
