// Observability through node:diagnostics_channel. Messages carry a token's fingerprint (a prefix
// of its SHA-256 cache key), never the token. Publishing costs nothing without subscribers.
import { channel } from 'node:diagnostics_channel'
import type { BreakerState } from './breaker.js'
import type { FailureKey, FailureReason } from './errors.js'

/** Where a validation's answer came from. */
export type CacheResult =
  /** from the cache (or a revocation that refused the token before any lookup) */
  | 'hit'
  /** a refusal remembered for `cache.negativeTtl` */
  | 'negative'
  /** asked the identity provider (or the fleet's store) */
  | 'miss'
  /** shared a call already under way for the same token */
  | 'joined'
  /** refused at once: the provider's circuit is open */
  | 'breaker'
  /** the identity provider failed and a stale answer was served (`staleIfError`) */
  | 'stale'

/** `fastify-token-auth:validation`: one per token validated, from any door. */
export interface ValidationMessage {
  /** The provider's name. */
  provider: string
  /** The token's log fingerprint (never the token). */
  token: string
  /** `'accepted'`, or the failure key the request gets. */
  outcome: 'accepted' | FailureKey
  cache: CacheResult
  /** From the lookup to the answer, in ms. */
  durationMs: number
}

/** `fastify-token-auth:provider-call`: one per attempt to validate a token at the identity provider. */
export interface ProviderCallMessage {
  provider: string
  /** The token's log fingerprint (never the token). */
  token: string
  /** 1, or 2 for the one retry of a fast transient failure. */
  attempt: number
  /** `'answered'` (the token was accepted), or the failure key of the attempt. */
  outcome: 'answered' | FailureKey
  durationMs: number
}

/** `fastify-token-auth:breaker`: a provider's circuit breaker changed state. */
export interface BreakerMessage {
  provider: string
  from: BreakerState
  to: BreakerState
}

/** `fastify-token-auth:revalidation`: one per cached token checked again in the background. */
export interface RevalidationMessage {
  provider: string
  /** The token's log fingerprint (never the token). */
  token: string
  /** The token's cache key (SHA-256 of the namespace and the token). */
  key: string
  uid: string
  outcome: 'revoked' | 'kept' | 'unavailable'
}

/** `fastify-token-auth:fetch`: one per fetch of a JWKS or a discovery document. */
export interface FetchMessage {
  what: 'jwks' | 'discovery'
  /** The URL fetched, without query or fragment. */
  url: string
  /** The HTTP status, when an answer came. */
  status?: number
  /** Why the fetch failed (`timeout`, `network`, `bad_answer`…), when it did; an answer with a bad status has `status` only. */
  error?: FailureReason
  durationMs: number
}

/** A diagnostics channel whose messages have a type. It is node's own `Channel` object. */
export interface DiagnosticsChannel<M> {
  readonly name: string
  /** Whether anyone listens: check it before building a message. */
  readonly hasSubscribers: boolean
  publish(message: M): void
  subscribe(listener: (message: M, name: string | symbol) => void): void
  unsubscribe(listener: (message: M, name: string | symbol) => void): boolean
}

// The channel object itself, typed: no wrapper on the request path. Held here for the process's
// life, so subscribing through it is as safe as diagnostics_channel.subscribe(name, …).
const typed = <M>(name: string): DiagnosticsChannel<M> => channel(name) as unknown as DiagnosticsChannel<M>

export const channels = Object.freeze({
  validation: typed<ValidationMessage>('fastify-token-auth:validation'),
  providerCall: typed<ProviderCallMessage>('fastify-token-auth:provider-call'),
  breaker: typed<BreakerMessage>('fastify-token-auth:breaker'),
  revalidation: typed<RevalidationMessage>('fastify-token-auth:revalidation'),
  fetch: typed<FetchMessage>('fastify-token-auth:fetch'),
})
