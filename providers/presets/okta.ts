// Okta: JWT access tokens from a custom authorization server (`default` unless said), issuer
// https://{domain}/oauth2/{id}. Scopes in `scp` (an array); the user id in `uid` (`sub` is the login).
import type { Dispatcher } from 'undici'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { required } from './_mapping.js'

export interface OktaOptions {
  /** The Okta domain, e.g. `acme.okta.com`. */
  domain: string
  /** The authorization server id. Default `'default'`. */
  authorizationServerId?: string
  /** The authorization server's audience. Default `'api://default'`. */
  audience?: string | string[]
  name?: string
  jwksUri?: string
  timeout?: number
  dispatcher?: Dispatcher
}

export function okta(options: OktaOptions): JwtProvider {
  const domain = required(options?.domain, 'okta: domain')
  return jwtProvider({
    issuer: `https://${domain}/oauth2/${options.authorizationServerId ?? 'default'}`,
    audience: options.audience ?? 'api://default',
    name: options.name ?? 'okta',
    jwksUri: options.jwksUri,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    map: {
      // Machine tokens (client_credentials) carry no uid: sub is then the client id.
      getUid: (claims) => (typeof claims.uid === 'string' && claims.uid.length > 0 ? claims.uid : String(claims.sub ?? claims.cid)),
    },
  })
}
