// Claim-mapping helpers shared by the presets: identity providers put permissions, roles and
// groups in their own claims; the presets fold them into `credentials.scopes` so that routes can
// require them like scopes.
import type { Credentials } from '../../src/auth.js'
import type { Claims } from '../../src/claims.js'
import { standardCredentials } from '../../src/provider.js'

/** The strings of an array claim (anything else: none). */
export function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string' && item.length > 0) : []
}

/** Standard credentials with more scopes added (deduplicated, in order). */
export function credentialsWith(claims: Claims, extraScopes: string[], other: Record<string, unknown> = {}): Omit<Credentials, 'token'> {
  const credentials = standardCredentials(claims)
  credentials.scopes = [...new Set([...credentials.scopes, ...extraScopes])]
  Object.assign(credentials.other, other)
  return credentials
}

/** A non-empty string option, or a TypeError naming it. */
export function required(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${path} is required`)
  return value
}
