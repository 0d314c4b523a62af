// A local server playing an identity provider's JWKS endpoint, and a signer for tokens shaped like
// that provider's: the presets are tested on the claims real providers send, verified for real.
import { generateKeyPairSync, sign } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface JwtStandIn {
  jwksUri: string
  /** Signs claims with the published key (RS256, kid `stand-in-1`). */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): string
  close(): Promise<void>
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
export const nowS = (): number => Math.floor(Date.now() / 1000)

export async function startJwtStandIn(): Promise<JwtStandIn> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'stand-in-1', alg: 'RS256', use: 'sig' }] })
  const server: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    jwksUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`,
    sign(claims, header = {}) {
      const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'stand-in-1', ...header })}.${b64(claims)}`
      return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
