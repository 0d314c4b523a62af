// Outbound HTTP for providers, over undici: every call has a deadline, a bounded body, follows
// no redirect (a client secret must never be replayed to another host), and turns every network
// failure into a ProviderUnavailableError with the undici cause kept for the log.
import type { IncomingHttpHeaders } from 'node:http'
import { Pool, request, type Dispatcher } from 'undici'
import { ProviderUnavailableError } from './errors.js'

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
}

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  /** The parsed JSON body of a 2xx answer; undefined for any other status. */
  json: unknown
}

export const DEFAULT_HTTP_TIMEOUT = 5_000
export const DEFAULT_MAX_BYTES = 256 * 1024

/** A keep-alive connection pool for one origin. */
export function createPool(url: string | URL): Pool {
  return new Pool(new URL(url).origin, { connections: 32, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 })
}

/** Seconds from a Retry-After header (delta-seconds or HTTP-date), bounded to 1..3600. */
export function retryAfterOf(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['retry-after']
  if (typeof value !== 'string' || value.length === 0) return undefined
  const seconds = /^\d+$/.test(value) ? Number(value) : Math.ceil((Date.parse(value) - Date.now()) / 1000)
  if (!Number.isFinite(seconds)) return undefined
  return Math.min(Math.max(seconds, 1), 3600)
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
      throw new ProviderUnavailableError(`The ${what} answered with a body over ${maxBytes} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Makes one call; a 2xx answer must be JSON. Throws ProviderUnavailableError on any failure to get an answer. */
export async function fetchJson(url: string | URL, options: HttpCallOptions): Promise<HttpAnswer> {
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
    throw new ProviderUnavailableError(`The ${options.what} could not be reached`, { cause, retryable: !timedOut })
  }
  const { statusCode, headers, body } = response
  if (statusCode < 200 || statusCode > 299) {
    // Drain (bounded) so the keep-alive socket can be reused; the content does not matter.
    await body.dump({ limit: options.maxBytes }).catch(() => undefined)
    return { status: statusCode, headers, json: undefined }
  }
  let text: string
  try {
    text = await readBounded(body, options.maxBytes, options.what)
  } catch (cause) {
    if (cause instanceof ProviderUnavailableError) throw cause
    throw new ProviderUnavailableError(`The ${options.what} answer was cut off`, { cause, retryable: !signal.aborted })
  }
  if (!isJson(headers)) {
    throw new ProviderUnavailableError(`The ${options.what} answered ${statusCode} without JSON`, {
      cause: new Error(`content-type ${String(headers['content-type'])}`),
    })
  }
  try {
    return { status: statusCode, headers, json: JSON.parse(text) as unknown }
  } catch (cause) {
    throw new ProviderUnavailableError(`The ${options.what} answered with invalid JSON`, { cause })
  }
}

const RETRYABLE_STATUSES = new Set([500, 502, 503, 504])

/** The error for an answer whose status says the identity provider could not serve it. */
export function unexpectedStatus(answer: HttpAnswer, what: string): ProviderUnavailableError {
  const retryAfter = retryAfterOf(answer.headers)
  // A server that asks for more than a second of patience is not retried at once.
  const retryable = RETRYABLE_STATUSES.has(answer.status) && (retryAfter === undefined || retryAfter <= 1)
  return new ProviderUnavailableError(`The ${what} answered ${answer.status}`, { retryAfter, retryable })
}

/** A JSON object (not an array, not null), or undefined. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}
