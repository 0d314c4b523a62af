// What an HTTP request (or a WebSocket upgrade) can prove about how its credential was presented,
// for the engine's sender-binding check: the scheme, the DPoP proof and the URL it must name
// (from a trusted origin, never a raw Host that could carry a path), the TLS client certificate.
import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'
import type { Facts, ProofFacts } from './binding.js'
import { countHeader, usesDpopScheme } from './extract-token.js'

/** host[:port]: a reg-name or an IP literal, nothing that could carry a path, a query or userinfo. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?$/

/** Checks the `publicUrl` option: an http(s) URL with no query, fragment or userinfo; kept without a trailing slash. */
export function checkPublicUrl(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch { /* refused below */ }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError(`${path} must be the API's public http(s) URL, e.g. 'https://api.example.com' or 'https://example.com/api', without query, fragment or credentials`)
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

/**
 * The URL the client addressed: `publicUrl` + the request's path when the API states it (behind
 * a proxy), else the request's protocol and host (Fastify honours `trustProxy` for both).
 * A string says why there is none.
 */
export function requestUrl(request: FastifyRequest, publicUrl: string | undefined): string | { invalid: string } {
  if (publicUrl !== undefined) return `${publicUrl}${request.url}`
  const host = request.host
  if (typeof host !== 'string' || !HOST.test(host)) return { invalid: 'The request\'s Host is not a valid host[:port]' }
  return `${request.protocol}://${host}${request.url}`
}

export class HttpFacts implements Facts {
  readonly scheme: 'Bearer' | 'DPoP'
  readonly #request: FastifyRequest
  readonly #publicUrl: string | undefined

  /** `scheme` is forced to Bearer for credentials that came another way than the Authorization header. */
  constructor(request: FastifyRequest, publicUrl: string | undefined, fromAuthorization = true) {
    this.#request = request
    this.#publicUrl = publicUrl
    this.scheme = fromAuthorization && usesDpopScheme(request.headers.authorization) ? 'DPoP' : 'Bearer'
  }

  proof(): ProofFacts | string {
    const url = requestUrl(this.#request, this.#publicUrl)
    if (typeof url !== 'string') return url.invalid
    const { headers, raw } = this.#request
    return { method: this.#request.method, url, proof: headers.dpop as string | undefined, proofCount: countHeader(raw.rawHeaders, 'dpop') }
  }

  certificate(): Buffer | undefined {
    return peerCertificate(this.#request.raw.socket)
  }

  client(): string | undefined {
    return this.#request.ip
  }
}

/** The DER of a TLS connection's client certificate, if it sent one. */
export function peerCertificate(socket: unknown): Buffer | undefined {
  const tls = socket as Partial<TLSSocket> | undefined
  const certificate = typeof tls?.getPeerCertificate === 'function' ? tls.getPeerCertificate(false) : undefined
  const der = (certificate as { raw?: unknown } | undefined)?.raw
  return Buffer.isBuffer(der) ? der : undefined
}

/** Facts for tokens that arrive in a socket's messages: the connection's certificate and client, never a DPoP proof. */
export function socketFacts(request: FastifyRequest): Facts {
  const socket = request.raw.socket
  const client = request.ip
  return { scheme: 'Bearer', certificate: () => peerCertificate(socket), client: () => client }
}
