// DPoP (RFC 9449): a token bound to a key (`cnf.jkt`) is only good with a proof signed by that
// key for this very request: typ dpop+jwt, an asymmetric alg, the public key in the header, htm
// and htu naming the request, a fresh iat, ath = the token's hash, and a jti never seen before.
import { createHash } from 'node:crypto'
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose'
import { SpentIds } from './denials.js'

export type DpopMode = 'allowed' | 'required' | 'disabled'

export const DPOP_ALGORITHMS = Object.freeze(['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'])

export interface DpopRequest {
  method: string
  /** The request URL from a trusted origin (scheme, host, path); query and fragment are ignored. */
  url: string
  accessToken: string
  /** The token's confirmation: the SHA-256 thumbprint of the key it is bound to. */
  jkt: string
}

export class DpopError extends Error {
  override name = 'DpopError'
}

const MAX_PROOF_LENGTH = 8192
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const

const UNRESERVED = /^[A-Za-z0-9\-._~]$/

/**
 * A URL as RFC 9449 §4.3 compares `htu`: without query and fragment, after RFC 3986 §6.2.2
 * normalization (case of scheme and host, default port, dot segments — all done by the WHATWG
 * parser — plus percent-encoding: unreserved characters decoded, other triplets in upper case).
 */
export function normalizeHtu(url: string): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined
  return `${parsed.protocol}//${parsed.host}${normalizeEscapes(parsed.pathname)}`
}

/** Percent-encoding normalized (RFC 3986 §6.2.2.2): unreserved characters decoded, other triplets in upper case. */
function normalizeEscapes(path: string): string {
  return path.replace(/%[0-9A-Fa-f]{2}/g, (triplet) => {
    const char = String.fromCharCode(Number.parseInt(triplet.slice(1), 16))
    return UNRESERVED.test(char) ? char : triplet.toUpperCase()
  })
}

/**
 * The request's own URL as htu compares it: origin normalized, but the path as the router sees it
 * (dot segments kept): a proof for `/admin` must not pass for `/files/a/../../admin`, which the
 * router serves as a file path. A proof's htu has its dot segments resolved, so such a path never matches.
 */
export function requestHtu(url: string): string | undefined {
  const origin = normalizeHtu(url)
  const authority = url.indexOf('//')
  const pathStart = authority === -1 ? -1 : url.indexOf('/', authority + 2)
  if (origin === undefined || pathStart === -1) return origin
  const rawPath = url.slice(pathStart).split(/[?#]/, 1)[0]!
  return `${new URL(url).origin}${normalizeEscapes(rawPath)}`
}

export class DpopVerifier {
  readonly algorithms: readonly string[]
  /** How old a proof may be, in seconds; and how far ahead a client clock may run. */
  readonly #maxAge: number
  readonly #skew: number
  /** Proofs seen (by key and jti) while they are fresh: full means refuse, never forget one. */
  readonly #seen = new SpentIds()

  constructor(options: { maxAge?: number; skew?: number; algorithms?: string[] } = {}) {
    this.algorithms = options.algorithms ?? DPOP_ALGORITHMS
    this.#maxAge = options.maxAge ?? 60
    this.#skew = options.skew ?? 5
  }

  /** Throws DpopError with a public reason, or resolves when the proof binds this request to the key. */
  async verify(proof: string | undefined, request: DpopRequest, nowMs = Date.now()): Promise<void> {
    if (typeof proof !== 'string' || proof.length === 0) throw new DpopError('A DPoP proof is required')
    if (proof.length > MAX_PROOF_LENGTH) throw new DpopError('The DPoP proof is too long')
    let payload: Record<string, unknown>
    let jwk: JWK
    try {
      const verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...this.algorithms] })
      payload = verified.payload
      jwk = verified.protectedHeader.jwk as JWK
    } catch {
      throw new DpopError('The DPoP proof is not a valid signed dpop+jwt')
    }
    if (PRIVATE_MEMBERS.some((member) => (jwk as Record<string, unknown>)[member] !== undefined)) throw new DpopError('The DPoP proof carries a private key')
    if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) throw new DpopError('The DPoP proof has no valid jti')
    if (payload.htm !== request.method) throw new DpopError('The DPoP proof is for another method')
    const htu = typeof payload.htu === 'string' ? normalizeHtu(payload.htu) : undefined
    if (htu === undefined || htu !== requestHtu(request.url)) throw new DpopError('The DPoP proof is for another URL')
    const now = nowMs / 1000
    if (typeof payload.iat !== 'number' || payload.iat < now - this.#maxAge || payload.iat > now + this.#skew) {
      throw new DpopError('The DPoP proof is not fresh')
    }
    const ath = createHash('sha256').update(request.accessToken).digest('base64url')
    if (payload.ath !== ath) throw new DpopError('The DPoP proof is for another access token')
    if ((await calculateJwkThumbprint(jwk, 'sha256')) !== request.jkt) throw new DpopError('The DPoP proof is signed by another key than the token is bound to')
    // Last, so that a rejected proof does not burn its jti.
    const replayKey = `${request.jkt}:${payload.jti}`
    // Remembered for as long as the proof is fresh (its last fresh instant included).
    const spent = this.#seen.spend(replayKey, (payload.iat + this.#maxAge) * 1000 + 1, nowMs)
    if (spent === 'replayed') throw new DpopError('The DPoP proof was already used')
    if (spent === 'full') throw new DpopError('The DPoP proof cannot be checked for replay now')
  }
}
