// Logging helpers: a silent default logger, error descriptions scrubbed of the token (a provider's
// error message may quote what it was given, as is, percent-encoded or decoded), and URLs with
// their token-bearing query parameters redacted, however the parameter's name is spelled.
import type { Logger } from './provider.js'

const noop = (): void => {}
export const SILENT_LOGGER: Logger = Object.freeze({ trace: noop, debug: noop, info: noop, warn: noop, error: noop })

const REDACTED = '[token redacted]'

const isHex = (code: number): boolean => (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66)

/**
 * Removes the token percent-encoded by any encoder: each of its bytes written as is or as %XX
 * (either hex case), a space also as `+`. The text is decoded once into bytes, each remembering
 * where in the text it came from; matches are cut out of the text. Linear, no pattern built from
 * the token (an 8 KiB token would overflow a regular expression, and its message would quote it).
 */
function scrubPercentEncoded(text: string, token: string): string {
  const wanted = Buffer.from(token, 'utf8').toString('latin1')
  const plusIsSpace = token.includes(' ') && !token.includes('+')
  let bytes = ''
  const from: number[] = []
  const to: number[] = []
  for (let i = 0; i < text.length;) {
    const code = text.charCodeAt(i)
    let width = 1
    let decoded: string
    if (code === 0x25 && i + 2 < text.length && isHex(text.charCodeAt(i + 1)) && isHex(text.charCodeAt(i + 2))) {
      decoded = String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16))
      width = 3
    } else if (code === 0x2b && plusIsSpace) {
      decoded = ' '
    } else if (code < 0x80) {
      decoded = text[i]!
    } else {
      const char = String.fromCodePoint(text.codePointAt(i)!)
      width = char.length
      decoded = Buffer.from(char, 'utf8').toString('latin1')
    }
    for (let k = 0; k < decoded.length; k++) {
      from.push(i)
      to.push(i + width)
    }
    bytes += decoded
    i += width
  }
  const cuts: Array<[number, number]> = []
  for (let at = bytes.indexOf(wanted); at !== -1; at = bytes.indexOf(wanted, at + wanted.length)) {
    cuts.push([from[at]!, to[at + wanted.length - 1]!])
  }
  let scrubbed = text
  for (const [start, end] of cuts.reverse()) scrubbed = `${scrubbed.slice(0, start)}${REDACTED}${scrubbed.slice(end)}`
  return scrubbed
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
  if (scrubbed.includes('%') || (token.includes(' ') && scrubbed.includes('+'))) scrubbed = scrubPercentEncoded(scrubbed, token)
  const decoded = decodedText(token)
  if (decoded !== undefined && scrubbed.includes(decoded)) scrubbed = scrubbed.split(decoded).join(REDACTED)
  return scrubbed
}

/** Shortest run of a token's letters and digits that counts as quoting it. */
const QUOTED_RUN = 16
/** Shortest token (letters and digits) looked for loosely at all. */
const MIN_LOOSE = 10

/** Letters and digits only, lower-cased, after JSON `\uXXXX` escapes are read: what survives any quoting. */
function skeleton(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})/g, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))).replace(/[^A-Za-z0-9]/g, '').toLowerCase()
}

/**
 * Whether a text holds a run of the token however it was quoted: escaped (`\/`, `\u002b`), with
 * other case, as base64url for base64 (or back), cut short. Any 16 of its letters and digits in a
 * row do; a shorter token must appear whole, and one under 10 is left to the exact forms.
 */
function quotesLoosely(text: string, token: string): boolean {
  const haystack = skeleton(text)
  const needle = skeleton(token)
  // A token this short is too likely to be any word: only its exact forms count (scrub).
  if (needle.length < MIN_LOOSE) return false
  if (needle.length <= QUOTED_RUN) return haystack.includes(needle)
  for (let i = 0; i + QUOTED_RUN <= needle.length; i++) if (haystack.includes(needle.slice(i, i + QUOTED_RUN))) return true
  return false
}

/** Whether a text quotes the token in any form, exact or loose: such a text is never shown to a client. */
export function mentionsToken(text: string, token: string): boolean {
  return token.length > 0 && (scrub(text, token) !== text || quotesLoosely(text, token))
}

const WITHHELD = '[withheld: it quoted the token]'

/** A text for the log: the token scrubbed out; withheld whole when it still quotes the token loosely. */
function loggable(text: string, token: string): string {
  const scrubbed = scrub(text, token)
  return quotesLoosely(scrubbed, token) ? WITHHELD : scrubbed
}

/** A loggable description of an error: name, code, message and cause chain, minus the token. */
export function describeError(err: unknown, token: string): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: loggable(String(err), token) }
  const described: Record<string, unknown> = { name: err.name, message: loggable(err.message, token) }
  const code = (err as { code?: unknown }).code
  if (code !== undefined) described.code = code
  const detail = (err as { detail?: unknown }).detail
  if (typeof detail === 'string') described.detail = loggable(detail, token)
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
