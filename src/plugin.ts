// Fastify glue: every request in scope gets `request.auth` or `request.authFailure` (it never
// rejects by itself, like UeberauthToken.Plug); routes with `config.auth` or `app.requireAuth()`
// enforce, answering per RFC 6750 §3. A door of the engine: it extracts the credential and the
// facts of the request, and answers; the engine decides. Runs in preParsing, after every plugin's
// onRequest hooks (CORS, helmet, rate limits, @fastify/websocket), whatever the registration order.
import { EventEmitter } from 'node:events'
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { accessRule, challengeScopes, type AccessRule, type AccessRuleConfig } from './access-rule.js'
import { buildFailure, isAuthFailure, type Auth, type AuthFailure } from './auth.js'
import { NO_PROOF } from './binding.js'
import { Engine } from './engine.js'
import { extractToken, hasFormBody, NO_TOKEN, usesDpopScheme } from './extract-token.js'
import { HttpFacts } from './http-facts.js'
import { normalizeOptions, type TokenAuthPluginOptions } from './options.js'
import { sendFailure, type ChallengeSettings } from './reply.js'
import { Revalidator, type RevokedEvent } from './revalidate.js'
import { ruleOf, settleRouteConfig, toRule, type RouteRule } from './route-rule.js'
import { SocketDoor } from './socket-door.js'
import type { TokenAuthDecorator } from './types.js'
import { isUpgrade } from './upgrade.js'
import { canCloseUpgrade, refuseByClosing } from './upgrade-refusal.js'

async function tokenAuthPlugin(fastify: FastifyInstance, options: TokenAuthPluginOptions): Promise<void> {
  if (fastify.hasDecorator('tokenAuth')) {
    throw new Error('fastify-token-auth is already registered in this scope or a parent one: register it once per scope (sibling scopes may have one each)')
  }
  const settled = normalizeOptions(options, fastify.log)
  const { provider, extract, settings, publicUrl } = settled
  const engine = new Engine({ provider, settings, dpop: settled.dpop, tickets: settled.tickets, guard: settled.guard, path: 'fastify-token-auth: options' })
  const challenges: ChallengeSettings = { realm: settled.realm, resourceMetadata: settled.resourceMetadata?.url, dpop: settled.dpop }
  const sockets = new SocketDoor(engine, extract, publicUrl, fastify.log)
  const events = new EventEmitter<{ revoked: [RevokedEvent] }>()
  const revalidator = settled.revalidate === undefined ? undefined : new Revalidator(engine, settled.revalidate)
  revalidator?.on('revoked', (event) => {
    sockets.sessions.revoke(event.key)
    events.emit('revoked', event)
  })

  /** Decorates the request with a result; `replace` when a later rule refuses an Auth already set. */
  function setResult(request: FastifyRequest, result: Auth | AuthFailure, replace = false): void {
    if (!isAuthFailure(result)) request.auth = result
    else {
      request.authFailure = result
      if (replace) request.auth = null as unknown as Auth
    }
  }

  /** The HTTP door: extracts the token (from the parsed body too, once there is one), runs it through the engine under the route's rule. */
  function authenticateRequest(request: FastifyRequest, rule: AccessRule, body?: unknown): void | Promise<void> {
    const found = extractToken({ authorization: request.headers.authorization, rawHeaders: request.raw.rawHeaders, query: request.query, body }, extract)
    if (typeof found !== 'string') {
      request.authFailure = found === NO_TOKEN ? engine.missing : buildFailure(provider.name, found.key, found.description)
      return
    }
    const result = engine.authenticate(found, new HttpFacts(request, publicUrl), rule)
    if (!(result instanceof Promise)) return setResult(request, result)
    return result.then((settledResult) => setResult(request, settledResult))
  }

  /** Answers the request when it is not authenticated under `rule` (the engine applied it); returns whether it did. */
  function refused(request: FastifyRequest, reply: FastifyReply, rule: AccessRule): boolean {
    if (request.auth !== null) return false
    const failure = request.authFailure ?? engine.missing
    request.log.debug({ tokenAuth: { key: failure.errors[0]?.messageKey } }, 'request rejected')
    sendFailure(reply, failure, challenges, challengeScopes(rule), usesDpopScheme(request.headers.authorization))
    return true
  }

  fastify.decorateRequest('auth', null as unknown as Auth)
  fastify.decorateRequest('authFailure', null)
  const decorator: TokenAuthDecorator = {
    provider,
    cache: settings.cache,
    events,
    sockets: sockets.sessions,
    verify: async (token, { request, ...rule } = {}) =>
      engine.check(token, request === undefined ? NO_PROOF : new HttpFacts(request, publicUrl), accessRule(rule, 'tokenAuth.verify() options')),
    revoke: (target, revokeOptions) => engine.revoke(target, revokeOptions),
    issueTicket: (auth, ticketOptions) => engine.issueTicket(auth, ticketOptions),
  }
  fastify.decorate('tokenAuth', decorator)

  fastify.decorate('requireAuth', function requireAuth(ruleConfig: AccessRuleConfig = {}): preHandlerAsyncHookHandler {
    const rule = toRule(ruleConfig, 'requireAuth()')
    return async function requireAuthHandler(request, reply) {
      // Authenticated by the hook under the route's own rule: this rule is applied on top.
      if (request.auth !== null) setResult(request, await engine.authorize(request.auth, rule), true)
      else if (request.authFailure === null) await authenticateRequest(request, rule)
      if (refused(request, reply, rule)) return reply
    }
  })

  fastify.addHook('onRoute', (routeOptions) => {
    const where = `route ${String(routeOptions.method)} ${routeOptions.url} config.auth`
    routeOptions.config = settleRouteConfig(routeOptions.config, where, { websocket: (routeOptions as { websocket?: unknown }).websocket === true, url: routeOptions.url ?? '' })
  })

  /** Authenticates and enforces; `next` once the request may go on. */
  function guard(request: FastifyRequest, reply: FastifyReply, rule: RouteRule, body: unknown, next: (err?: Error) => void): void {
    const pending = authenticateRequest(request, rule, body)
    if (pending === undefined) {
      if (!(rule.enforce && refused(request, reply, rule))) next()
      return
    }
    pending.then(() => {
      if (!(rule.enforce && refused(request, reply, rule))) next()
    }, next)
  }

  // Callback style, so that a cache hit allocates no promise.
  fastify.addHook('preParsing', function tokenAuthPreParsing(request, reply, _payload, next) {
    const rule = ruleOf(request)
    if (rule.skip) return next()
    // A token may be in the body: authenticated once the body is parsed (preValidation).
    if (extract.allowBody === true && hasFormBody(request.method, request.headers['content-type'])) {
      formRequests.add(request)
      return next()
    }
    if (rule.websocket && isUpgrade(request.method, request.headers)) {
      sockets.authenticate(request, rule).then((result) => {
        setResult(request, result)
        if (rule.socket.firstMessage || !rule.enforce || request.auth !== null) return next()
        // A page sees a refused upgrade only as close 1006: where asked, it is accepted and closed with the reason.
        if ((rule.upgradeRefusal ?? settled.upgradeRefusal) === 'close' && canCloseUpgrade(request)) return refuseByClosing(request, reply, result as AuthFailure)
        refused(request, reply, rule)
      }, next)
      return
    }
    guard(request, reply, rule, undefined, next)
  })

  const formRequests = new WeakSet<FastifyRequest>()
  if (extract.allowBody === true) {
    fastify.addHook('preValidation', function tokenAuthFormBody(request, reply, next) {
      if (!formRequests.has(request)) return next()
      guard(request, reply, ruleOf(request), request.body, next)
    })
  }

  if (settled.resourceMetadata !== undefined) {
    const { path, document } = settled.resourceMetadata
    fastify.get(path, { config: { auth: false } }, async (_request, reply) => reply.header('cache-control', 'max-age=3600').send(document))
  }

  fastify.addHook('onReady', function attachSockets(ready) {
    if (extract.allowBody === true && !this.hasContentTypeParser('application/x-www-form-urlencoded')) {
      ready(new TypeError('fastify-token-auth: options.allowBody needs a parser for application/x-www-form-urlencoded bodies: register @fastify/formbody'))
      return
    }
    sockets.listen((this as FastifyInstance & { websocketServer?: EventEmitter }).websocketServer)
    ready()
  })

  let leaveFleet: (() => Promise<void>) | undefined
  fastify.addHook('onClose', async () => {
    revalidator?.stop()
    sockets.close()
    // A cache passed in may serve other registrations: only one made here is cleared.
    if (settled.ownsCache) settings.cache.clear()
    await Promise.allSettled([leaveFleet?.(), provider.close?.()])
  })

  // Discovery and the first key fetch happen here, so that a misconfiguration stops startup. The
  // fleet's revocation channel is joined without waiting: a Redis that is down does not hold startup.
  engine.joinFleet().then((leave) => { leaveFleet = leave }, (err: unknown) => {
    fastify.log.warn({ tokenAuth: { err: (err as Error)?.message } }, 'revocation channel unavailable at startup')
  })
  await provider.ready?.({ log: fastify.log })
}

export const plugin = fp(tokenAuthPlugin, { fastify: '5.x', name: 'fastify-token-auth' })
