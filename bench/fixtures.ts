// Keys and tokens shared by every benchmark server, made once per run by the orchestrator and
// passed as a file: RS256 and ES256 key pairs, a token of each, and 1,000 distinct tokens for the
// Zipf mix.
import { readFileSync, writeFileSync } from 'node:fs'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from 'jose'

export const ISSUER = 'https://issuer.bench.test/'
export const AUDIENCE = 'api://bench'

export interface Fixtures {
  rsaPublicJwk: JWK
  rsaPublicPem: string
  ecPublicJwk: JWK
  rs256: string
  es256: string
  /** 1,000 distinct RS256 tokens (different subjects), for the Zipf mix. */
  mix: string[]
  /** Opaque tokens from the embedded identity provider, when it runs. */
  opaque?: string
  idpIssuer?: string
  idpClient?: { clientId: string; clientSecret: string }
}

export async function makeFixtures(): Promise<Fixtures> {
  const rsa = await generateKeyPair('RS256', { extractable: true })
  const ec = await generateKeyPair('ES256', { extractable: true })
  const sign = (key: CryptoKeyLike, alg: string, kid: string, sub: string) => new SignJWT({ scope: 'orders:read orders:write', client_id: 'bench', sub })
    .setProtectedHeader({ alg, kid, typ: 'at+jwt' }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('2h').sign(key)
  const mix: string[] = []
  for (let i = 0; i < 1000; i++) mix.push(await sign(rsa.privateKey, 'RS256', 'rsa-1', `user-${i}`))
  return {
    rsaPublicJwk: { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    rsaPublicPem: await exportSPKI(rsa.publicKey),
    ecPublicJwk: { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    rs256: await sign(rsa.privateKey, 'RS256', 'rsa-1', 'alice'),
    es256: await sign(ec.privateKey, 'ES256', 'ec-1', 'alice'),
    mix,
  }
}

type CryptoKeyLike = Parameters<SignJWT['sign']>[0]

export const saveFixtures = (path: string, fixtures: Fixtures): void => writeFileSync(path, JSON.stringify(fixtures))
export const loadFixtures = (path: string): Fixtures => JSON.parse(readFileSync(path, 'utf8')) as Fixtures
