// Fastify glue: every request in scope gets `request.auth` or `request.authFailure` (it never
// rejects by itself, like UeberauthToken.Plug); routes with `config.auth` or `app.requireAuth()`
// enforce, answering per RFC 6750 §3. Knows nothing of any provider.
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { buildFailure, failureKey, hasScopes, isAuthFailure, type Auth, type AuthFailure } from './auth.js'
import { challenge, DEFAULT_RETRY_AFTER } from './errors.js'
import { extractToken, NO_TOKEN } from './extract-token.js'
import { normalizeOptions, type NormalizedOptions, type TokenAuthPluginOptions } from './options.js'
import { authenticate, authenticateExtracted, requireScopes } from './pipeline.js'
import { Revalidator, type RevokedEvent } from './revalidate.js'
import type { RouteAuthConfig, TokenAuthDecorator } from './types.js'
import { EventEmitter } from 'node:events'

/** A route's settled rule: skip (no authentication at all), optional, or enforced with scopes. */
interface RouteRule {
  readonly skip: boolean
  readonly enforce: boolean
  readonly scopes: readonly string[]
}

const OPTIONAL: RouteRule = Object.freeze({ skip: false, enforce: false, scopes: Object.freeze([]) })
const SKIP: RouteRule = Object.freeze({ skip: true, enforce: false, scopes: Object.freeze([]) })
const kRule = Symbol('fastify-token-auth.rule')

function toRule(config: RouteAuthConfig | undefined, where: string): RouteRule {
  if (config === undefined) return OPTIONAL
  if (config === false) return SKIP
  if (config === true) return Object.freeze({ skip: false, enforce: true, scopes: Object.freeze([]) })
  if (config !== null && typeof config === 'object') {
    const scopes = config.scopes ?? []
    if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string' && scope.length > 0)) {
      throw new TypeError(`fastify-token-auth: ${where}: scopes must be an array of non-empty strings`)
    }
    return Object.freeze({ skip: false, enforce: true, scopes: Object.freeze([...scopes]) })
  }
  throw new TypeError(`fastify-token-auth: ${where} must be true, false or { scopes: string[] }`)
}

type RuleCarrier = { auth?: RouteAuthConfig; [kRule]?: RouteRule }

/**
 * The rule of the request's route: settled in onRoute, or here once for routes declared before
 * the plugin (Fastify runs a global hook on those too, and so must the enforcement).
 */
function ruleOf(request: FastifyRequest): RouteRule {
  const config = request.routeOptions.config as RuleCarrier | undefined
  if (config === undefined) return OPTIONAL
  return config[kRule] ?? (config[kRule] = toRule(config.auth, `route ${request.routeOptions.url ?? ''} config.auth`))
}

function sendFailure(reply: FastifyReply, failure: AuthFailure, realm: string, scopes?: readonly string[]): FastifyReply {
  const key = failureKey(failure)
  const description = failure.errors[0]?.message
  const header = challenge({ realm, key, description, scopes })
  if (header !== undefined) reply.header('www-authenticate', header)
  if (key === 'provider_unavailable') reply.header('retry-after', String(failure.retryAfter ?? DEFAULT_RETRY_AFTER))
  reply.header('cache-control', 'no-store')
  return reply.code(failure.status).send({ error: key, error_description: description })
}

function setResult(request: FastifyRequest, result: Auth | AuthFailure): void {
  if (isAuthFailure(result)) request.authFailure = result
  else request.auth = result
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
  const events = new EventEmitter<{ revoked: [RevokedEvent] }>()
  const revalidator = settled.revalidate === undefined ? undefined : new Revalidator(provider, settings, settled.revalidate)
  revalidator?.on('revoked', (event) => events.emit('revoked', event))
  const missing = Object.freeze(buildFailure(provider.name, 'missing_token'))

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

  /** Answers the request when it may not pass; returns whether it did. */
  function enforce(request: FastifyRequest, reply: FastifyReply, scopes: readonly string[]): boolean {
    const auth = request.auth as Auth | null
    if (auth === null) {
      const failure = request.authFailure ?? missing
      request.log.debug({ tokenAuth: { key: failureKey(failure) } }, 'request rejected')
      sendFailure(reply, failure, realm)
      return true
    }
    if (scopes.length > 0 && !hasScopes(auth, scopes)) {
      request.log.debug({ tokenAuth: { key: 'insufficient_scope', uid: auth.uid } }, 'request rejected')
      sendFailure(reply, buildFailure(auth.provider, 'insufficient_scope'), realm, scopes)
      return true
    }
    return false
  }

  // `auth` is typed non-null for enforcing routes; its initial value is null everywhere.
  fastify.decorateRequest('auth', null as unknown as Auth)
  fastify.decorateRequest('authFailure', null)

  const decorator: TokenAuthDecorator = {
    provider,
    cache: settings.cache,
    events,
    async verify(token, verifyOptions) {
      return requireScopes(await authenticate(token, provider, settings), verifyOptions?.scopes)
    },
  }
  fastify.decorate('tokenAuth', decorator)

  fastify.decorate('requireAuth', function requireAuth(rule: { scopes?: string[] } = {}): preHandlerAsyncHookHandler {
    const { scopes } = toRule(rule, 'requireAuth()')
    return async function requireAuthHandler(request, reply) {
      await authenticateRequest(request)
      if (enforce(request, reply, scopes)) return reply
    }
  })

  // Settled once per route at startup; a bad config.auth fails here, naming the route.
  fastify.addHook('onRoute', (routeOptions) => {
    const config = (routeOptions.config ?? {}) as RuleCarrier
    const where = `route ${String(routeOptions.method)} ${routeOptions.url} config.auth`
    routeOptions.config = { ...config, [kRule]: toRule(config.auth, where) } as typeof routeOptions.config
  })

  // Callback style, so that a cache hit allocates no promise.
  fastify.addHook('onRequest', function tokenAuthOnRequest(request, reply, done) {
    const rule = ruleOf(request)
    if (rule.skip) return done()
    const pending = authenticateRequest(request)
    if (pending === undefined) {
      if (!(rule.enforce && enforce(request, reply, rule.scopes))) done()
      return
    }
    pending.then(() => {
      if (!(rule.enforce && enforce(request, reply, rule.scopes))) done()
    }, done)
  })

  fastify.addHook('onClose', (_instance, closed) => {
    revalidator?.stop()
    settings.cache.clear()
    Promise.resolve(provider.close?.()).then(() => closed(), closed)
  })
  // Discovery and the first key fetch happen here, so that a misconfiguration stops startup.
  Promise.resolve(provider.ready?.({ log: fastify.log })).then(() => done(), done)
}

export const plugin = fp(tokenAuthPlugin, { fastify: '5.x', name: 'fastify-token-auth' })
