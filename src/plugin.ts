// Fastify glue: every request in scope gets `request.auth` or `request.authFailure` (it never
// rejects by itself, like UeberauthToken.Plug); routes with `config.auth` or `app.requireAuth()`
// enforce, answering per RFC 6750 §3; WebSocket upgrades are authenticated by the same hook and
// their sockets handed to SocketSessions. Knows nothing of any provider.
import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { buildFailure, failureKey, hasScopes, isAuthFailure, type Auth, type AuthFailure } from './auth.js'
import { cacheKey } from './cache.js'
import { challenge, ConfigurationError, DEFAULT_RETRY_AFTER } from './errors.js'
import { bindingCheck } from './binding.js'
import { DPOP_ALGORITHMS, DpopVerifier, type DpopMode } from './dpop.js'
import { extractToken, NO_TOKEN, usesDpopScheme } from './extract-token.js'
import { normalizeOptions, type NormalizedOptions, type TokenAuthPluginOptions } from './options.js'
import { authenticate, authenticateExtracted, namespaceOf, requireScopes } from './pipeline.js'
import { Revalidator, type RevokedEvent } from './revalidate.js'
import { ruleOf, settleRouteConfig, toRule, type RouteRule } from './route-rule.js'
import { authFromTicket, TICKET_DEFAULT_TTL, Tickets } from './ticket.js'
import type { TokenAuthDecorator } from './types.js'
import type { RevocationMessage } from './store.js'
import { isUpgrade, upgradeCredential } from './upgrade.js'
import { SocketSessions, type AuthSocket } from './websocket.js'

interface ChallengeSettings {
  realm: string
  resourceMetadata: string | undefined
  dpop: DpopMode
}

function sendFailure(reply: FastifyReply, failure: AuthFailure, settings: ChallengeSettings, scopes?: readonly string[], usedDpop = false): FastifyReply {
  const key = failureKey(failure)
  const description = failure.errors[0]?.message
  const params = { realm: settings.realm, key, description, scopes, resourceMetadata: settings.resourceMetadata }
  // RFC 9449 §7.1: a DPoP challenge where DPoP is what the client must use (and errors in the
  // scheme the client used); Bearer challenges stay as they are for everyone else.
  const dpopFirst = settings.dpop === 'required' || usedDpop || failure.challenge === 'DPoP'
  const headers: string[] = []
  const bearer = challenge(dpopFirst ? { ...params, key: key === 'missing_token' ? key : 'missing_token' } : params)
  const dpop = settings.dpop === 'disabled' ? undefined : challenge({ ...params, key: dpopFirst ? key : 'missing_token', scheme: 'DPoP', algs: DPOP_ALGORITHMS })
  if (dpopFirst) {
    if (dpop !== undefined) headers.push(dpop)
    if (settings.dpop !== 'required' && bearer !== undefined) headers.push(bearer)
  } else if (bearer !== undefined) headers.push(bearer)
  if (headers.length > 0) reply.header('www-authenticate', headers.length === 1 ? headers[0] : headers)
  if (key === 'provider_unavailable') reply.header('retry-after', String(failure.retryAfter ?? DEFAULT_RETRY_AFTER))
  reply.header('cache-control', 'no-store')
  return reply.code(failure.status).send({ error: key, error_description: description })
}

function setResult(request: FastifyRequest, result: Auth | AuthFailure): void {
  if (isAuthFailure(result)) request.authFailure = result
  else request.auth = result
}

const TICKET_FAILURES = {
  malformed: 'The connection ticket is malformed',
  signature: 'The connection ticket is invalid',
  expired: 'The connection ticket expired',
  replayed: 'The connection ticket was already used',
} as const

/** What an authenticated upgrade hands to the socket once it opens. */
interface UpgradeState {
  rule: RouteRule
  /** The cache key of the token (or the ticket's token): how revocation finds the socket. */
  key: string | undefined
  auth: Auth | null
}

function tokenAuthPlugin(fastify: FastifyInstance, options: TokenAuthPluginOptions, done: (err?: Error) => void): void {
  let settled: NormalizedOptions
  try {
    settled = normalizeOptions(options, fastify.log)
  } catch (err) {
    done(err as Error)
    return
  }
  const { provider, realm, extract, settings } = settled
  const challenges: ChallengeSettings = { realm, resourceMetadata: settled.resourceMetadata?.url, dpop: settled.dpop }

  const checkBinding = bindingCheck(settled.dpop, new DpopVerifier())
  const namespace = namespaceOf(provider)
  const missing = Object.freeze(buildFailure(provider.name, 'missing_token'))
  const tickets = settled.ticketSecret === undefined ? undefined : new Tickets(settled.ticketSecret, 'fastify-token-auth: options.ticketSecret')
  const events = new EventEmitter<{ revoked: [RevokedEvent] }>()
  const revalidator = settled.revalidate === undefined ? undefined : new Revalidator(provider, settings, settled.revalidate)
  revalidator?.on('revoked', (event) => events.emit('revoked', event))
  const verify = async (token: string, scopes?: readonly string[]): Promise<Auth | AuthFailure> =>
    requireScopes(await authenticate(token, provider, settings), scopes)
  const sessions = new SocketSessions({ verify, keyOf: (token) => cacheKey(namespace, token), log: fastify.log })
  events.on('revoked', ({ key }) => sessions.revoke(key))
  const upgrades = new WeakMap<IncomingMessage, UpgradeState>()
  const { cache, cache: { store } } = settings

  /** Applies a revocation here (from this instance or from the fleet). Idempotent. */
  function applyRevocation(message: RevocationMessage): void {
    if ('key' in message) {
      cache.denyKey(message.key, message.until)
      sessions.revoke(message.key)
    } else {
      cache.denyUid(message.uid, message.at, message.ttl)
      sessions.revokeUid(message.uid)
    }
  }
  let unsubscribe: (() => Promise<void>) | undefined

  /** Authenticates once per request; later calls (requireAuth after the hook) reuse the result. */
  function authenticateRequest(request: FastifyRequest): void | Promise<void> {
    if (request.auth !== null || request.authFailure !== null) return
    const found = extractToken(
      { authorization: request.headers.authorization, rawHeaders: request.raw.rawHeaders, query: request.query },
      extract,
    )
    if (typeof found !== 'string') {
      request.authFailure = found === NO_TOKEN ? missing : buildFailure(provider.name, found.key, found.description)
      return
    }
    const result = authenticateExtracted(found, provider, settings)
    if (!(result instanceof Promise)) return setResult(request, result)
    return result.then((settledResult) => setResult(request, settledResult))
  }

  /** An upgrade may also carry a ticket or a Sec-WebSocket-Protocol token. Returns the token's cache key. */
  async function authenticateUpgrade(request: FastifyRequest): Promise<string | undefined> {
    const credential = upgradeCredential(request.headers, request.raw.rawHeaders, request.query, extract)
    switch (credential.kind) {
      case 'none':
        request.authFailure = missing
        return undefined
      case 'refused':
        request.authFailure = buildFailure(provider.name, credential.failure.key, credential.failure.description)
        return undefined
      case 'ticket': {
        const checked = tickets?.verify(credential.ticket)
        if (checked === undefined || !checked.ok) {
          request.authFailure = buildFailure(provider.name, 'invalid_token', checked === undefined ? 'Connection tickets are not enabled' : TICKET_FAILURES[checked.reason])
          return undefined
        }
        request.auth = authFromTicket(checked.payload)
        return checked.payload.key
      }
      case 'token':
        setResult(request, await authenticateExtracted(credential.token, provider, settings))
        return cacheKey(namespace, credential.token)
    }
  }

  /** Answers the request when it may not pass; returns whether it did. */
  function enforce(request: FastifyRequest, reply: FastifyReply, scopes: readonly string[]): boolean {
    const auth = request.auth as Auth | null
    if (auth === null) {
      const failure = request.authFailure ?? missing
      request.log.debug({ tokenAuth: { key: failureKey(failure) } }, 'request rejected')
      sendFailure(reply, failure, challenges, undefined, usesDpopScheme(request.headers.authorization))
      return true
    }
    if (scopes.length > 0 && !hasScopes(auth, scopes)) {
      request.log.debug({ tokenAuth: { key: 'insufficient_scope', uid: auth.uid } }, 'request rejected')
      sendFailure(reply, buildFailure(auth.provider, 'insufficient_scope'), challenges, scopes, usesDpopScheme(request.headers.authorization))
      return true
    }
    return false
  }

  fastify.decorateRequest('auth', null as unknown as Auth)
  fastify.decorateRequest('authFailure', null)

  const decorator: TokenAuthDecorator = {
    provider,
    cache: settings.cache,
    events,
    sockets: sessions,
    verify: (token, verifyOptions) => verify(token, verifyOptions?.scopes),
    async revoke(target) {
      let message: RevocationMessage
      // How long a revocation lasts when no exp bounds it: as long as any cached answer may live.
      const lasting = Math.max(cache.maxTtl, 60_000)
      if (typeof target === 'string') {
        const key = cacheKey(namespace, target)
        const expiresAt = (cache.peek(key) as Auth | undefined)?.credentials?.expiresAt
        message = { key, until: expiresAt === undefined ? Date.now() + lasting : expiresAt * 1000 }
        await store?.delete(key)
      } else if (target !== null && typeof target === 'object' && typeof target.uid === 'string') {
        message = { uid: target.uid, at: Math.floor(Date.now() / 1000), ttl: lasting }
      } else {
        throw new TypeError('tokenAuth.revoke: pass a token or { uid }')
      }
      applyRevocation(message)
      await store?.publish?.(message)
    },
    issueTicket(auth, ticketOptions) {
      if (tickets === undefined) throw new ConfigurationError('fastify-token-auth: issueTicket needs the ticketSecret option')
      if (auth === null || typeof auth !== 'object' || typeof auth.uid !== 'string') throw new TypeError('issueTicket: pass request.auth of an authenticated request')
      // Bound to the token that minted it (through its cache key), so that revoking it reaches the socket.
      const key = auth.credentials.token.length > 0 ? cacheKey(namespace, auth.credentials.token) : ''
      return tickets.issue(auth, key, ticketOptions?.ttl ?? TICKET_DEFAULT_TTL)
    },
  }
  fastify.decorate('tokenAuth', decorator)

  fastify.decorate('requireAuth', function requireAuth(rule: { scopes?: string[] } = {}): preHandlerAsyncHookHandler {
    const { scopes } = toRule(rule, 'requireAuth()')
    return async function requireAuthHandler(request, reply) {
      const authenticatedHere = request.auth === null && request.authFailure === null
      await authenticateRequest(request)
      if (authenticatedHere) await checkBinding(request)
      if (enforce(request, reply, scopes)) return reply
    }
  })

  fastify.addHook('onRoute', (routeOptions) => {
    routeOptions.config = settleRouteConfig(routeOptions.config, `route ${String(routeOptions.method)} ${routeOptions.url} config.auth`)
  })

  // Callback style, so that a cache hit allocates no promise.
  fastify.addHook('onRequest', function tokenAuthOnRequest(request, reply, next) {
    const rule = ruleOf(request)
    if (rule.skip) return next()
    if (isUpgrade(request.headers)) {
      // First-message routes open unauthenticated; the socket then asks for the token.
      if (rule.socket.firstMessage) {
        upgrades.set(request.raw, { rule, key: undefined, auth: null })
        return next()
      }
      authenticateUpgrade(request).then(async (key) => {
        // Ticket-based Auths carry no token and no binding; tokens are held to their DPoP key.
        if (request.auth !== null && request.auth.strategy !== 'ticket') await checkBinding(request)
        if (rule.enforce && enforce(request, reply, rule.scopes)) return
        if (request.auth !== null) upgrades.set(request.raw, { rule, key, auth: request.auth })
        next()
      }, next)
      return
    }
    const pending = authenticateRequest(request)
    const proof = pending === undefined ? checkBinding(request) : undefined
    if (pending === undefined && proof === undefined) {
      if (!(rule.enforce && enforce(request, reply, rule.scopes))) next()
      return
    }
    Promise.resolve(pending ?? proof).then(() => (pending === undefined ? undefined : checkBinding(request))).then(() => {
      if (!(rule.enforce && enforce(request, reply, rule.scopes))) next()
    }, next)
  })

  if (settled.resourceMetadata !== undefined) {
    const { path, document } = settled.resourceMetadata
    fastify.get(path, { config: { auth: false } }, async (_request, reply) => reply.header('cache-control', 'max-age=3600').send(document))
  }

  // @fastify/websocket emits 'connection' just before it calls the route's handler: the socket
  // is taken in hand here, whatever the order in which the two plugins were registered.
  fastify.addHook('onReady', function attachSockets(ready) {
    const server = (this as FastifyInstance & { websocketServer?: EventEmitter }).websocketServer
    server?.on('connection', (socket: AuthSocket, raw: IncomingMessage) => {
      const state = upgrades.get(raw)
      if (state === undefined) return
      upgrades.delete(raw)
      sessions.attach(socket, state.rule.socket, state.auth, state.key)
    })
    ready()
  })

  fastify.addHook('onClose', (_instance, closed) => {
    void unsubscribe?.()
    revalidator?.stop()
    sessions.close()
    settings.cache.clear()
    Promise.resolve(provider.close?.()).then(() => closed(), closed)
  })
  // Discovery and the first key fetch happen here, so that a misconfiguration stops startup;
  // the fleet's revocation channel is joined (a Redis that is down does not stop startup).
  const joined = store?.subscribe?.(applyRevocation).then((stop) => { unsubscribe = stop }, (err: Error) => {
    fastify.log.warn({ tokenAuth: { err: err.message } }, 'revocation channel unavailable at startup')
  })
  // A Redis that is down makes connect() wait for it: startup waits 2 s at most, then goes on.
  const joinedOrLater = joined === undefined ? undefined : Promise.race([joined, new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref())])
  Promise.all([provider.ready?.({ log: fastify.log }), joinedOrLater]).then(() => done(), done)
}

export const plugin = fp(tokenAuthPlugin, { fastify: '5.x', name: 'fastify-token-auth' })
