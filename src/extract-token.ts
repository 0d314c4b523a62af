// RFC 6750 §2: pulls a bearer token out of the Authorization header (§2.1) and, when allowed,
// the `access_token` query parameter (§2.3). One pass, no backtracking, no Fastify types.
import type { FailureKey } from './errors.js'

export interface ExtractOptions {
  /** Longest token accepted, in characters. */
  maxTokenLength: number
  /** Accept `?access_token=` (RFC 6750 §2.3). Tokens in URLs end up in logs: off by default. */
  allowQuery: boolean
  /** Also accept `Authorization: DPoP <token>` (RFC 9449 §7.1). */
  dpop?: boolean
}

export interface ExtractInput {
  /** The first Authorization header, as Node keeps it in `req.headers`. */
  authorization: string | undefined
  /** Node's `req.rawHeaders`, which keeps every duplicate. */
  rawHeaders?: readonly string[]
  /** The parsed query string. */
  query?: unknown
}

export interface ExtractFailure {
  readonly key: Extract<FailureKey, 'missing_token' | 'invalid_request'>
  readonly description: string
}

/** A token, or why there is none. */
export type ExtractResult = string | ExtractFailure

function failure(key: ExtractFailure['key'], description: string): ExtractFailure {
  return Object.freeze({ key, description })
}

// Frozen and shared: extraction failures allocate nothing per request.
export const NO_TOKEN = failure('missing_token', 'An access token is required')
export const SCHEME_ONLY = failure('invalid_request', 'The Bearer scheme carries no token')
export const BAD_SEPARATOR = failure('invalid_request', 'The Bearer scheme must be followed by a space')
export const MALFORMED = failure('invalid_request', 'The access token is not a valid b64token')
export const TOO_LONG = failure('invalid_request', 'The access token is too long')
export const DUPLICATE_HEADER = failure('invalid_request', 'More than one Authorization header was sent')
export const TWO_WAYS = failure('invalid_request', 'The access token was sent in more than one way')
export const BAD_QUERY = failure('invalid_request', 'The access_token parameter must appear once')

// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
// The two parts share no character, so the match is linear.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

function isTokenScheme(value: string, end: number, dpop: boolean): boolean {
  if (end === 6) return value.slice(0, 6).toLowerCase() === 'bearer'
  return dpop && end === 4 && value.slice(0, 4).toLowerCase() === 'dpop'
}

/** Whether an Authorization header uses the DPoP scheme. */
export function usesDpopScheme(authorization: string | undefined): boolean {
  return typeof authorization === 'string' && authorization.length > 5 && authorization.charCodeAt(4) === 0x20 && authorization.slice(0, 4).toLowerCase() === 'dpop'
}

/** How many times a header (lower-case name) appears in Node's rawHeaders, duplicates included. */
export function countHeader(rawHeaders: readonly string[], name: string): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const candidate = rawHeaders[i]
    if (candidate !== undefined && candidate.length === name.length && candidate.toLowerCase() === name) count++
  }
  return count
}

/** Checks a token already taken from its carrier against the b64token grammar and the length cap. */
export function checkToken(token: string, maxTokenLength: number): ExtractResult {
  if (token.length > maxTokenLength) return TOO_LONG
  return B64TOKEN.test(token) ? token : MALFORMED
}

/** Reads `Authorization: Bearer <token>`: a token, NO_TOKEN for another scheme, or a failure. */
function fromHeader(value: string, options: ExtractOptions): ExtractResult {
  // Node trims surrounding whitespace; the scheme ends at the first space or tab.
  let end = 0
  while (end < value.length && value.charCodeAt(end) !== 0x20 && value.charCodeAt(end) !== 0x09) end++
  if (!isTokenScheme(value, end, options.dpop === true)) return NO_TOKEN
  if (end === value.length) return SCHEME_ONLY
  if (value.charCodeAt(end) !== 0x20) return BAD_SEPARATOR
  let start = end
  while (start < value.length && value.charCodeAt(start) === 0x20) start++
  if (start === value.length) return SCHEME_ONLY
  return checkToken(value.slice(start), options.maxTokenLength)
}

function fromQuery(query: unknown): unknown {
  if (query === null || typeof query !== 'object') return undefined
  // Own property only: `__proto__` and friends must not pose as a token.
  return Object.hasOwn(query, 'access_token') ? (query as Record<string, unknown>).access_token : undefined
}

/** The bearer token of a request, or the reason there is none. Never throws. */
export function extractToken(input: ExtractInput, options: ExtractOptions): ExtractResult {
  let fromAuthorization: ExtractResult = NO_TOKEN
  if (typeof input.authorization === 'string') {
    if (input.rawHeaders !== undefined && countHeader(input.rawHeaders, 'authorization') > 1) return DUPLICATE_HEADER
    fromAuthorization = fromHeader(input.authorization, options)
    if (typeof fromAuthorization !== 'string' && fromAuthorization !== NO_TOKEN) return fromAuthorization
  }
  if (!options.allowQuery) return fromAuthorization
  const queryValue = fromQuery(input.query)
  if (queryValue === undefined) return fromAuthorization
  if (typeof fromAuthorization === 'string') return TWO_WAYS
  if (typeof queryValue !== 'string') return BAD_QUERY
  if (queryValue.length === 0) return MALFORMED
  return checkToken(queryValue, options.maxTokenLength)
}

export function isExtractFailure(result: ExtractResult): result is ExtractFailure {
  return typeof result !== 'string'
}
