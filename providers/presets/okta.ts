// Okta: JWT access tokens from a custom authorization server (`default` unless said), issuer
// https://{domain}/oauth2/{id}. Scopes in `scp` (an array); the user id in `uid` (`sub` is the login).
import { recordUserRules } from '../../src/namespace.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { checkPresetOptions, hostName, JWT_PRESET_OPTIONS, type JwtPresetOptions } from './_options.js'

export interface OktaOptions extends JwtPresetOptions {
  /** The Okta domain, e.g. `acme.okta.com`. */
  domain: string
  /** The authorization server id. Default `'default'`. */
  authorizationServerId?: string
  /** The authorization server's audience. Default `'api://default'`. */
  audience?: string | string[]
}

export function okta(options: OktaOptions): JwtProvider {
  const rules = checkPresetOptions(options, 'okta', [...JWT_PRESET_OPTIONS, 'domain', 'authorizationServerId', 'audience'])
  const domain = hostName(options.domain, 'okta: domain')
  const server = options.authorizationServerId ?? 'default'
  if (typeof server !== 'string' || !/^\w+$/.test(server)) throw new TypeError('okta: authorizationServerId must be letters and digits, e.g. "default" or "aus1a2b3c4d5e6f7g8h9"')
  return recordUserRules(jwtProvider({
    namespace: rules.namespace,
    issuer: `https://${domain}/oauth2/${server}`,
    audience: options.audience ?? 'api://default',
    name: options.name ?? 'okta',
    jwksUri: options.jwksUri,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    clockTolerance: options.clockTolerance,
    validate: options.validate,
    map: {
      // Machine tokens (client_credentials) carry no uid: sub is then the client id.
      getUid: (claims) => (typeof claims.uid === 'string' && claims.uid.length > 0 ? claims.uid : String(claims.sub ?? claims.cid)),
      ...options.map,
    },
  }), rules.functions)
}
