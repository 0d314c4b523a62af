// A provider for users' own test suites (like UeberauthToken.TestProvider): tokens are looked up
// in a table you give it, with the same claim mapping as every other provider.
import { defineProvider, InvalidTokenError, ProviderUnavailableError, type Claims, type Provider } from '../src/index.js'

export interface TestProviderOptions {
  /** token → payload (claims). Any other token is invalid. */
  tokens: Record<string, Claims>
  /** Provider name in `auth.provider`. Default `'test'`. */
  name?: string
  /** Seconds of clock skew allowed on exp/nbf. Default 0: a test provider is exact, unlike defineProvider's 5. */
  clockTolerance?: number
  /**
   * Names its table for caches shared across registrations or processes (a fleet test). Default:
   * none, so its entries are its own: its table may change, and the library cannot compare two.
   */
  namespace?: string
}

export interface TestProvider extends Provider<Claims> {
  /** How many times getPayload ran: assert on it to prove a cache hit or a refusal upstream. */
  readonly calls: number
  /** Simulates an identity-provider outage: while true, every call is `provider_unavailable`. */
  unavailable: boolean
  /** Adds or replaces a token (a fresh login); `undefined` removes it (a revocation). */
  setToken(token: string, payload: Claims | undefined): void
}

export function testProvider(options: TestProviderOptions): TestProvider {
  if (options === null || typeof options !== 'object' || options.tokens === null || typeof options.tokens !== 'object') {
    throw new TypeError('testProvider: options.tokens must be an object of token → payload')
  }
  // A Map, so that a token named `__proto__` or `constructor` finds nothing it was not given.
  const table = new Map<string, Claims>(Object.entries(options.tokens))
  let calls = 0
  const state = { unavailable: false }
  const provider = defineProvider<Claims>({
    name: options.name ?? 'test',
    clockTolerance: options.clockTolerance ?? 0,
    ...(options.namespace === undefined ? {} : { namespace: `test:${options.namespace}` }),
    getPayload: (token) => {
      calls++
      if (state.unavailable) return Promise.reject(new ProviderUnavailableError())
      const payload = table.get(token)
      return payload === undefined ? Promise.reject(new InvalidTokenError('The access token is unknown')) : Promise.resolve(payload)
    },
  })
  return Object.defineProperties(provider, {
    calls: { get: () => calls, enumerable: true },
    unavailable: { get: () => state.unavailable, set: (value: boolean) => { state.unavailable = value }, enumerable: true },
    setToken: {
      value(token: string, payload: Claims | undefined) {
        if (payload === undefined) table.delete(token)
        else table.set(token, payload)
      },
    },
  }) as TestProvider
}
