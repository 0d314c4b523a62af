// Micro benchmarks, per operation (tinybench). The hot path of a cache hit: extraction, the cache
// key, the lookup, building the request's Auth, ticket verification. And one JWT verification,
// ours against its peers and the floor: the jwt provider's getPayload, our verifier alone, jose's
// jwtVerify, fast-jwt (what @fastify/jwt runs), and a bare crypto.verify of the signature, for
// RS256, ES256 and EdDSA, each over a pool of distinct tokens; and tokenAuth() with `cache: false`
// around the same provider, which shows what the pipeline adds to a verification.
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { createVerifier } from 'fast-jwt'
import { importJWK, jwtVerify } from 'jose'
import { Bench } from 'tinybench'
import { cacheKey, createCache, defineProvider, extractToken, tokenAuth } from '../src/index.js'
import { withToken } from '../src/auth.js'
import { NO_PROOF } from '../src/binding.js'
import { Engine, NO_RULE } from '../src/engine.js'
import { resolveSettings } from '../src/pipeline.js'
import { Tickets } from '../src/ticket.js'
import { JwkSet } from '../providers/jwks.js'
import { verifyCompactJws } from '../providers/jws.js'
import { presenceOrder, verifiedClaims } from '../providers/jwt-claims.js'
import { jwtProvider } from '../providers/jwt.js'
import { ALGORITHMS, AUDIENCE, ISSUER, makeFixtures, type Algorithm } from './fixtures.js'

const only = process.argv[2] // 'hit' or 'verify': one half
const fixtures = makeFixtures(1_000)
const token = fixtures.rs256
const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>
const provider = defineProvider({ name: 'micro', getPayload: async () => claims })
const cache = createCache()
await tokenAuth(token, provider, { cache })
const engine = new Engine({ provider, settings: resolveSettings({ cache }) })
const key = engine.keyOf(token)
const cached = cache.get(key)!
const header = `Bearer ${token}`
const rawHeaders = ['Host', '127.0.0.1', 'Authorization', header, 'Accept', '*/*']
const extractOptions = { maxTokenLength: 8192, allowQuery: false }

const tickets = new Tickets('a-benchmark-ticket-secret-0123456789abcdef')
const auth = withToken(cached, token)
const minted = Array.from({ length: 300_000 }, () => tickets.issue({ auth, namespace: engine.namespace, route: '/ws', key, ttl: 30_000 }))
let next = 0

const hit = new Bench({ time: 1000, warmupTime: 200 })
hit
  .add('extract Bearer from headers (token of ' + token.length + ' chars)', () => { extractToken({ authorization: header, rawHeaders }, extractOptions) })
  .add('cache key: SHA-256 of namespace + token', () => { cacheKey(engine.namespace, token) })
  .add('cache hit: key + LRU lookup + exp check', () => { cache.get(cacheKey(engine.namespace, token)) })
  .add('Auth for the request (withToken)', () => { withToken(cached, token) })
  .add('whole cached path (engine.authenticate, synchronous)', () => { void engine.authenticate(token, NO_PROOF, NO_RULE) })
  .add('ticket verify (HMAC-SHA256, parse)', () => { tickets.verify(minted[next++ % minted.length]!) })

const verification = new Bench({ time: 1500, warmupTime: 300 })
const ctx = { signal: new AbortController().signal, log: { trace() {}, debug() {}, info() {}, warn() {}, error() {} } }
const rules = { issuers: [ISSUER], audience: [AUDIENCE], typ: undefined, requiredClaims: ['exp'], clockTolerance: 5 }
const presence = presenceOrder(rules)
const HASH: Record<Algorithm, string | null> = { RS256: 'sha256', ES256: 'sha256', EdDSA: null }
for (const alg of ALGORITHMS) {
  const pool = fixtures.pools[alg]
  const jwk = fixtures.keys[alg].publicJwk
  let i = 0
  const nextToken = (): string => pool[i++ % pool.length]!
  const ours = jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys: { keys: [jwk] } })
  const keySet = new JwkSet({ keys: [jwk] })
  const allowed = new Set([alg])
  const joseKey = await importJWK(jwk, alg)
  const fast = createVerifier({ key: fixtures.keys[alg].publicPem, algorithms: [alg], allowedIss: ISSUER, allowedAud: AUDIENCE })
  const keyObject: KeyObject = createPublicKey({ key: jwk, format: 'jwk' })
  const split = pool.map((t) => {
    const dot = t.lastIndexOf('.')
    return { data: Buffer.from(t.slice(0, dot)), signature: Buffer.from(t.slice(dot + 1), 'base64url') }
  })
  const rawKey = alg === 'ES256' ? { key: keyObject, dsaEncoding: 'ieee-p1363' as const } : keyObject
  verification
    .add(`${alg}: ours, jwt provider getPayload (verify + claims)`, async () => { await ours.getPayload(nextToken(), ctx) })
    .add(`${alg}: ours, tokenAuth(token, provider, { cache: false }) (the pipeline around getPayload)`, async () => { await tokenAuth(nextToken(), ours, { cache: false }) })
    .add(`${alg}: ours, verifyCompactJws + verifiedClaims (synchronous)`, () => {
      const verified = verifyCompactJws(nextToken(), keySet, allowed)
      verifiedClaims(verified.header, verified.payload, rules, presence, Date.now())
    })
    .add(`${alg}: jose jwtVerify (WebCrypto)`, async () => { await jwtVerify(nextToken(), joseKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] }) })
    .add(`${alg}: fast-jwt verifier (what @fastify/jwt runs)`, () => { fast(nextToken()) })
    .add(`${alg}: floor, crypto.verify of the signature alone`, () => {
      const { data, signature } = split[i++ % split.length]!
      verify(HASH[alg], data, rawKey, signature)
    })
}

function print(bench: Bench): void {
  console.log('| operation | ns/op (mean) | ops/s |')
  console.log('| --- | ---: | ---: |')
  for (const task of bench.tasks) {
    const result = task.result as { latency?: { mean: number }; throughput?: { mean: number }; mean?: number; hz?: number } | undefined
    const meanMs = result?.latency?.mean ?? result?.mean ?? NaN
    const hz = result?.throughput?.mean ?? result?.hz ?? NaN
    console.log(`| ${task.name} | ${Math.round(meanMs * 1e6).toLocaleString('en')} | ${Math.round(hz).toLocaleString('en')} |`)
  }
}

if (only !== 'verify') {
  await hit.run()
  print(hit)
  console.log('')
}
if (only !== 'hit') {
  await verification.run()
  print(verification)
}
