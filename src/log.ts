// Logging helpers: a silent default logger, error descriptions scrubbed of the token (a provider's
// error message may quote what it was given, as is, percent-encoded or decoded), and URLs with
// their token-bearing query parameters redacted, however the parameter's name is spelled.
import type { Logger } from './provider.js'

const noop = (): void => {}
export const SILENT_LOGGER: Logger = Object.freeze({ trace: noop, debug: noop, info: noop, warn: noop, error: noop })

const REDACTED = '[token redacted]'

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** `%2F` in either hex case: `%2[Ff]`. */
function percentPattern(byte: number): string {
  const hex = byte.toString(16).toUpperCase().padStart(2, '0')
  return `%${[...hex].map((digit) => (/[A-F]/.test(digit) ? `[${digit}${digit.toLowerCase()}]` : digit)).join('')}`
}

/**
 * The token percent-encoded by any encoder: each character as is or as its %XX bytes (hex in
 * either case), a space also as `+`. One pattern covers encodeURIComponent, URLSearchParams and
 * encoders that leave `/` or `=` alone.
 */
function percentEncodedPattern(token: string): RegExp {
  let pattern = ''
  for (const char of token) {
    const alternatives = [escapeRegExp(char), [...Buffer.from(char, 'utf8')].map(percentPattern).join('')]
    if (char === ' ') alternatives.push('\\+')
    pattern += `(?:${alternatives.join('|')})`
  }
  return new RegExp(pattern, 'g')
}

/** Shortest decoded text worth looking for: shorter ones would match ordinary words. */
const MIN_DECODED_LENGTH = 8

/** What a base64 or base64url token decodes to, when that is readable text (a provider may quote it decoded). */
function decodedText(token: string): string | undefined {
  if (token.length < MIN_DECODED_LENGTH || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(token)) return undefined
  const encoding = /[-_]/.test(token) ? 'base64url' : 'base64'
  const bytes = Buffer.from(token, encoding)
  if (bytes.toString(encoding).replace(/=+$/, '') !== token.replace(/=+$/, '')) return undefined
  const text = bytes.toString('utf8')
  // eslint-disable-next-line no-control-regex -- binary (random) tokens decode to control characters
  return text.length >= MIN_DECODED_LENGTH && !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text) ? text : undefined
}

/**
 * Removes every occurrence of the token from a text: as is, percent-encoded (any subset of its
 * characters, either hex case, `+` for a space), and base64-decoded when the token is base64 text.
 */
export function scrub(text: string, token: string): string {
  if (token.length === 0) return text
  let scrubbed = text.includes(token) ? text.split(token).join(REDACTED) : text
  if (scrubbed.includes('%') || (token.includes(' ') && scrubbed.includes('+'))) scrubbed = scrubbed.replace(percentEncodedPattern(token), REDACTED)
  const decoded = decodedText(token)
  if (decoded !== undefined && scrubbed.includes(decoded)) scrubbed = scrubbed.split(decoded).join(REDACTED)
  return scrubbed
}

/** Whether a text quotes the token in any form scrub() removes: such a text is never shown to a client. */
export function mentionsToken(text: string, token: string): boolean {
  return scrub(text, token) !== text
}

/** A loggable description of an error: name, code, message and cause chain, minus the token. */
export function describeError(err: unknown, token: string): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: scrub(String(err), token) }
  const described: Record<string, unknown> = { name: err.name, message: scrub(err.message, token) }
  const code = (err as { code?: unknown }).code
  if (code !== undefined) described.code = code
  const detail = (err as { detail?: unknown }).detail
  if (typeof detail === 'string') described.detail = scrub(detail, token)
  if (err.cause !== undefined) described.cause = describeError(err.cause, token)
  return described
}

/** A short, non-reversible handle on a token for correlating log lines: a prefix of its cache key. */
export function fingerprint(key: string): string {
  return key.slice(0, 12)
}

// RFC 6750 §2.3 tokens and connection tickets in a URL would reach the access log.
const URL_SECRETS = new Set(['access_token', 'ticket'])

/** A query parameter's name as a query parser reads it: percent-decoded; compared in any case. */
function parameterName(raw: string): string {
  return raw.replace(/%([0-9a-f]{2})/gi, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16))).toLowerCase()
}

/**
 * The URL with the value of any `access_token` or `ticket` query parameter replaced, whatever the
 * case or percent-encoding of its name (`?%61ccess_token=`, `access%5Ftoken=`, `TICKET=`).
 */
export function redactUrl(url: string): string {
  const start = url.indexOf('?')
  if (start === -1 || !url.includes('=', start)) return url
  const hash = url.indexOf('#', start)
  const end = hash === -1 ? url.length : hash
  const query = url.slice(start + 1, end).split('&').map((pair) => {
    const equals = pair.indexOf('=')
    return equals !== -1 && URL_SECRETS.has(parameterName(pair.slice(0, equals))) ? `${pair.slice(0, equals)}=[redacted]` : pair
  })
  return `${url.slice(0, start + 1)}${query.join('&')}${url.slice(end)}`
}

interface LoggableRequest {
  method: string
  url: string
  host?: string
  ip?: string
  headers?: Record<string, unknown>
  socket?: { remotePort?: number }
}

/**
 * Fastify's default `req` log serializer with the URL redacted. Use it when `allowQuery` is on:
 * `Fastify({ logger: { serializers: logSerializers } })`.
 */
export const logSerializers = Object.freeze({
  req(request: LoggableRequest): Record<string, unknown> {
    return {
      method: request.method,
      url: redactUrl(request.url),
      version: request.headers?.['accept-version'],
      host: request.host,
      remoteAddress: request.ip,
      remotePort: request.socket?.remotePort,
    }
  },
})
