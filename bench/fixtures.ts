// Keys and tokens shared by every benchmark server, made once per run by the orchestrator and
// passed as a file: an RS256, an ES256 and an EdDSA (Ed25519) key pair; per algorithm a pool of
// distinct tokens (a client population: different subjects and jtis), so that an uncached variant
// verifies a signature on every request; one token for the single-token rows; 1,000 RS256 tokens
// for the Zipf mix; and one token no server has seen, for the cold burst.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import type { JWK } from 'jose'

export const ISSUER = 'https://issuer.bench.test/'
export const AUDIENCE = 'api://bench'

export const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const
export type Algorithm = (typeof ALGORITHMS)[number]

export interface KeyFixture {
  publicJwk: JWK
  publicPem: string
}

export interface Fixtures {
  keys: Record<Algorithm, KeyFixture>
  /** Distinct tokens per algorithm (pool size from the orchestrator, ≥ 4,000 by default). */
  pools: Record<Algorithm, string[]>
  /** One RS256 token (the cache-hit and single-flight rows). */
  rs256: string
  es256: string
  /** 1,000 distinct RS256 tokens for the Zipf mix. */
  mix: string[]
  /** An RS256 token no server has seen before the cold burst. */
  burst: string
  /** Opaque tokens from the embedded identity provider, when it runs. */
  opaque?: string
  opaquePool?: string[]
  idpIssuer?: string
  idpClient?: { clientId: string; clientSecret: string }
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

function signer(alg: Algorithm, privateKey: KeyObject): (input: string) => Buffer {
  const data = (input: string): Buffer => Buffer.from(input)
  if (alg === 'RS256') return (input) => sign('sha256', data(input), privateKey)
  if (alg === 'ES256') return (input) => sign('sha256', data(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
  return (input) => sign(null, data(input), privateKey)
}

const KID: Record<Algorithm, string> = { RS256: 'rsa-1', ES256: 'ec-1', EdDSA: 'ed-1' }

/** Access tokens shaped like RFC 9068's: typ at+jwt, iss, aud, sub, client_id, scope, iat, exp, jti. */
function minter(alg: Algorithm, privateKey: KeyObject): (sub: string) => string {
  const signWith = signer(alg, privateKey)
  const header = b64({ alg, kid: KID[alg], typ: 'at+jwt' })
  const iat = Math.floor(Date.now() / 1000)
  let serial = 0
  return (sub) => {
    const claims = { iss: ISSUER, aud: AUDIENCE, sub, client_id: 'bench', scope: 'orders:read orders:write', iat, exp: iat + 7200, jti: `j-${alg}-${serial++}` }
    const input = `${header}.${b64(claims)}`
    return `${input}.${signWith(input).toString('base64url')}`
  }
}

export function makeFixtures(poolSize = 4_000): Fixtures {
  const pairs = {
    RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    EdDSA: generateKeyPairSync('ed25519'),
  }
  const keys = {} as Record<Algorithm, KeyFixture>
  const pools = {} as Record<Algorithm, string[]>
  const mint = {} as Record<Algorithm, (sub: string) => string>
  for (const alg of ALGORITHMS) {
    const { publicKey, privateKey } = pairs[alg]
    keys[alg] = {
      publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: KID[alg], alg, use: 'sig' },
      publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }
    mint[alg] = minter(alg, privateKey)
    pools[alg] = Array.from({ length: poolSize }, (_, i) => mint[alg](`user-${i}`))
  }
  return {
    keys,
    pools,
    rs256: mint.RS256('alice'),
    es256: mint.ES256('alice'),
    mix: Array.from({ length: 1_000 }, (_, i) => mint.RS256(`mix-${i}`)),
    burst: mint.RS256('burst'),
  }
}

export const saveFixtures = (path: string, fixtures: Fixtures): void => writeFileSync(path, JSON.stringify(fixtures))
export const loadFixtures = (path: string): Fixtures => JSON.parse(readFileSync(path, 'utf8')) as Fixtures
