// Several identity providers behind one API: a JWT goes to the provider of its `iss` (read
// before verification, only to choose; that provider alone verifies it), an unknown issuer is
// refused without any network call, and opaque tokens try the opaque providers in order.
import type { Credentials, Extra, Info } from './auth.js'
import { InvalidTokenError, isInvalidTokenError, isProviderUnavailableError } from './errors.js'
import { deriveNamespace, recordUserRules } from './namespace.js'
import { assertProvider, DEFAULT_CLOCK_TOLERANCE, type AnyProvider, type Provider } from './provider.js'

/** A payload with the provider that produced it, so that its own mapping reads it. */
export interface RoutedPayload {
  provider: Provider<unknown>
  payload: unknown
}

/** The `iss` of a compact JWS, undecoded signature unchecked; undefined for anything else. */
export function unverifiedIssuer(token: string): string | undefined {
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  if (first <= 0 || second === -1 || token.indexOf('.', second + 1) !== -1) return undefined
  try {
    const claims = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8')) as { iss?: unknown } | null
    return typeof claims?.iss === 'string' ? claims.iss : undefined
  } catch {
    return undefined
  }
}

/**
 * One provider standing for several: `[jwtA, jwtB, introspection]` (JWT providers are routed by
 * their `issuer`) or `{ [iss]: provider }`.
 */
export function multiIssuer(providers: AnyProvider[] | Record<string, AnyProvider>, path = 'provider'): Provider<RoutedPayload> {
  const byIssuer = new Map<string, Provider<unknown>>()
  const opaque: Array<Provider<unknown>> = []
  const entries: Array<[string | undefined, AnyProvider]> = Array.isArray(providers)
    ? providers.map((provider) => [(provider as { issuer?: string }).issuer, provider])
    : Object.entries(providers)
  if (entries.length === 0) throw new TypeError(`${path} must name at least one provider`)
  entries.forEach(([issuer, provider], i) => {
    assertProvider(provider, `${path}[${i}]`)
    if (issuer === undefined) opaque.push(provider)
    else if (byIssuer.has(issuer)) throw new TypeError(`${path}: two providers for the issuer ${issuer}`)
    else byIssuer.set(issuer, provider)
  })
  const all = entries.map(([, provider]) => provider as Provider<unknown>)

  async function tryOpaque(token: string, ctx: Parameters<AnyProvider['getPayload']>[1]): Promise<RoutedPayload> {
    let outage: unknown
    for (const provider of opaque) {
      try {
        const payload = await provider.getPayload(token, ctx)
        if ((await provider.validToken(token, payload, ctx)) === true) return { provider, payload }
      } catch (err) {
        if (isProviderUnavailableError(err)) outage ??= err
        else if (!isInvalidTokenError(err)) throw err
      }
    }
    // Refused by every provider that could answer; if one could not, this is an outage, not a verdict.
    throw (outage as Error | undefined) ?? new InvalidTokenError()
  }

  // Its rules are its providers' and their routing: named only when each of them is.
  const named = all.every((provider) => provider.namespace !== undefined)
  const multi: Provider<RoutedPayload> = {
    name: 'multi-issuer',
    namespace: named ? deriveNamespace({ kind: 'multi', rules: entries.map(([issuer, provider]) => [issuer ?? null, provider.namespace]) }) : undefined,
    // The widest skew any of them accepts, and never less than the default: a uid's revocation
    // must cover all their tokens.
    clockTolerance: Math.max(DEFAULT_CLOCK_TOLERANCE, ...all.map((provider) => provider.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE)),
    async getPayload(token, ctx) {
      const issuer = unverifiedIssuer(token)
      if (issuer !== undefined) {
        const provider = byIssuer.get(issuer)
        if (provider !== undefined) return { provider, payload: await provider.getPayload(token, ctx) }
        if (opaque.length === 0 || byIssuer.size > 0) {
          throw new InvalidTokenError('The access token is from an unknown issuer', { detail: `iss ${issuer}` })
        }
      }
      if (opaque.length === 0) throw new InvalidTokenError('The access token is not a JWT of a known issuer')
      return tryOpaque(token, ctx)
    },
    // Opaque candidates were checked while choosing; a routed JWT is checked by its provider here.
    validToken: (token, routed, ctx) => (opaque.includes(routed.provider) ? true : routed.provider.validToken(token, routed.payload, ctx)),
    getUid: (routed) => routed.provider.getUid(routed.payload),
    getCredentials: (routed): Omit<Credentials, 'token'> => routed.provider.getCredentials(routed.payload),
    getInfo: (routed): Info => routed.provider.getInfo(routed.payload),
    getExtra: (routed): Extra => routed.provider.getExtra(routed.payload),
    getTtl: (routed) => routed.provider.getTtl(routed.payload),
    nameOf: (routed) => routed.provider.name,
    async ready(ctx) {
      await Promise.all(all.map(async (provider) => provider.ready?.(ctx)))
    },
    async close() {
      await Promise.all(all.map(async (provider) => provider.close?.()))
    },
  }
  return recordUserRules(multi, all)
}
