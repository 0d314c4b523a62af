// Fastify glue: options → one engine, its doors (HTTP, WebSocket), decorators and hooks. Every
// request in scope gets `request.auth` or `request.authFailure` (it never rejects by itself, like
// UeberauthToken.Plug); routes with `config.auth` or `app.requireAuth()` enforce. Runs in
// preParsing, after every plugin's onRequest hooks (CORS, helmet, rate limits, @fastify/websocket),
// whatever the registration order.
import { EventEmitter } from 'node:events'
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { ACCESS_RULE_KEYS, accessRule, type AccessRuleConfig } from './access-rule.js'
import type { Auth } from './auth.js'
import { NO_PROOF } from './binding.js'
import { Engine } from './engine.js'
import { hasFormBody } from './extract-token.js'
import { HttpDoor } from './http-door.js'
import { HttpFacts } from './http-facts.js'
import { normalizeOptions, type TokenAuthPluginOptions } from './options.js'
import type { ChallengeSettings } from './reply.js'
import { Revalidator, type RevokedEvent } from './revalidate.js'
import { ruleOf, settleRouteConfig, toRule } from './route-rule.js'
import { SocketDoor } from './socket-door.js'
import type { TokenAuthDecorator } from './types.js'
import { isUpgrade } from './upgrade.js'

async function tokenAuthPlugin(fastify: FastifyInstance, options: TokenAuthPluginOptions): Promise<void> {
  if (fastify.hasDecorator('tokenAuth')) {
    throw new Error('fastify-token-auth is already registered in this scope or a parent one: register it once per scope (sibling scopes may have one each)')
  }
  const settled = normalizeOptions(options, fastify.log)
  const { provider, extract, settings, publicUrl } = settled
  const engine = new Engine({ provider, settings, dpop: settled.dpop, tickets: settled.tickets, guard: settled.guard, path: 'fastify-token-auth: options' })
  const challenges: ChallengeSettings = { realm: settled.realm, resourceMetadata: settled.resourceMetadata?.url, dpop: settled.dpop }
  const sockets = new SocketDoor(engine, extract, publicUrl, fastify.log, settled.revalidate !== undefined)
  const events = new EventEmitter<{ revoked: [RevokedEvent] }>()
  const revalidator = settled.revalidate === undefined ? undefined : new Revalidator(engine, settled.revalidate, () => sockets.sessions.heldTokens())
  revalidator?.on('revoked', (event) => {
    sockets.sessions.revoke(event.key)
    events.emit('revoked', event)
  })

  const door = new HttpDoor(engine, sockets, { extract, publicUrl, challenges, upgradeRefusal: settled.upgradeRefusal })

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
    const rule = toRule(ruleConfig, 'requireAuth()', undefined, ACCESS_RULE_KEYS)
    return async function requireAuthHandler(request, reply) {
      return door.require(request, reply, rule)
    }
  })

  fastify.addHook('onRoute', (routeOptions) => {
    const where = `route ${String(routeOptions.method)} ${routeOptions.url} config.auth`
    // @fastify/websocket routes: `websocket: true`, or a `wsHandler` beside an HTTP handler.
    const { websocket, wsHandler } = routeOptions as { websocket?: unknown; wsHandler?: unknown }
    routeOptions.config = settleRouteConfig(routeOptions.config, where, { websocket: websocket === true || typeof wsHandler === 'function', url: routeOptions.url ?? '', known: true })
  })

  // Callback style, so that a cache hit allocates no promise.
  fastify.addHook('preParsing', function tokenAuthPreParsing(request, reply, _payload, next) {
    let rule
    try {
      rule = ruleOf(request)
    } catch (err) {
      return next(err as Error)
    }
    if (rule.skip) return next()
    // A token may be in the body: authenticated once the body is parsed (preValidation).
    if (extract.allowBody === true && hasFormBody(request.method, request.headers['content-type'])) {
      formRequests.add(request)
      return next()
    }
    if (rule.websocket && isUpgrade(request)) return door.upgrade(request, reply, rule, next)
    door.pass(request, reply, rule, undefined, next)
  })

  const formRequests = new WeakSet<FastifyRequest>()
  if (extract.allowBody === true) {
    fastify.addHook('preValidation', function tokenAuthFormBody(request, reply, next) {
      if (!formRequests.has(request)) return next()
      door.pass(request, reply, ruleOf(request), request.body, next)
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
