// How a refused request is answered (RFC 6750 §3, RFC 9449 §7.1): status, WWW-Authenticate
// challenges, Retry-After for outages, no-store, and a small JSON body that keeps its shape
// whatever the route's response schema says (it is sent already serialized).
import type { FastifyReply } from 'fastify'
import { failureKey, type AuthFailure } from './auth.js'
import { challenge, DEFAULT_RETRY_AFTER } from './errors.js'
import { DPOP_ALGORITHMS, type DpopMode } from './dpop.js'

export interface ChallengeSettings {
  realm: string
  resourceMetadata: string | undefined
  dpop: DpopMode
}

/** Answers a failure; `scopes` are the route's (named in an insufficient_scope challenge). */
export function sendFailure(reply: FastifyReply, failure: AuthFailure, settings: ChallengeSettings, scopes: readonly string[] | undefined, usedDpop: boolean): FastifyReply {
  const key = failureKey(failure)
  const description = failure.errors[0]?.message
  const params = { realm: settings.realm, key, description, scopes, resourceMetadata: settings.resourceMetadata }
  // A DPoP challenge where DPoP is what the client must use (and errors in the scheme the client
  // used); Bearer challenges stay as they are for everyone else.
  const dpopFirst = settings.dpop === 'required' || usedDpop || failure.challenge === 'DPoP'
  const headers: string[] = []
  const bearer = challenge(dpopFirst ? { ...params, key: 'missing_token' } : params)
  const dpop = settings.dpop === 'disabled' ? undefined : challenge({ ...params, key: dpopFirst ? key : 'missing_token', scheme: 'DPoP', algs: DPOP_ALGORITHMS })
  if (dpopFirst) {
    if (dpop !== undefined) headers.push(dpop)
    if (settings.dpop !== 'required' && bearer !== undefined) headers.push(bearer)
  } else if (bearer !== undefined) headers.push(bearer)
  if (headers.length > 0) reply.header('www-authenticate', headers.length === 1 ? headers[0] : headers)
  if (key === 'provider_unavailable' || key === 'too_many_attempts') reply.header('retry-after', String(failure.retryAfter ?? DEFAULT_RETRY_AFTER))
  reply.header('cache-control', 'no-store')
  reply.header('content-type', 'application/json; charset=utf-8')
  return reply.code(failure.status).send(JSON.stringify({ error: key, error_description: description }))
}
