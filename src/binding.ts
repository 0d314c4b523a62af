// Sender-constrained tokens, checked per request after the (cached) validation, never cached:
// RFC 8705 §3 (cnf["x5t#S256"]: the TLS client certificate must be that one) and RFC 9449 §7
// (cnf.jkt: the DPoP scheme and a proof for this request signed by that key; an unbound token
// must not come with the DPoP scheme). A bound token is never downgraded to Bearer.
import { createHash } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'
import { buildFailure, type Auth } from './auth.js'
import { DpopError, type DpopMode, type DpopVerifier } from './dpop.js'
import { countHeader, usesDpopScheme } from './extract-token.js'

function certificateMatches(request: FastifyRequest, thumbprint: string): boolean {
  const socket = request.raw.socket as Partial<TLSSocket>
  const certificate = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined
  const der = (certificate as { raw?: Buffer } | undefined)?.raw
  return Buffer.isBuffer(der) && createHash('sha256').update(der).digest('base64url') === thumbprint
}

/** The per-request check: turns `request.auth` into a failure when the token's binding is not met. */
export function bindingCheck(mode: DpopMode, verifier: DpopVerifier): (request: FastifyRequest) => void | Promise<void> {
  function refuse(request: FastifyRequest, auth: Auth, key: 'invalid_token' | 'invalid_dpop_proof', message: string, dpop: boolean): void {
    request.auth = null as unknown as Auth
    const failure = buildFailure(auth.provider, key, message)
    request.authFailure = dpop ? { ...failure, challenge: 'DPoP' } : failure
  }

  return function checkBinding(request) {
    const auth = request.auth as Auth | null
    if (auth === null) return
    const cnf = auth.credentials.other.cnf as { jkt?: unknown; 'x5t#S256'?: unknown } | undefined
    const x5t = cnf?.['x5t#S256']
    if (typeof x5t === 'string' && !certificateMatches(request, x5t)) {
      return refuse(request, auth, 'invalid_token', 'The access token is bound to another client certificate', false)
    }
    const jkt = cnf?.jkt
    const usedDpop = usesDpopScheme(request.headers.authorization)
    if (typeof jkt !== 'string') {
      if (usedDpop) refuse(request, auth, 'invalid_token', 'The access token is not bound to a DPoP key', true)
      else if (mode === 'required') refuse(request, auth, 'invalid_token', 'Only DPoP-bound access tokens are accepted', true)
      return
    }
    if (mode === 'disabled') return refuse(request, auth, 'invalid_token', 'DPoP-bound access tokens are not accepted here', true)
    if (!usedDpop) return refuse(request, auth, 'invalid_token', 'The access token is bound to a DPoP key: use the DPoP scheme', true)
    if (countHeader(request.raw.rawHeaders, 'dpop') > 1) return refuse(request, auth, 'invalid_dpop_proof', 'More than one DPoP proof was sent', true)
    const url = `${request.protocol}://${request.host}${request.url}`
    return verifier.verify(request.headers.dpop as string | undefined, { method: request.method, url, accessToken: auth.credentials.token, jkt })
      .then(() => { request.auth = { ...auth, strategy: 'dpop', credentials: { ...auth.credentials, tokenType: 'DPoP' } } })
      .catch((err: unknown) => refuse(request, auth, 'invalid_dpop_proof', err instanceof DpopError ? err.message : 'The DPoP proof is invalid', true))
  }
}
