// AWS Cognito user pools: issuer https://cognito-idp.{region}.amazonaws.com/{userPoolId}. Access
// tokens carry no `aud`: they are bound to the app client by `client_id`, and `token_use` says
// which kind of token it is (an ID token must not pass as an access token). Groups
// (`cognito:groups`) join the scopes.
import { recordUserRules } from '../../src/namespace.js'
import type { JWTPayload } from 'jose'
import { InvalidTokenError } from '../../src/errors.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { credentialsWith, required, stringsOf } from './_mapping.js'
import { bothChecks, checkPresetOptions, JWT_PRESET_OPTIONS, type JwtPresetOptions } from './_options.js'

export interface CognitoOptions extends JwtPresetOptions {
  /** The AWS region, e.g. `eu-west-1`. */
  region: string
  /** The user pool id, e.g. `eu-west-1_AbCdEf123`. */
  userPoolId: string
  /** The app client id the tokens must be issued to. */
  clientId: string
  /** Which tokens the API accepts. Default `'access'`. */
  tokenUse?: 'access' | 'id'
}

function segment(value: unknown, path: string): string {
  const text = required(value, path)
  if (!/^[\w-]+$/.test(text)) throw new TypeError(`${path} must be letters, digits, "_" and "-" only`)
  return text
}

export function cognito(options: CognitoOptions): JwtProvider {
  const rules = checkPresetOptions(options, 'cognito', [...JWT_PRESET_OPTIONS, 'region', 'userPoolId', 'clientId', 'tokenUse'])
  const region = segment(options.region, 'cognito: region')
  const pool = segment(options.userPoolId, 'cognito: userPoolId')
  const clientId = required(options.clientId, 'cognito: clientId')
  const tokenUse = options.tokenUse ?? 'access'
  if (tokenUse !== 'access' && tokenUse !== 'id') throw new TypeError('cognito: tokenUse must be "access" or "id"')
  const own = (claims: JWTPayload): void => {
    if (claims.token_use !== tokenUse) {
      throw new InvalidTokenError('The token is not an access token', { detail: `token_use ${String(claims.token_use)}`, reason: 'type' })
    }
    if (tokenUse === 'access' && claims.client_id !== clientId) {
      throw new InvalidTokenError('The access token is not meant for this API', { detail: `client_id ${String(claims.client_id)}`, reason: 'audience' })
    }
  }
  return recordUserRules(jwtProvider({
    namespace: rules.namespace,
    issuer: `https://cognito-idp.${region}.amazonaws.com/${pool}`,
    audience: tokenUse === 'id' ? clientId : null,
    name: options.name ?? 'cognito',
    jwksUri: options.jwksUri,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    clockTolerance: options.clockTolerance,
    validate: bothChecks(own, options.validate),
    map: {
      getCredentials: (claims) => credentialsWith(claims, stringsOf(claims['cognito:groups'])),
      getInfo: (claims) => {
        const username = claims.username ?? claims['cognito:username']
        return { ...(typeof username === 'string' ? { preferred_username: username } : {}), ...(typeof claims.email === 'string' ? { email: claims.email } : {}) }
      },
      ...options.map,
    },
  }), rules.functions)
}
