// Outbound HTTP for providers, over undici: every call has a deadline, a bounded body, follows
// no redirect (a client secret must never be replayed to another host), and turns every network
// failure into a ProviderUnavailableError with the undici cause kept for the log. It also tells
// an answer about the token (a 4xx: 401 invalid_token) from an outage (5xx, 429, a rate limit:
// 503): only outages count toward the circuit breaker, so a client must never be able to cause one.
import type { IncomingHttpHeaders } from 'node:http'
import { Pool, request, type Dispatcher } from 'undici'
import { channels, type FetchMessage } from './diagnostics.js'
import { InvalidTokenError, isProviderUnavailableError, ProviderUnavailableError } from './errors.js'

export interface HttpCallOptions {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** The caller's signal (the pipeline's deadline); combined with `timeout`. */
  signal?: AbortSignal
  /** This call's own deadline, in ms. */
  timeout: number
  /** Largest body read, in bytes; a larger answer is a failure. */
  maxBytes: number
  dispatcher?: Dispatcher
  /** What is being called, for messages: "introspection endpoint". */
  what: string
  /** A key set or metadata document (no token in the request): each fetch is published on `channels.fetch`. */
  document?: FetchMessage['what']
}

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  /** The parsed JSON body of a 2xx answer; undefined for any other status. */
  json: unknown
  /**
   * Of a non-2xx answer: its OAuth error code (`error` of a JSON body, RFC 6749 §5.2, or of the
   * `WWW-Authenticate` challenge, RFC 6750 §3), when it names one. For decisions and the log.
   */
  error?: string
}

export const DEFAULT_HTTP_TIMEOUT = 5_000
export const DEFAULT_MAX_BYTES = 256 * 1024

/** A keep-alive connection pool for one origin. */
export function createPool(url: string | URL): Pool {
  return new Pool(new URL(url).origin, { connections: 32, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 })
}

const boundedWait = (seconds: number): number | undefined => (Number.isFinite(seconds) ? Math.min(Math.max(Math.ceil(seconds), 1), 3600) : undefined)

/** Seconds from a Retry-After header (delta-seconds or HTTP-date), bounded to 1..3600. */
export function retryAfterOf(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const value = headers['retry-after']
  if (typeof value !== 'string' || value.length === 0) return undefined
  return boundedWait(/^\d+$/.test(value) ? Number(value) : (Date.parse(value) - now) / 1000)
}

/**
 * Whether an answer says a rate limit is spent, and for how many seconds (when it says):
 * `Retry-After` (also GitHub's secondary limits), or `X-RateLimit-Remaining: 0` with
 * `X-RateLimit-Reset` in epoch seconds (GitHub's primary limit, answered with 403 or 429).
 * Undefined for any other answer.
 */
export function rateLimitOf(answer: Pick<HttpAnswer, 'status' | 'headers'>, now = Date.now()): { retryAfter: number | undefined } | undefined {
  if (answer.status !== 403 && answer.status !== 429) return undefined
  const retryAfter = retryAfterOf(answer.headers, now)
  if (retryAfter !== undefined) return { retryAfter }
  if (answer.headers['x-ratelimit-remaining'] === '0') {
    const reset = Number(answer.headers['x-ratelimit-reset'])
    return { retryAfter: reset > 0 ? boundedWait(reset - now / 1000) : undefined }
  }
  // A 429 says it is a rate limit even without a hint.
  return answer.status === 429 ? { retryAfter: undefined } : undefined
}

function isJson(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type']
  return typeof type === 'string' && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)
}

async function readBounded(body: Dispatcher.ResponseData['body'], maxBytes: number, what: string): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > maxBytes) {
      body.destroy()
      throw new ProviderUnavailableError(`The ${what} answered with a body over ${maxBytes} bytes`, { reason: 'bad_answer' })
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Makes one call; a 2xx answer must be JSON. Throws ProviderUnavailableError on any failure to get an answer. */
export function fetchJson(url: string | URL, options: HttpCallOptions): Promise<HttpAnswer> {
  return options.document !== undefined && channels.fetch.hasSubscribers ? observed(url, options, options.document) : call(url, options)
}

/** A document fetch, published with its status or the reason it failed; the URL without query or fragment. */
async function observed(url: string | URL, options: HttpCallOptions, what: FetchMessage['what']): Promise<HttpAnswer> {
  const started = performance.now()
  const where = new URL(url)
  const message: FetchMessage = { what, url: `${where.origin}${where.pathname}`, durationMs: 0 }
  try {
    return await call(url, options, message)
  } catch (err) {
    message.error = (isProviderUnavailableError(err) ? err.reason : undefined) ?? 'network'
    throw err
  } finally {
    message.durationMs = performance.now() - started
    channels.fetch.publish(message)
  }
}

async function call(url: string | URL, options: HttpCallOptions, seen?: { status?: number }): Promise<HttpAnswer> {
  const deadline = AbortSignal.timeout(options.timeout)
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline])
  let response: Dispatcher.ResponseData
  try {
    response = await request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      body: options.body,
      signal,
      dispatcher: options.dispatcher,
      headersTimeout: options.timeout,
      bodyTimeout: options.timeout,
    })
  } catch (cause) {
    // A deadline that passed is not worth a retry; a refused or reset connection may be.
    const timedOut = signal.aborted || (cause as { code?: unknown }).code === 'UND_ERR_HEADERS_TIMEOUT'
    throw new ProviderUnavailableError(`The ${options.what} could not be reached`, { cause, retryable: !timedOut, reason: timedOut ? 'timeout' : 'network' })
  }
  const { statusCode, headers, body } = response
  if (seen !== undefined) seen.status = statusCode
  if (statusCode < 200 || statusCode > 299) {
    const error = await errorCodeOf(body, headers)
    return { status: statusCode, headers, json: undefined, ...(error === undefined ? {} : { error }) }
  }
  let text: string
  try {
    text = await readBounded(body, options.maxBytes, options.what)
  } catch (cause) {
    if (cause instanceof ProviderUnavailableError) throw cause
    throw new ProviderUnavailableError(`The ${options.what} answer was cut off`, { cause, retryable: !signal.aborted, reason: signal.aborted ? 'timeout' : 'network' })
  }
  if (!isJson(headers)) {
    throw new ProviderUnavailableError(`The ${options.what} answered ${statusCode} without JSON`, {
      cause: new Error(`content-type ${String(headers['content-type'])}`), reason: 'bad_answer',
    })
  }
  try {
    return { status: statusCode, headers, json: JSON.parse(text) as unknown }
  } catch (cause) {
    throw new ProviderUnavailableError(`The ${options.what} answered with invalid JSON`, { cause, reason: 'bad_answer' })
  }
}

/** Largest error body read for its `error` code; the rest is drained unread. */
const ERROR_BODY_BYTES = 16 * 1024
// An OAuth error code is a word (RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E); anything else is not kept.
const ERROR_CODE = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/

/** The OAuth `error` code of a non-2xx answer, from its JSON body or its challenge; drains the body. */
async function errorCodeOf(body: Dispatcher.ResponseData['body'], headers: IncomingHttpHeaders): Promise<string | undefined> {
  let code: unknown
  if (isJson(headers)) {
    try {
      code = asObject(JSON.parse(await readBounded(body, ERROR_BODY_BYTES, 'error')))?.error
    } catch {
      code = undefined
    }
  }
  // Drain (bounded) so the keep-alive socket can be reused.
  await body.dump({ limit: ERROR_BODY_BYTES }).catch(() => undefined)
  if (typeof code !== 'string') code = /\berror="([^"]*)"/.exec(String(headers['www-authenticate'] ?? ''))?.[1]
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : undefined
}

const RETRYABLE_STATUSES = new Set([500, 502, 503, 504])

/** The error for an answer whose status says the identity provider could not serve it. */
export function unexpectedStatus(answer: HttpAnswer, what: string): ProviderUnavailableError {
  const rateLimit = rateLimitOf(answer)
  if (rateLimit !== undefined) {
    return new ProviderUnavailableError(`The ${what} is rate limiting this API`, {
      retryAfter: rateLimit.retryAfter, reason: 'rate_limited', cause: new Error(`${what} answered ${answer.status}${answer.error === undefined ? '' : ` ${answer.error}`}`),
    })
  }
  const retryAfter = retryAfterOf(answer.headers)
  // A server that asks for more than a second of patience is not retried at once.
  const retryable = RETRYABLE_STATUSES.has(answer.status) && (retryAfter === undefined || retryAfter <= 1)
  return new ProviderUnavailableError(`The ${what} answered ${answer.status}`, { retryAfter, retryable, reason: 'status' })
}

// 4xx statuses that no token can cause: they say that this API's request, its configuration or
// a proxy on the way is wrong, the same for every token (405 wrong method, 407 proxy credentials,
// 408 and 429 the server's own limits…). Every other 4xx to a request that carries the token is
// an answer about that token: a client chooses it, so it must never count as an outage.
const NOT_ABOUT_THE_TOKEN = new Set([405, 406, 407, 408, 411, 415, 417, 421, 425, 426, 428, 429])

/** Whether a status, to a request carrying the token, is the identity provider's answer about it. */
export function isAboutTheToken(status: number): boolean {
  return status >= 400 && status <= 499 && !NOT_ABOUT_THE_TOKEN.has(status)
}

/** The error for a 4xx about the token: 401 invalid_token, with the status and code for the log. */
export function refusedToken(answer: HttpAnswer, what: string): InvalidTokenError {
  return new InvalidTokenError('The access token was refused by the identity provider', {
    detail: `${what} answered ${answer.status}${answer.error === undefined ? '' : ` ${answer.error}`}`, reason: 'refused',
  })
}

/** A JSON object (not an array, not null), or undefined. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}
