// Observability through node:diagnostics_channel. Messages carry a token's fingerprint (a prefix
// of its SHA-256 cache key), never the token. Publishing costs nothing without subscribers.
import { channel } from 'node:diagnostics_channel'

export const channels = Object.freeze({
  /** { provider, token, outcome: 'accepted' | failure key, cache: 'hit' | 'negative' | 'miss' | 'joined' | 'breaker', durationMs } */
  validation: channel('fastify-token-auth:validation'),
  /** { provider, token, attempt, outcome: 'answered' | failure key, durationMs } — one per call to the identity provider */
  providerCall: channel('fastify-token-auth:provider-call'),
  /** { provider, from, to } — circuit breaker state changes */
  breaker: channel('fastify-token-auth:breaker'),
  /** { provider, token, key, uid, outcome: 'revoked' | 'kept' | 'unavailable' } — background re-validation */
  revalidation: channel('fastify-token-auth:revalidation'),
})
