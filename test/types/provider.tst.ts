// Type tests (tstyche): the provider interface and what defineProvider infers from a custom payload.
import { describe, expect, test } from 'tstyche'
import { defineProvider, tokenAuth, type Auth, type AuthFailure, type Claims, type Provider } from '../../src/index.js'
import type { Logger, ProviderContext } from '../../src/provider.js'
import { jwtProvider } from '../../providers/jwt.js'
import { introspectionProvider } from '../../providers/introspection.js'
import { testProvider } from '../../providers/test.js'

interface OrgClaims { sub: string; org: string; exp: number }

describe('defineProvider', () => {
  test('infers the payload type from getPayload, with no type argument', () => {
    const provider = defineProvider({
      name: 'org',
      getPayload: async (): Promise<OrgClaims> => ({ sub: 'a', org: 'acme', exp: 0 }),
      getInfo: (payload) => {
        expect(payload).type.toBe<OrgClaims>()
        return { name: payload.org }
      },
    })
    expect(provider).type.toBe<Provider<OrgClaims>>()
    expect(provider.getUid).type.toBe<(payload: OrgClaims) => string>()
  })

  test('every member sees that type; a claim it lacks is an error', () => {
    expect(defineProvider<OrgClaims>).type.not.toBeCallableWith({
      name: 'org',
      getPayload: async () => ({ sub: 'a', org: 'acme', exp: 0 }),
      getUid: (payload: OrgClaims & { tenant?: never }) => payload.tenant,
    })
    expect(defineProvider<OrgClaims>).type.not.toBeCallableWith({
      name: 'org',
      getPayload: async () => ({ sub: 'a', org: 'acme', exp: 0 }),
      getTtl: () => '60s',
    })
  })

  test('without a payload type it defaults to standard claims', () => {
    expect(defineProvider({ name: 'x', getPayload: async (): Promise<Claims> => ({ sub: 'a' }) })).type.toBe<Provider<Claims>>()
  })

  test('name and getPayload are required, the rest have defaults', () => {
    expect(defineProvider).type.toBeCallableWith({ name: 'x', getPayload: async () => ({}) })
    expect(defineProvider).type.not.toBeCallableWith({ getPayload: async () => ({}) })
    expect(defineProvider).type.not.toBeCallableWith({ name: 'x' })
    expect(defineProvider).type.not.toBeCallableWith({ name: 'x', getPayload: async () => ({}), clockTolerance: '5s' })
  })
})

describe('the Provider interface', () => {
  test('has seven required members and optional lifecycle ones', () => {
    type Required = { [K in keyof Provider as object extends Pick<Provider, K> ? never : K]: Provider[K] }
    expect<keyof Required>().type.toBe<
      'name' | 'getPayload' | 'validToken' | 'getUid' | 'getCredentials' | 'getInfo' | 'getExtra' | 'getTtl'
    >()
    expect<Provider['ready']>().type.toBe<((ctx: { log: Logger }) => Promise<void>) | undefined>()
    expect<Provider['getPayload']>().type.toBe<(token: string, ctx: ProviderContext) => Promise<Claims>>()
  })

  test('built-in providers are providers, and tokenAuth takes any of them', () => {
    const providers = [
      testProvider({ tokens: {} }),
      jwtProvider({ issuer: 'https://idp.test/', audience: 'api' }),
      introspectionProvider({ endpoint: 'https://idp.test/introspect', clientId: 'a', clientSecret: 'b' }),
    ]
    for (const provider of providers) expect(tokenAuth('t', provider)).type.toBe<Promise<Auth | AuthFailure>>()
    expect(tokenAuth).type.not.toBeCallableWith('t', { name: 'half', getPayload: async () => ({}) })
  })

  test('jwtProvider: validate may be async; requireExp is a boolean', () => {
    expect(jwtProvider).type.toBeCallableWith({ issuer: 'https://idp.test/', audience: 'api', validate: async () => {} })
    expect(jwtProvider).type.toBeCallableWith({ issuer: 'https://idp.test/', audience: 'api', validate: () => {}, requireExp: false })
    expect(jwtProvider).type.not.toBeCallableWith({ issuer: 'https://idp.test/', audience: 'api', validate: async () => 'ok' as const })
    expect(jwtProvider).type.not.toBeCallableWith({ issuer: 'https://idp.test/', audience: 'api', requireExp: 'no' })
  })
})
