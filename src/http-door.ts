// The HTTP door of the engine, for Fastify: extracts the credential (header, query, form body),
// hands it to the engine with the facts of the request and the route's rule, decorates the request
// with the result, and answers a refusal (RFC 6750 §3; a refused upgrade per `upgradeRefusal`).
// It adapts input and output only: the engine decides.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { challengeScopes, type AccessRule } from './access-rule.js'
import { buildFailure, isAuthFailure, type Auth, type AuthFailure } from './auth.js'
import type { Engine } from './engine.js'
import { extractToken, NO_TOKEN, usesDpopScheme, type ExtractOptions } from './extract-token.js'
import { HttpFacts } from './http-facts.js'
import { sendFailure, type ChallengeSettings } from './reply.js'
import type { RouteRule } from './route-rule.js'
import type { SocketDoor } from './socket-door.js'
import { canCloseUpgrade, refuseByClosing } from './upgrade-refusal.js'

type Next = (err?: Error) => void

export interface HttpDoorSettings {
  extract: ExtractOptions
  publicUrl: string | undefined
  challenges: ChallengeSettings
  upgradeRefusal: 'http' | 'close'
}

/** Decorates the request with a result; `replace` when a later rule refuses an Auth already set. */
function setResult(request: FastifyRequest, result: Auth | AuthFailure, replace = false): void {
  if (!isAuthFailure(result)) request.auth = result
  else {
    request.authFailure = result
    if (replace) request.auth = null as unknown as Auth
  }
}

export class HttpDoor {
  readonly #engine: Engine
  readonly #settings: HttpDoorSettings
  readonly #sockets: SocketDoor

  constructor(engine: Engine, sockets: SocketDoor, settings: HttpDoorSettings) {
    this.#engine = engine
    this.#sockets = sockets
    this.#settings = settings
  }

  /** Extracts the token (from the parsed form body too, once there is one) and runs it through the engine under `rule`. */
  authenticate(request: FastifyRequest, rule: AccessRule, body?: unknown): void | Promise<void> {
    const engine = this.#engine
    const found = extractToken({ authorization: request.headers.authorization, rawHeaders: request.raw.rawHeaders, query: request.query, body }, this.#settings.extract)
    if (typeof found !== 'string') {
      request.authFailure = found === NO_TOKEN ? engine.missing : buildFailure(engine.provider.name, found.key, found.description)
      return
    }
    const result = engine.authenticate(found, new HttpFacts(request, this.#settings.publicUrl), rule)
    if (!(result instanceof Promise)) return setResult(request, result)
    return result.then((settled) => setResult(request, settled))
  }

  /** Answers the request when it is not authenticated under `rule` (the engine applied it); returns whether it did. */
  refused(request: FastifyRequest, reply: FastifyReply, rule: AccessRule): boolean {
    if (request.auth !== null) return false
    const failure = request.authFailure ?? this.#engine.missing
    request.log.debug({ tokenAuth: { key: failure.errors[0]?.messageKey } }, 'request rejected')
    sendFailure(reply, failure, this.#settings.challenges, challengeScopes(rule), usesDpopScheme(request.headers.authorization))
    return true
  }

  /** Authenticates, enforces the route's rule, and lets the request go on (`next`) when it may. */
  pass(request: FastifyRequest, reply: FastifyReply, rule: RouteRule, body: unknown, next: Next): void {
    const pending = this.authenticate(request, rule, body)
    if (pending === undefined) {
      if (!(rule.enforce && this.refused(request, reply, rule))) next()
      return
    }
    pending.then(() => {
      if (!(rule.enforce && this.refused(request, reply, rule))) next()
    }, next)
  }

  /** A WebSocket upgrade to a WebSocket route: its carriers (header, subprotocol, ticket) through the socket door. */
  upgrade(request: FastifyRequest, reply: FastifyReply, rule: RouteRule, next: Next): void {
    this.#sockets.authenticate(request, rule).then((result) => {
      setResult(request, result)
      if (rule.socket.firstMessage || !rule.enforce || request.auth !== null) return next()
      // A page sees a refused upgrade only as close 1006: where asked, it is accepted and closed with the reason.
      if ((rule.upgradeRefusal ?? this.#settings.upgradeRefusal) === 'close' && canCloseUpgrade(request)) return refuseByClosing(request, reply, result as AuthFailure)
      this.refused(request, reply, rule)
    }, next)
  }

  /** app.requireAuth(rule): a preHandler that applies `rule` on top of the route's own. */
  async require(request: FastifyRequest, reply: FastifyReply, rule: RouteRule): Promise<FastifyReply | undefined> {
    if (request.auth !== null) setResult(request, await this.#engine.authorize(request.auth, rule), true)
    else if (request.authFailure === null) await this.authenticate(request, rule)
    return this.refused(request, reply, rule) ? reply : undefined
  }
}
