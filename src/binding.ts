// Sender-constrained tokens, checked per presentation after the (cached) validation, never cached:
// RFC 8705 §3 (cnf["x5t#S256"]: the TLS client certificate must be that one) and RFC 9449 §7
// (cnf.jkt: the DPoP scheme and a proof for this request signed by that key; an unbound token must
// not come with the DPoP scheme). A bound token is never accepted where its proof cannot be
// checked, and never downgraded to Bearer. Framework-free: a door says what it can prove (Facts).
import { createHash } from 'node:crypto'
import { buildFailure, credentialsWith, type Auth, type AuthFailure } from './auth.js'
import { DpopError, type DpopMode, type DpopVerifier } from './dpop.js'

/** What a DPoP proof must name: the request it came with. */
export interface ProofFacts {
  method: string
  /** The request's URL from a trusted origin (see http-facts.ts), query included or not. */
  url: string
  /** The DPoP header (undefined when absent). */
  proof: string | undefined
  /** How many DPoP headers came (more than one is refused). */
  proofCount: number
}

/** What a door can tell about how a credential was presented. */
export interface Facts {
  /** The Authorization scheme it came with: `DPoP`, or `Bearer` for every other carrier. */
  scheme: 'Bearer' | 'DPoP'
  /**
   * The request a DPoP proof may come with, read only for a DPoP-bound token; absent where no
   * proof can exist (socket messages, tickets, tokenAuth() without request facts). A string says
   * why the request cannot name itself (an invalid Host): a 400, the proof cannot be checked.
   */
  proof?: () => ProofFacts | string
  /** The TLS client certificate of the connection (DER), read only for a certificate-bound token. */
  certificate?: () => Buffer | undefined
  /** Who is asking (the client's address), read only on a miss: the refusal guard counts per client. */
  client?: () => string | undefined
}

/** Facts of a credential that came without any request around it: no proof of possession can exist. */
export const NO_PROOF: Facts = Object.freeze({ scheme: 'Bearer' })

/** A token's confirmation claim: absent, or its members; malformed, or by a method not checked here, refuses the token. */
type Confirmation = { jkt?: string; x5t?: string } | undefined | 'malformed' | 'unsupported'

/** The confirmation methods this library can check (RFC 9449 §6, RFC 8705 §3.1). */
const CHECKED_METHODS = new Set(['jkt', 'x5t#S256'])

function confirmationOf(auth: Auth): Confirmation {
  const cnf = auth.credentials.other.cnf
  if (cnf === undefined) return undefined
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return 'malformed'
  const methods = Object.keys(cnf)
  if (methods.length === 0) return 'malformed'
  // Bound by RFC 7800 `jwk`, `kid`, `jwe` or another method: never downgraded to a bearer token.
  if (methods.some((method) => !CHECKED_METHODS.has(method))) return 'unsupported'
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>
  if ((jkt !== undefined && (typeof jkt !== 'string' || jkt.length === 0)) || (x5t !== undefined && (typeof x5t !== 'string' || x5t.length === 0))) return 'malformed'
  return { jkt, x5t }
}

function refuse(auth: Auth, key: 'invalid_token' | 'invalid_dpop_proof', message: string, dpop: boolean): AuthFailure {
  const failure = buildFailure(auth.provider, key, message, undefined, 'binding')
  return dpop ? { ...failure, challenge: 'DPoP' } : failure
}

export function certificateThumbprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url')
}

/** Holds a token to its binding: the Auth (strategy `dpop` once proven), or why it may not pass. */
export function checkBinding(auth: Auth, facts: Facts, mode: DpopMode, verifier: DpopVerifier): Auth | AuthFailure | Promise<Auth | AuthFailure> {
  const cnf = confirmationOf(auth)
  if (cnf === 'malformed') return refuse(auth, 'invalid_token', 'The access token carries a malformed confirmation (cnf) claim', false)
  if (cnf === 'unsupported') return refuse(auth, 'invalid_token', 'The access token is bound to its holder by a method this API cannot check', false)
  if (cnf?.x5t !== undefined) {
    const der = facts.certificate?.()
    if (der === undefined || certificateThumbprint(der) !== cnf.x5t) {
      return refuse(auth, 'invalid_token', 'The access token is bound to another client certificate', false)
    }
  }
  const jkt = cnf?.jkt
  if (jkt === undefined) {
    if (facts.scheme === 'DPoP') return refuse(auth, 'invalid_token', 'The access token is not bound to a DPoP key', true)
    if (mode === 'required') return refuse(auth, 'invalid_token', 'Only DPoP-bound access tokens are accepted', true)
    return auth
  }
  if (mode === 'disabled') return refuse(auth, 'invalid_token', 'DPoP-bound access tokens are not accepted here', true)
  if (facts.scheme !== 'DPoP') return refuse(auth, 'invalid_token', 'The access token is bound to a DPoP key: use the DPoP scheme', true)
  const request = facts.proof?.()
  if (request === undefined) return refuse(auth, 'invalid_token', 'The access token is bound to a DPoP key: no proof can be checked here', true)
  if (typeof request === 'string') return buildFailure(auth.provider, 'invalid_request', request, undefined, 'binding')
  if (request.proofCount > 1) return refuse(auth, 'invalid_dpop_proof', 'More than one DPoP proof was sent', true)
  return verifier.verify(request.proof, { method: request.method, url: request.url, accessToken: auth.credentials.token, jkt }).then(
    (): Auth => ({ ...auth, strategy: 'dpop', credentials: credentialsWith(auth.credentials, auth.credentials.token, { tokenType: 'DPoP' }) }),
    (err: unknown) => refuse(auth, 'invalid_dpop_proof', err instanceof DpopError ? err.message : 'The DPoP proof is invalid', true),
  )
}
