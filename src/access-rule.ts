// What a route asks of an authenticated credential, after the peers (express-oauth2-jwt-bearer's
// requiredScopes, scopeIncludesAny, claimEquals, claimIncludes, claimCheck): every scope of
// `scopes`, one of `anyScopes` (403 insufficient_scope), claims equal to or including values, and a
// predicate of yours (401 invalid_token). Checked on every request, cache hit or not: the cache
// holds claims, never this decision.
import { buildFailure, type Auth, type AuthFailure } from './auth.js'
import { describeError } from './log.js'
import type { Logger } from './provider.js'

/** A claim's expected value: equal to it, or (for an array or space-separated claim) including every one of `includes`. */
export type ClaimRule = string | number | boolean | { equals: string | number | boolean } | { includes: Array<string | number> }

export interface AccessRuleConfig {
  /** Scopes the token must all carry (403 insufficient_scope otherwise). */
  scopes?: string[]
  /** Scopes of which the token must carry at least one (403 insufficient_scope otherwise). */
  anyScopes?: string[]
  /** Claims of the token (its payload) the route requires: `{ tenant: 'acme', roles: { includes: ['admin'] } }` (401 invalid_token otherwise). */
  claims?: Record<string, ClaimRule>
  /** A check of yours on the Auth, awaited; false (or a throw) refuses the request with 401 invalid_token. */
  check?: (auth: Auth) => boolean | Promise<boolean>
}

interface CompiledClaim {
  readonly name: string
  readonly equals?: string | number | boolean
  readonly includes?: ReadonlyArray<string | number>
}

export interface AccessRule {
  readonly scopes: readonly string[]
  readonly anyScopes?: readonly string[]
  readonly claims?: readonly CompiledClaim[]
  readonly check?: (auth: Auth) => boolean | Promise<boolean>
}

export const NO_RULE: AccessRule = Object.freeze({ scopes: Object.freeze([]) })
export const ACCESS_RULE_KEYS = ['scopes', 'anyScopes', 'claims', 'check'] as const

function scopeList(value: unknown, path: string): readonly string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((scope) => typeof scope === 'string' && scope.length > 0)) {
    throw new TypeError(`${path} must be an array of non-empty strings`)
  }
  return Object.freeze([...value as string[]])
}

const isPlain = (value: unknown): value is string | number | boolean => typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))

function compileClaims(value: unknown, path: string): readonly CompiledClaim[] | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${path} must be an object of claim names and expected values`)
  return Object.freeze(Object.entries(value).map(([name, rule]): CompiledClaim => {
    if (name.length === 0) throw new TypeError(`${path}: a claim name must not be empty`)
    if (isPlain(rule)) return Object.freeze({ name, equals: rule })
    const keys = rule !== null && typeof rule === 'object' ? Object.keys(rule as object) : []
    if (keys.length === 1 && keys[0] === 'equals' && isPlain((rule as { equals: unknown }).equals)) return Object.freeze({ name, equals: (rule as { equals: string | number | boolean }).equals })
    const includes = (rule as { includes?: unknown } | null)?.includes
    if (keys.length === 1 && Array.isArray(includes) && includes.length > 0 && includes.every((item) => typeof item === 'string' || (typeof item === 'number' && Number.isFinite(item)))) {
      return Object.freeze({ name, includes: Object.freeze([...includes as Array<string | number>]) })
    }
    throw new TypeError(`${path}.${name} must be a string, number or boolean, { equals: value } or { includes: [values] }`)
  }))
}

/** Checks the access part of a rule at registration; keys beyond `known` are refused. */
export function accessRule(config: AccessRuleConfig, path: string, known: readonly string[] = ACCESS_RULE_KEYS): AccessRule {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new TypeError(`${path} must be an object`)
  for (const name of Object.keys(config)) {
    if (!known.includes(name)) throw new TypeError(`${path}: unknown key "${name}" (known: ${known.join(', ')})`)
  }
  const rule: { -readonly [K in keyof AccessRule]: AccessRule[K] } = { scopes: scopeList(config.scopes, `${path}.scopes`) ?? NO_RULE.scopes }
  const anyScopes = scopeList(config.anyScopes, `${path}.anyScopes`)
  if (anyScopes !== undefined) {
    if (anyScopes.length === 0) throw new TypeError(`${path}.anyScopes must name at least one scope`)
    rule.anyScopes = anyScopes
  }
  const claims = compileClaims(config.claims, `${path}.claims`)
  if (claims !== undefined && claims.length > 0) rule.claims = claims
  if (config.check !== undefined) {
    if (typeof config.check !== 'function') throw new TypeError(`${path}.check must be a function (auth) => boolean | Promise<boolean>`)
    rule.check = config.check
  }
  return rule
}

/** The scopes named in an insufficient_scope challenge: those the route needs. */
export function challengeScopes(rule: AccessRule): readonly string[] {
  return rule.anyScopes === undefined ? rule.scopes : [...rule.scopes, ...rule.anyScopes]
}

/** The values of a claim that may include several: an array, or a space-separated string (as `scope`). */
function valuesOf(claim: unknown): unknown[] {
  if (Array.isArray(claim)) return claim
  return typeof claim === 'string' ? claim.split(' ') : []
}

function claimHolds(rule: CompiledClaim, claims: Record<string, unknown>): boolean {
  if (!Object.hasOwn(claims, rule.name)) return false
  const claim = claims[rule.name]
  if (rule.includes === undefined) return claim === rule.equals
  const values = valuesOf(claim)
  return rule.includes.every((value) => values.includes(value))
}

function unexpected(auth: Auth, name: string): AuthFailure {
  return buildFailure(auth.provider, 'invalid_token', `Unexpected '${name}' value`, undefined, 'claim_value')
}

/** The rule on an Auth that passed every other check: the Auth, or why the route refuses it (a promise only with a check). */
export function authorize(auth: Auth, rule: AccessRule, log: Logger): Auth | AuthFailure | Promise<Auth | AuthFailure> {
  const granted = auth.credentials.scopes
  for (const scope of rule.scopes) {
    if (!granted.includes(scope)) return buildFailure(auth.provider, 'insufficient_scope', undefined, undefined, 'scope')
  }
  if (rule.anyScopes !== undefined && !rule.anyScopes.some((scope) => granted.includes(scope))) {
    return buildFailure(auth.provider, 'insufficient_scope', undefined, undefined, 'scope')
  }
  if (rule.claims !== undefined) {
    const claims = auth.extra.rawInfo
    for (const claim of rule.claims) if (!claimHolds(claim, claims)) return unexpected(auth, claim.name)
  }
  if (rule.check === undefined) return auth
  return runCheck(rule.check, auth, log)
}

async function runCheck(check: (auth: Auth) => boolean | Promise<boolean>, auth: Auth, log: Logger): Promise<Auth | AuthFailure> {
  try {
    if ((await check(auth)) === true) return auth
  } catch (err) {
    // A check of yours that throws refuses this request alone, loudly.
    // A message that quotes the token (user code may) is withheld, as a provider's is.
    log.error({ tokenAuth: { uid: auth.uid, err: describeError(err, auth.credentials.token) } }, 'the route\'s check threw; request refused')
  }
  return buildFailure(auth.provider, 'invalid_token', 'The access token does not meet this route\'s requirements', undefined, 'check')
}
