// Cache namespaces: the identity of a provider's acceptance rules. A cached or shared answer is
// reused only by a provider that would have given the same answer, so the namespace is derived
// from every rule a provider applies. Where a rule is a function of the user's (validate, map),
// the library cannot tell two apart and does not guess: such a provider's namespace is local to
// its object unless the user names it, and a shared store refuses a local namespace.
import { hash, randomBytes } from 'node:crypto'
import type { Provider } from './provider.js'

/** The user's functions among a provider's rules, recorded by the provider that took them. */
const userRules = new WeakMap<object, readonly unknown[]>()
/** Namespaces of providers whose rules cannot be named: unique to the object, in this process only. */
const localNamespaces = new WeakMap<object, string>()
const LOCAL = '~local:'

/** JSON with sorted keys, so that equal rules give equal text whatever the order they were written in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, member]) => member !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([name, member]) => `${JSON.stringify(name)}:${canonical(member)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export interface NamespaceParts {
  /** The kind of provider: `jwt`, `introspection`, `userinfo`, a preset's name. */
  kind: string
  /** Every declarative rule (issuer, audience, algorithms, typ, required claims, mapping…): plain data. */
  rules: unknown
  /** The user's functions among the rules (undefined members are ignored). */
  functions?: readonly unknown[]
  /** The namespace the user gave, if any: required for sharing when there are functions. */
  namespace?: string | undefined
}

/**
 * A provider's namespace: a digest of its rules, plus the user's name when given. Undefined when
 * the user's functions are among the rules and no name was given (see namespaceOf).
 */
export function deriveNamespace({ kind, rules, functions = [], namespace }: NamespaceParts): string | undefined {
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length === 0)) throw new TypeError(`${kind}Provider: namespace must be a non-empty string`)
  const digest = hash('sha256', canonical(rules), 'base64url').slice(0, 22)
  if (namespace !== undefined) return `${kind}:${digest}:${namespace}`
  return functions.some((member) => member !== undefined) ? undefined : `${kind}:${digest}`
}

/** Options as rules: plain data kept, the user's functions (anywhere inside) taken out and listed, other objects named by class. */
function splitRules(value: unknown, functions: unknown[]): unknown {
  if (typeof value === 'function') {
    functions.push(value)
    return `[function ${functions.length}]`
  }
  if (Array.isArray(value)) return value.map((member) => splitRules(member, functions))
  if (value !== null && typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value) as object | null
    if (prototype !== Object.prototype && prototype !== null) return `[${(value as { constructor?: { name?: string } }).constructor?.name ?? 'object'}]`
    return Object.fromEntries(Object.entries(value).map(([name, member]) => [name, splitRules(member, functions)]))
  }
  return value
}

/**
 * A provider's namespace from its options: every option is a rule except those in `omit` (how it
 * fetches: dispatchers, timeouts, secrets), read over its `defaults` (so that a default written
 * out names the same rules), and the user's functions among them are recorded.
 */
export function providerNamespace(kind: string, options: object, omit: readonly string[], defaults: object = {}): { namespace: string | undefined; functions: unknown[] } {
  const functions: unknown[] = []
  const given = Object.entries(options).filter(([name, value]) => value !== undefined && name !== 'namespace' && !omit.includes(name))
  const kept = { ...defaults, ...Object.fromEntries(given) }
  const rules = splitRules(kept, functions)
  const namespace = deriveNamespace({ kind, rules, functions, namespace: (options as { namespace?: string }).namespace })
  return { namespace, functions }
}

/** Records the user's functions a provider applies, for the check that two providers sharing a namespace apply the same. */
export function recordUserRules<T extends object>(provider: T, functions: readonly unknown[]): T {
  userRules.set(provider, functions.filter((member) => member !== undefined))
  return provider
}

/** The namespace a provider's entries live under: its own, or one unique to the object. */
export function namespaceOf(provider: Provider<unknown>): string {
  if (provider.namespace !== undefined) return provider.namespace
  let local = localNamespaces.get(provider)
  if (local === undefined) localNamespaces.set(provider, (local = `${provider.name}${LOCAL}${randomBytes(12).toString('base64url')}`))
  return local
}

export function isLocalNamespace(namespace: string): boolean {
  return namespace.includes(LOCAL)
}

function sameRules(a: object, b: object): boolean {
  const left = userRules.get(a) ?? []
  const right = userRules.get(b) ?? []
  return left.length === right.length && left.every((member, i) => member === right[i])
}

/**
 * Takes a namespace in a cache for a provider: refused when another provider object already
 * holds it there with other functions of the user's (two registrations that would serve each
 * other's answers), or when the cache is shared across a fleet and the namespace is local.
 */
export function claimNamespace(namespaces: Map<string, WeakRef<object>>, shared: boolean, provider: Provider<unknown>, path: string): string {
  const namespace = namespaceOf(provider)
  if (shared && isLocalNamespace(namespace)) {
    throw new TypeError(`${path}: a shared store needs a provider namespace that is the same on every instance, but provider "${provider.name}" applies functions of yours (validate, map, or its own getPayload) that the library cannot compare: give it a namespace option naming these rules`)
  }
  const holder = namespaces.get(namespace)?.deref()
  if (holder !== undefined && holder !== provider && !sameRules(holder, provider)) {
    throw new TypeError(`${path}: provider "${provider.name}" claims the namespace "${namespace}" that another provider with other functions already uses in this cache: they would serve each other's answers; give them different namespaces, or use one provider object`)
  }
  if (holder === undefined) namespaces.set(namespace, new WeakRef(provider))
  return namespace
}
