// Logging helpers: a silent default logger, and error descriptions scrubbed of the token, since
// a provider's error message may quote what it was given.
import type { Logger } from './provider.js'

const noop = (): void => {}
export const SILENT_LOGGER: Logger = Object.freeze({ trace: noop, debug: noop, info: noop, warn: noop, error: noop })

const REDACTED = '[token redacted]'

/** Removes every occurrence of the token from a text. */
export function scrub(text: string, token: string): string {
  return token.length > 0 && text.includes(token) ? text.split(token).join(REDACTED) : text
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

// RFC 6750 §2.3 tokens (and, later, connection tickets) in a URL would reach the access log.
const URL_SECRETS = /([?&](?:access_token|ticket)=)[^&#]*/gi

/** The URL with any `access_token` (or `ticket`) query value replaced. */
export function redactUrl(url: string): string {
  return url.includes('=') ? url.replace(URL_SECRETS, '$1[redacted]') : url
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
