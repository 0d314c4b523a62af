// What every preset takes besides its own settings, checked once: unknown options refused, numbers
// in range, and the user's `clockTolerance`, `validate` and `map` passed through to the generic
// provider, after the preset's own checks and over its own mapping.
import type { JWTPayload } from 'jose'
import type { Dispatcher } from 'undici'
import type { Claims } from '../../src/claims.js'
import type { ProviderDefinition } from '../../src/provider.js'
import type { JwtProviderOptions } from '../jwt.js'
import { providerNamespace } from '../../src/namespace.js'
import { checkCommonNumbers, checkFunction, checkKnownOptions } from '../option-checks.js'

/** Options every preset takes. */
export interface PresetOptions<P = Claims> extends CommonPresetOptions<P> {
  /** Extra checks on the claims, after the preset's own; throw InvalidTokenError to refuse. May be async. */
  validate?: (claims: P) => void | Promise<void>
}

interface CommonPresetOptions<P> {
  /** Provider name (Auth.provider, cache namespace). Default: the preset's name. */
  name?: string
  /** Deadline of one call to the identity provider, in ms (1 to 600,000). Default 5,000. */
  timeout?: number
  /** An undici Dispatcher for every call. Default: a keep-alive pool per origin. */
  dispatcher?: Dispatcher
  /** Overrides of the claim mapping, over the preset's own (getUid, getCredentials, getInfo…). */
  map?: Partial<Omit<ProviderDefinition<P>, 'name' | 'getPayload'>>
  /**
   * Names this provider's rules for caches shared across registrations or a fleet: needed with a
   * shared store when `validate` or `map` is given. Default: derived from the preset's options.
   */
  namespace?: string
}

/** Options of the presets over the jwt provider. */
export interface JwtPresetOptions extends CommonPresetOptions<JWTPayload> {
  /** Extra checks on the verified claims, after the preset's own: jwtProvider's `validate`. */
  validate?: JwtProviderOptions['validate']
  /** The JWKS URL. Default: the identity provider's published one (from discovery or known). */
  jwksUri?: string
  /** Seconds of clock skew allowed on exp, nbf and iat (0 to 600). Default 5. */
  clockTolerance?: number
}

/** Options of the presets over introspection (or another provider that reads exp). */
export interface IntrospectionPresetOptions extends PresetOptions {
  /** How long an active answer is trusted, in ms (0 to 86,400,000). Default 60,000. */
  ttl?: number
  /** Seconds of clock skew allowed on exp and nbf (0 to 600). Default 5. */
  clockTolerance?: number
}

export const PRESET_OPTIONS = ['name', 'timeout', 'dispatcher', 'validate', 'map', 'namespace'] as const
export const JWT_PRESET_OPTIONS = [...PRESET_OPTIONS, 'jwksUri', 'clockTolerance'] as const
export const INTROSPECTION_PRESET_OPTIONS = [...PRESET_OPTIONS, 'ttl', 'clockTolerance'] as const

/**
 * A preset's rules: its options (the functions it builds from them are its own, fixed by them),
 * and the user's functions among them (`validate`, `map`), which the provider is recorded with.
 */
export interface PresetRules {
  namespace: string | undefined
  functions: unknown[]
}

/**
 * Checks a preset's options object (its own names plus the shared ones, and the shared numbers)
 * and returns its rules: pass `namespace` to the provider underneath and record its `functions`.
 */
export function checkPresetOptions(options: unknown, path: string, known: readonly string[]): PresetRules {
  if (options === null || typeof options !== 'object') throw new TypeError(`${path}: options must be an object`)
  checkKnownOptions(options, known, path, { mapping: 'map' })
  const { validate, map } = options as PresetOptions
  checkFunction(validate, `${path}: validate`)
  if (map !== undefined && (map === null || typeof map !== 'object')) throw new TypeError(`${path}: map must be an object of mapping functions`)
  checkCommonNumbers(options, path)
  return providerNamespace(path, options, ['dispatcher', 'timeout', 'clientSecret'])
}

/** The preset's check, then the user's (whose result is returned, for the provider to await). */
export function bothChecks<P, R>(own: (claims: P) => void, user: ((claims: P) => R) | undefined): (claims: P) => R | void {
  if (user === undefined) return own
  return (claims) => {
    own(claims)
    return user(claims)
  }
}

/**
 * A host name with an optional port (a tenant's domain), or a single label (a tenant id): nothing
 * that would change the URL built from it.
 */
export function hostName(value: unknown, path: string, example = 'a host name such as acme.example.com'): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${path} is required`)
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/.test(value)) {
    throw new TypeError(`${path} must be ${example}, without scheme, path, query or userinfo`)
  }
  return value
}
