// RFC 6750 §2: pulls a bearer token out of the Authorization header (§2.1) and, when allowed, a
// form-encoded body's `access_token` (§2.2) or the `access_token` query parameter (§2.3); one way
// per request. One pass, no backtracking, no Fastify types.
import type { FailureKey } from './errors.js'

export interface ExtractOptions {
  /** Longest token accepted, in characters. */
  maxTokenLength: number
  /** Accept `?access_token=` (RFC 6750 §2.3). Tokens in URLs end up in logs: off by default. */
  allowQuery: boolean
  /** Also accept `Authorization: DPoP <token>` (RFC 9449 §7.1). */
  dpop?: boolean
  /** Accept `access_token` in an `application/x-www-form-urlencoded` body (RFC 6750 §2.2). */
  allowBody?: boolean
}

export interface ExtractInput {
  /** The first Authorization header, as Node keeps it in `req.headers`. */
  authorization: string | undefined
  /** Node's `req.rawHeaders`, which keeps every duplicate. */
  rawHeaders?: readonly string[]
  /** The parsed query string. */
  query?: unknown
  /** The parsed body of a form-encoded request (the caller checked the content type and method). */
  body?: unknown
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
export const BAD_BODY = failure('invalid_request', 'The access_token body parameter must appear once')

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

/** The `access_token` member of a parsed query or form body, if it has one. */
function accessTokenOf(parsed: unknown): unknown {
  if (parsed === null || typeof parsed !== 'object') return undefined
  // Own property only: `__proto__` and friends must not pose as a token.
  return Object.hasOwn(parsed, 'access_token') ? (parsed as Record<string, unknown>).access_token : undefined
}

/** A parameter's value as a token: one non-empty string of the grammar. */
function fromParameter(value: unknown, repeated: ExtractFailure, maxTokenLength: number): ExtractResult {
  if (typeof value !== 'string') return repeated
  if (value.length === 0) return MALFORMED
  return checkToken(value, maxTokenLength)
}

/** The bearer token of a request, or the reason there is none. Never throws. */
export function extractToken(input: ExtractInput, options: ExtractOptions): ExtractResult {
  let fromAuthorization: ExtractResult = NO_TOKEN
  if (typeof input.authorization === 'string') {
    if (input.rawHeaders !== undefined && countHeader(input.rawHeaders, 'authorization') > 1) return DUPLICATE_HEADER
    fromAuthorization = fromHeader(input.authorization, options)
    if (typeof fromAuthorization !== 'string' && fromAuthorization !== NO_TOKEN) return fromAuthorization
  }
  const queryValue = options.allowQuery ? accessTokenOf(input.query) : undefined
  const bodyValue = options.allowBody === true ? accessTokenOf(input.body) : undefined
  const ways = (typeof fromAuthorization === 'string' ? 1 : 0) + (queryValue === undefined ? 0 : 1) + (bodyValue === undefined ? 0 : 1)
  if (ways > 1) return TWO_WAYS
  if (queryValue !== undefined) return fromParameter(queryValue, BAD_QUERY, options.maxTokenLength)
  if (bodyValue !== undefined) return fromParameter(bodyValue, BAD_BODY, options.maxTokenLength)
  return fromAuthorization
}

/** Whether a request may carry its token in a form body (RFC 6750 §2.2): not GET, form-encoded, one part. */
export function hasFormBody(method: string, contentType: string | undefined): boolean {
  if (method === 'GET' || method === 'HEAD' || typeof contentType !== 'string') return false
  const semicolon = contentType.indexOf(';')
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() === 'application/x-www-form-urlencoded'
}

export function isExtractFailure(result: ExtractResult): result is ExtractFailure {
  return typeof result !== 'string'
}
