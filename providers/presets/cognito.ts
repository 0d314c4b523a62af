// AWS Cognito user pools: issuer https://cognito-idp.{region}.amazonaws.com/{userPoolId}. Access
// tokens carry no `aud`: they are bound to the app client by `client_id`, and `token_use` says
// which kind of token it is (an ID token must not pass as an access token). Groups
// (`cognito:groups`) join the scopes.
import type { Dispatcher } from 'undici'
import { InvalidTokenError } from '../../src/errors.js'
import { jwtProvider, type JwtProvider } from '../jwt.js'
import { credentialsWith, required, stringsOf } from './_mapping.js'

export interface CognitoOptions {
  region: string
  userPoolId: string
  /** The app client id the tokens must be issued to. */
  clientId: string
  /** Which tokens the API accepts. Default `'access'`. */
  tokenUse?: 'access' | 'id'
  name?: string
  jwksUri?: string
  timeout?: number
  dispatcher?: Dispatcher
}

export function cognito(options: CognitoOptions): JwtProvider {
  const region = required(options?.region, 'cognito: region')
  const pool = required(options.userPoolId, 'cognito: userPoolId')
  const clientId = required(options.clientId, 'cognito: clientId')
  const tokenUse = options.tokenUse ?? 'access'
  return jwtProvider({
    issuer: `https://cognito-idp.${region}.amazonaws.com/${pool}`,
    audience: tokenUse === 'id' ? clientId : null,
    name: options.name ?? 'cognito',
    jwksUri: options.jwksUri,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    validate: (claims) => {
      if (claims.token_use !== tokenUse) throw new InvalidTokenError('The token is not an access token', { detail: `token_use ${String(claims.token_use)}` })
      if (tokenUse === 'access' && claims.client_id !== clientId) {
        throw new InvalidTokenError('The access token is not meant for this API', { detail: `client_id ${String(claims.client_id)}` })
      }
    },
    map: {
      getCredentials: (claims) => credentialsWith(claims, stringsOf(claims['cognito:groups'])),
      getInfo: (claims) => {
        const username = claims.username ?? claims['cognito:username']
        return { ...(typeof username === 'string' ? { preferred_username: username } : {}), ...(typeof claims.email === 'string' ? { email: claims.email } : {}) }
      },
    },
  })
}
