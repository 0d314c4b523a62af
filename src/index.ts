// Public exports only.
import './types.js'
import { plugin } from './plugin.js'

export default plugin
export { plugin as fastifyTokenAuth }
export { tokenAuth, createCache, type TokenAuthOptions, type Presentation } from './pipeline.js'
export { TokenCache, cacheKey, type CacheOptions } from './cache.js'
export { namespaceOf } from './namespace.js'
export type { TokenStore, StoreSecret } from './store.js'
export {
  defineProvider, assertProvider, standardCredentials, ttlUntilExpiry,
  type Provider, type AnyProvider, type ProviderContext, type ProviderDefinition, type Logger,
} from './provider.js'
export { subjectOf, scopesOf, numericDate, assertTimeWindow, profileOf, otherCredentialsOf, type Claims } from './claims.js'
export {
  isAuthFailure, hasScopes, failureKey,
  type Auth, type AuthFailure, type AuthError, type CachedAuth, type Credentials, type Info, type Extra,
} from './auth.js'
export {
  TokenAuthError, InvalidTokenError, ProviderUnavailableError, ConfigurationError, isInvalidTokenError, isProviderUnavailableError,
  FAILURES, challenge, type FailureKey, type FailureReason,
} from './errors.js'
export { extractToken, type ExtractInput, type ExtractOptions, type ExtractResult, type ExtractFailure } from './extract-token.js'
export { redactUrl, logSerializers } from './log.js'
export {
  channels,
  type DiagnosticsChannel, type CacheResult, type ValidationMessage, type ProviderCallMessage, type BreakerMessage, type RevalidationMessage, type FetchMessage,
} from './diagnostics.js'
export type { ResourceMetadataOptions } from './resource-metadata.js'
export { multiIssuer, unverifiedIssuer, type RoutedPayload } from './multi-issuer.js'
export type { RevalidateOptions, RevokedEvent } from './revalidate.js'
export type { AuthSocket, SocketRule } from './websocket.js'
export type { TicketSecret } from './ticket.js'
export { CircuitBreaker, type BreakerOptions, type BreakerState } from './breaker.js'
export type { TokenAuthPluginOptions } from './options.js'
export type { RouteAuthConfig, TokenAuthDecorator } from './types.js'
