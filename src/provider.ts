// The provider interface (how one identity provider validates a token and maps its claims),
// defineProvider() which fills the mapping from standard claims, and the startup shape check.
import { recordUserRules } from './namespace.js'
import type { Credentials, Extra, Info } from './auth.js'
import {
  assertClaimTypes, assertTimeWindow, numericDate, otherCredentialsOf, profileOf, scopesOf, subjectOf, type Claims,
} from './claims.js'

/** A pino-compatible logger; the library logs only hashes and failure keys, never a token. */
export interface Logger {
  trace(obj: object, msg?: string): void
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface ProviderContext {
  /** Aborts when the pipeline's timeout passes; pass it to every outbound call. */
  signal: AbortSignal
  log: Logger
}

export interface Provider<P = Claims> {
  /** Names the provider in `Auth.provider` and namespaces its cache entries. */
  name: string
  /** Validates the token at its source. Throws InvalidTokenError or ProviderUnavailableError. */
  getPayload(token: string, ctx: ProviderContext): Promise<P>
  /**
   * Optional: the payload when it can be had without waiting for anything (a JWT whose key is at
   * hand), so that a miss costs no promise, timer or deadline; `undefined` to take getPayload; a
   * promise once it had to start waiting after all (it then stands for getPayload's). Throws as
   * getPayload does.
   */
  getPayloadSync?(token: string): P | PromiseLike<P> | undefined
  /** Final check on the payload (claim types, time window, required claims). May throw InvalidTokenError. */
  validToken(token: string, payload: P, ctx: ProviderContext): boolean | Promise<boolean>
  getUid(payload: P): string
  getCredentials(payload: P): Omit<Credentials, 'token'>
  getInfo(payload: P): Info
  getExtra(payload: P): Extra
  /** How long the result may be cached, in milliseconds (the cache clamps it further). */
  getTtl(payload: P): number
  /**
   * Optional: prepares the provider at registration (discovery, a first JWKS fetch). Throws only
   * for configuration errors; an unreachable identity provider must not stop the app starting.
   */
  ready?(ctx: { log: Logger }): Promise<void>
  /** Optional: releases what the provider holds (connection pools). Called when the app closes. */
  close?(): Promise<void>
  /**
   * Optional: what its cache entries are bound to besides the token (issuer, audience), so that
   * two providers sharing a cache never serve each other's results. Default: `name`.
   */
  namespace?: string
  /** Optional: the `iss` of the tokens it validates (multi-issuer routing uses it). */
  issuer?: string
  /** Optional: the provider name for `Auth.provider` when it depends on the payload (multi-issuer). */
  nameOf?(payload: P): string
  /**
   * Optional: during an outage, how long past its cache entry a good answer may still be served,
   * in ms (never past the token's exp). Default 0: off.
   */
  staleIfError?: number
  /**
   * Optional: seconds of clock skew its checks allow (an `iat` up to this far ahead is accepted).
   * A uid's revocation covers tokens issued up to this long after it, since a token issued just
   * before may carry an `iat` from a clock that runs ahead. Default 5; defineProvider sets it.
   */
  clockTolerance?: number
}

/** A provider of any payload type: providers take their payload as a parameter, so no narrower type fits them all. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProvider = Provider<any>

export type ProviderDefinition<P> = Pick<Provider<P>, 'name' | 'getPayload'> &
  Partial<Omit<Provider<P>, 'name' | 'getPayload'>>

/**
 * Builds a provider from `name` and `getPayload`; every member left out is read from standard
 * claims: uid from `sub`/`client_id`, scopes from `scope`/`scp`, expiry from `exp`, profile from
 * OIDC claims, TTL until `exp`.
 */
export const DEFAULT_CLOCK_TOLERANCE = 5

export function defineProvider<P = Claims>(definition: ProviderDefinition<P>): Provider<P> {
  const { clockTolerance = DEFAULT_CLOCK_TOLERANCE, ...members } = definition
  if (typeof clockTolerance !== 'number' || !Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw new TypeError('defineProvider: clockTolerance must be a finite number of seconds >= 0')
  }
  const provider: Provider<P> = {
    validToken: (_token, payload) => {
      assertClaimTypes(payload as Claims)
      assertTimeWindow(payload as Claims, clockTolerance)
      return true
    },
    getUid: (payload) => subjectOf(payload as Claims),
    getCredentials: (payload) => standardCredentials(payload as Claims),
    getInfo: (payload) => profileOf(payload as Claims),
    getExtra: (payload) => ({ rawInfo: payload as Claims }),
    getTtl: (payload) => ttlUntilExpiry(payload as Claims),
    ...members,
    clockTolerance,
  }
  assertProvider(provider, 'defineProvider')
  // Its functions are its rules: two providers with other functions cannot share a namespace.
  return recordUserRules(provider, Object.values(members).filter((member) => typeof member === 'function'))
}

/** Credentials from standard claims. */
export function standardCredentials(claims: Claims): Omit<Credentials, 'token'> {
  const expiresAt = numericDate(claims, 'exp')
  const credentials: Omit<Credentials, 'token'> = {
    tokenType: 'Bearer',
    expires: expiresAt !== undefined,
    scopes: scopesOf(claims),
    other: otherCredentialsOf(claims),
  }
  if (expiresAt !== undefined) credentials.expiresAt = expiresAt
  return credentials
}

/** Milliseconds until `exp`; Infinity without one (the cache's maxTtl then decides). */
export function ttlUntilExpiry(claims: Claims, nowMs = Date.now()): number {
  const exp = numericDate(claims, 'exp')
  return exp === undefined ? Infinity : exp * 1000 - nowMs
}

const PROVIDER_FUNCTIONS = ['getPayload', 'validToken', 'getUid', 'getCredentials', 'getInfo', 'getExtra', 'getTtl'] as const

/** Fails at startup, with the member's path, when an object is not a provider. */
export function assertProvider(value: unknown, path: string): asserts value is Provider<unknown> {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`${path} must be a provider object (see defineProvider)`)
  }
  const candidate = value as Record<string, unknown>
  if (typeof candidate.name !== 'string' || candidate.name.length === 0) {
    throw new TypeError(`${path}.name must be a non-empty string`)
  }
  for (const member of PROVIDER_FUNCTIONS) {
    if (typeof candidate[member] !== 'function') {
      throw new TypeError(`${path}.${member} must be a function (defineProvider fills the defaults)`)
    }
  }
  for (const member of ['ready', 'close', 'getPayloadSync', 'nameOf'] as const) {
    if (candidate[member] !== undefined && typeof candidate[member] !== 'function') {
      throw new TypeError(`${path}.${member} must be a function when present`)
    }
  }
  if (candidate.clockTolerance !== undefined && !(typeof candidate.clockTolerance === 'number' && Number.isFinite(candidate.clockTolerance) && candidate.clockTolerance >= 0)) {
    throw new TypeError(`${path}.clockTolerance must be a finite number of seconds >= 0 when present`)
  }
  if (candidate.namespace !== undefined && typeof candidate.namespace !== 'string') throw new TypeError(`${path}.namespace must be a string when present`)
  if (candidate.staleIfError !== undefined && !(typeof candidate.staleIfError === 'number' && candidate.staleIfError >= 0)) {
    throw new TypeError(`${path}.staleIfError must be a number of ms >= 0 when present`)
  }
}
