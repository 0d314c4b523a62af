// What can be read from a token without trusting it: the JOSE header and claims of a JWT, or
// only its length when it is opaque. Shown to the person inspecting a token, never used to decide.
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose'
import { segmentCount } from '../../providers/jwt.js'

export type TokenFormat = 'jwt' | 'jwe' | 'opaque'

export interface DecodedToken {
  format: TokenFormat
  length: number
  /** The JOSE header of a JWT (unverified). */
  header?: ProtectedHeaderParameters
  /** The claims of a JWT (unverified). */
  claims?: JWTPayload
  /** Why a token shaped like a JWT could not be decoded. */
  problem?: string
}

export function decodeToken(token: string): DecodedToken {
  const count = segmentCount(token)
  if (count === 5) return { format: 'jwe', length: token.length }
  if (count !== 3) return { format: 'opaque', length: token.length }
  const decoded: DecodedToken = { format: 'jwt', length: token.length }
  try {
    decoded.header = decodeProtectedHeader(token)
    decoded.claims = decodeJwt(token)
  } catch (err) {
    decoded.problem = (err as Error).message
  }
  return decoded
}
