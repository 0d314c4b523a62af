// Type tests (tstyche): what a TypeScript user of the plugin sees after `register`. Run by
// `npm run test:types`; nothing here executes.
import Fastify, { type FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import fastifyTokenAuth, { type Auth, type AuthFailure, type RouteAuthConfig, type TokenAuthDecorator } from '../../src/index.js'
import { testProvider } from '../../providers/test.js'

const app = Fastify()
const provider = testProvider({ tokens: {} })

describe('declaration merging', () => {
  test('request.auth is the Auth, request.authFailure may be null', () => {
    expect<FastifyRequest['auth']>().type.toBe<Auth>()
    expect<FastifyRequest['auth']['uid']>().type.toBe<string>()
    expect<FastifyRequest['auth']['credentials']['scopes']>().type.toBe<string[]>()
    expect<FastifyRequest['auth']['credentials']['expiresAt']>().type.toBe<number | undefined>()
    expect<FastifyRequest['authFailure']>().type.toBe<AuthFailure | null>()
    expect<AuthFailure['errors'][number]['messageKey']>().type.toBe<
      'missing_token' | 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'provider_unavailable' | 'invalid_dpop_proof' | 'too_many_attempts'
    >()
  })

  test('a route handler sees them without casts', () => {
    app.get('/me', { config: { auth: true } }, async (request) => {
      expect(request.auth.uid).type.toBe<string>()
      expect(request.authFailure).type.toBe<AuthFailure | null>()
      return request.auth.uid
    })
  })

  test('the instance decorators', () => {
    expect(app.tokenAuth).type.toBe<TokenAuthDecorator>()
    expect(app.tokenAuth.verify('t')).type.toBe<Promise<Auth | AuthFailure>>()
    expect(app.requireAuth).type.toBeCallableWith({ scopes: ['admin'] })
    expect(app.requireAuth).type.not.toBeCallableWith({ scopes: 'admin' })
    expect(app.tokenAuth.revoke).type.toBeCallableWith({ uid: 'alice' })
    expect(app.tokenAuth.revoke).type.not.toBeCallableWith({ sub: 'alice' })
  })
})

describe('the route option config.auth', () => {
  test('accepts true, false and a rule', () => {
    expect<RouteAuthConfig>().type.toBeAssignableFrom(true)
    expect<RouteAuthConfig>().type.toBeAssignableFrom(false)
    expect<RouteAuthConfig>().type.toBeAssignableFrom({ scopes: ['read'] })
    expect<RouteAuthConfig>().type.toBeAssignableFrom({ firstMessage: true, authTimeout: 2_000, onExpire: 'reauth' as const })
  })

  test('refuses what would silently misbehave', () => {
    expect<RouteAuthConfig>().type.not.toBeAssignableFrom({ scopes: 'read' })
    expect<RouteAuthConfig>().type.not.toBeAssignableFrom({ onExpire: 'ignore' as const })
    expect<RouteAuthConfig>().type.not.toBeAssignableFrom('required')
    expect(app.get).type.not.toBeCallableWith('/x', { config: { auth: { scopes: 'read' } } }, async () => 'x')
    expect(app.get).type.toBeCallableWith('/x', { config: { auth: { scopes: ['read'] } } }, async () => 'x')
    // A typo of scopes is refused by the type as by the registration.
    expect<RouteAuthConfig>().type.not.toBeAssignableFrom({ scope: ['read'] })
    expect(app.requireAuth).type.not.toBeCallableWith({ scope: ['admin'] })
  })
})

describe('plugin options', () => {
  test('a provider is required, typos are refused', () => {
    expect(app.register).type.toBeCallableWith(fastifyTokenAuth, { provider })
    expect(app.register).type.toBeCallableWith(fastifyTokenAuth, { provider, cache: false, realm: 'api', allowQuery: true })
    expect(app.register).type.not.toBeCallableWith(fastifyTokenAuth, {})
    expect(app.register).type.not.toBeCallableWith(fastifyTokenAuth, { provider, cache: 'off' })
  })
})
