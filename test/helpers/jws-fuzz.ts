// The differential test of providers/jws.ts and providers/jwt-claims.ts against jose: generated
// and mutated tokens, key sets and options (fast-check), each verified by both; they must both
// accept (with the same payload) or both refuse. Where ours is stricter by design, the case is
// recognised from the token itself and ours must refuse. Used by the test (bounded) and by
// `npm run fuzz:jws` (long).
import { createHmac, generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto'
import fc from 'fast-check'
import { compactVerify, createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyOptions } from 'jose'
import { objectMemberNames } from '../../providers/json-names.js'
import { JwkSet, publicSigningKeys } from '../../providers/jwks.js'
import { verifyCompactJws } from '../../providers/jws.js'
import { presenceOrder, verifiedClaims, type ClaimsRules } from '../../providers/jwt-claims.js'
import { ASYMMETRIC_ALGORITHMS } from '../../providers/jwt.js'

export const ISSUER = 'https://issuer.fuzz.test/'
export const AUDIENCE = 'api://fuzz'
/** A fixed clock (whole seconds plus a fraction, as real clocks are). */
export const NOW_MS = 1_800_000_000_500
const NOW = Math.floor(NOW_MS / 1000)

// ---------------------------------------------------------------------------------------------
// Keys: a pool made once; key sets are built from it.

interface PoolKey {
  name: string
  privateKey: KeyObject | undefined
  jwk: Record<string, unknown>
  /** The algs this key signs naturally. */
  algs: string[]
}

function poolKey(name: string, pair: { privateKey: KeyObject; publicKey: KeyObject }, algs: string[], canSign = true): PoolKey {
  return { name, privateKey: canSign ? pair.privateKey : undefined, jwk: pair.publicKey.export({ format: 'jwk' }), algs }
}

const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
export const POOL: readonly PoolKey[] = [
  poolKey('rsa-a', generateKeyPairSync('rsa', { modulusLength: 2048 }), RSA_ALGS),
  poolKey('rsa-b', generateKeyPairSync('rsa', { modulusLength: 2048 }), RSA_ALGS),
  poolKey('rsa-1024', generateKeyPairSync('rsa', { modulusLength: 1024 }), RSA_ALGS),
  poolKey('p256-a', generateKeyPairSync('ec', { namedCurve: 'P-256' }), ['ES256']),
  poolKey('p256-b', generateKeyPairSync('ec', { namedCurve: 'P-256' }), ['ES256']),
  poolKey('p384', generateKeyPairSync('ec', { namedCurve: 'P-384' }), ['ES384']),
  poolKey('p521', generateKeyPairSync('ec', { namedCurve: 'P-521' }), ['ES512']),
  poolKey('secp256k1', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }), ['ES256']),
  poolKey('ed25519-a', generateKeyPairSync('ed25519'), ['EdDSA', 'Ed25519']),
  poolKey('ed25519-b', generateKeyPairSync('ed25519'), ['EdDSA', 'Ed25519']),
  poolKey('ed448', generateKeyPairSync('ed448'), ['EdDSA']),
  poolKey('x25519', generateKeyPairSync('x25519'), [], false),
]

const KIDS = ['k1', 'k2', 'k3'] as const

export interface JwkSpec {
  key: number
  kid: string | number | undefined
  alg: 'natural' | 'other' | undefined
  use: 'sig' | 'enc' | 5 | undefined
  keyOps: readonly string[] | 'string' | undefined
  ext: boolean | 'yes' | undefined
  corrupt: 'none' | 'crv' | 'x-short' | 'x-padded' | 'private' | 'oct'
}

const jwkSpec: fc.Arbitrary<JwkSpec> = fc.record({
  // Mostly keys that can verify something; sometimes one that never can (too small, another curve).
  key: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1, 3, 4, 5, 6, 8, 9) }, { weight: 1, arbitrary: fc.constantFrom(2, 7, 10, 11) }),
  kid: fc.oneof({ weight: 8, arbitrary: fc.constantFrom<string | undefined>(...KIDS, undefined) }, { weight: 1, arbitrary: fc.constantFrom(5, 'k1 ') }),
  alg: fc.oneof({ weight: 10, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constant('natural' as const) }, { weight: 1, arbitrary: fc.constant('other' as const) }),
  use: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constantFrom('sig' as const, 'enc' as const, 5 as const) }),
  keyOps: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, {
    weight: 1,
    arbitrary: fc.constantFrom<readonly string[] | 'string'>(['verify'], ['sign'], ['verify', 'sign'], ['verify', 'verify'], ['verify', 'encrypt'], [], 'string'),
  }),
  ext: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(true, false, 'yes' as const) }),
  corrupt: fc.oneof({ weight: 20, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: fc.constantFrom('crv' as const, 'x-short' as const, 'x-padded' as const, 'private' as const, 'oct' as const) }),
})

function jwkOf(spec: JwkSpec): Record<string, unknown> {
  const base = POOL[spec.key]!
  const jwk: Record<string, unknown> = { ...base.jwk }
  if (spec.kid !== undefined) jwk.kid = spec.kid
  if (spec.alg === 'natural') jwk.alg = base.algs[0] ?? 'ES256'
  if (spec.alg === 'other') jwk.alg = base.algs.includes('RS256') ? 'PS256' : 'RS256'
  if (spec.use !== undefined) jwk.use = spec.use
  if (spec.keyOps !== undefined) jwk.key_ops = spec.keyOps === 'string' ? 'verify' : [...spec.keyOps]
  if (spec.ext !== undefined) jwk.ext = spec.ext
  switch (spec.corrupt) {
    case 'crv': if (typeof jwk.crv === 'string') jwk.crv = jwk.crv === 'P-256' ? 'P-384' : jwk.crv === 'Ed25519' ? 'Ed448' : 'P-256'; break
    case 'x-short': if (typeof jwk.x === 'string') jwk.x = jwk.x.slice(1); if (typeof jwk.n === 'string') jwk.n = jwk.n.slice(4); break
    case 'x-padded': if (typeof jwk.x === 'string') jwk.x = `${jwk.x}=`; if (typeof jwk.n === 'string') jwk.n = `AAAA${jwk.n}`; break
    case 'private': jwk.d = 'AQAB'; break
    case 'oct': return { kty: 'oct', k: Buffer.from('a-secret').toString('base64url'), ...(spec.kid === undefined ? {} : { kid: spec.kid }) }
    case 'none': break
  }
  return jwk
}

// ---------------------------------------------------------------------------------------------
// Tokens

const ALL_ALGS = [...ASYMMETRIC_ALGORITHMS, 'HS256', 'none', 'RSA-OAEP', 'rs256', 'ES256K']

export interface TokenSpec {
  /** Index into the set's keys (signer from the set) or into the pool. */
  signer: { fromSet: boolean; index: number }
  /** The header alg: the signer's natural one, or any. */
  alg: { natural: boolean; index: number }
  kid: 'signer' | 'none' | 'other' | 'number' | 'null' | 'array'
  typ: string | number | undefined
  extra: string
  headerText: 'plain' | 'spaced' | 'escaped-alg' | 'escaped-kid' | 'dup-alg' | 'dup-kid-escaped' | 'escaped-b64' | 'bom' | 'non-utf8' | 'garbage-after'
  claims: Record<string, ClaimChoice>
  payloadText: 'plain' | 'array' | 'null' | 'string' | 'not-json' | 'bom' | 'non-utf8' | 'exp-1e400' | 'dup-exp' | 'empty'
  /** Text-level change to a segment before signing (ours refuses non-canonical encodings). */
  preSign: 'none' | 'pad-header' | 'noncanonical-payload' | 'space-in-payload'
  mutation: { kind: Mutation; at: number; bit: number }
}

type ClaimChoice = number
type Mutation = 'none' | 'sig-bitflip' | 'sig-truncate' | 'sig-extend' | 'sig-empty' | 'payload-char' | 'header-char' | 'sig-pad' | 'sig-noncanonical'
  | 'extra-segment' | 'two-segments' | 'plus-slash' | 'swap-alg-none'

const HEADER_EXTRAS: ReadonlyArray<Record<string, unknown>> = [
  {}, {}, {}, {}, {}, {}, {}, {},
  { crit: ['b64'], b64: false }, { crit: ['b64'], b64: true }, { b64: true }, { b64: false }, { crit: ['exp'], exp: 1 }, { crit: [] },
  { crit: 'b64', b64: true }, { crit: ['b64'] }, { cty: 'JWT' }, { jwk: { kty: 'oct', k: 'AA' } }, { x5u: 'http://127.0.0.1:1/x' },
  { nested: { alg: 'none', kid: 'k2' } }, { list: ['alg', { b64: false }] }, { zip: 'DEF' }, { enc: 'A256GCM' },
]

/** Choices per claim: an index into its list of values (the last ones hostile). */
const CLAIM_VALUES: Readonly<Record<string, readonly unknown[]>> = {
  iss: [ISSUER, ISSUER, ISSUER, undefined, 'https://other.fuzz.test/', [ISSUER], 'https://alias.fuzz.test/', null],
  aud: [AUDIENCE, AUDIENCE, [AUDIENCE, 'api://x'], ['api://x'], undefined, 'api://x', 5, null, [5, AUDIENCE], '', { 0: AUDIENCE }],
  exp: [NOW + 600, NOW + 600, NOW - 3, NOW - 5, NOW - 6, NOW, NOW + 0.5, undefined, '9999999999', null, 1.5, -1],
  nbf: [undefined, undefined, NOW + 4, NOW + 5, NOW + 6, NOW - 100, 'x', null],
  iat: [NOW, undefined, NOW + 3600, 'now', null, -5],
  sub: ['alice', 'alice', undefined, 1, null, ''],
  jti: [undefined, 'j1', 7],
  scope: ['read', undefined, ['read']],
}

const tokenSpec: fc.Arbitrary<TokenSpec> = fc.record({
  signer: fc.record({ fromSet: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), index: fc.nat(20) }),
  alg: fc.record({ natural: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), index: fc.nat(40) }),
  kid: fc.oneof({ weight: 24, arbitrary: fc.constant('signer' as const) }, { weight: 3, arbitrary: fc.constantFrom('none' as const, 'other' as const, 'number' as const, 'null' as const, 'array' as const) }),
  typ: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: fc.constant('at+jwt') }, { weight: 2, arbitrary: fc.constantFrom('application/at+jwt', 'AT+JWT', 'JWT', 'application/jwt', 5) }),
  extra: fc.oneof({ weight: 16, arbitrary: fc.constant('{}') }, { weight: 3, arbitrary: fc.constantFrom(...HEADER_EXTRAS.map((extra) => JSON.stringify(extra))) }),
  headerText: fc.oneof(
    { weight: 40, arbitrary: fc.constant('plain' as const) },
    { weight: 5, arbitrary: fc.constantFrom('spaced' as const, 'escaped-alg' as const, 'escaped-kid' as const, 'dup-alg' as const, 'dup-kid-escaped' as const, 'escaped-b64' as const, 'bom' as const, 'non-utf8' as const, 'garbage-after' as const) },
  ),
  claims: fc.record(Object.fromEntries(Object.entries(CLAIM_VALUES).map(([name, values]) => [name, fc.oneof(
    { weight: 14, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.nat(values.length - 1) },
  )]))),
  payloadText: fc.oneof(
    { weight: 20, arbitrary: fc.constant('plain' as const) },
    { weight: 2, arbitrary: fc.constantFrom('array' as const, 'null' as const, 'string' as const, 'not-json' as const, 'bom' as const, 'non-utf8' as const, 'exp-1e400' as const, 'dup-exp' as const, 'empty' as const) },
  ),
  preSign: fc.oneof({ weight: 20, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: fc.constantFrom('pad-header' as const, 'noncanonical-payload' as const, 'space-in-payload' as const) }),
  mutation: fc.record({
    kind: fc.oneof(
      { weight: 20, arbitrary: fc.constant('none' as const) },
      { weight: 6, arbitrary: fc.constantFrom<Mutation>('sig-bitflip', 'sig-truncate', 'sig-extend', 'sig-empty', 'payload-char', 'header-char', 'sig-pad', 'sig-noncanonical', 'extra-segment', 'two-segments', 'plus-slash', 'swap-alg-none') },
    ),
    at: fc.nat(10_000),
    bit: fc.nat(7),
  }),
})

export interface OptionsSpec {
  algorithms: readonly string[] | undefined
  typ: string | undefined
  clockTolerance: number
  requiredClaims: readonly string[]
  audience: string | readonly string[]
  aliases: boolean
}

const optionsSpec: fc.Arbitrary<OptionsSpec> = fc.record({
  algorithms: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.subarray([...ASYMMETRIC_ALGORITHMS], { minLength: 1 }) }),
  typ: fc.constantFrom(undefined, undefined, undefined, 'at+jwt', 'application/at+jwt', 'JWT'),
  clockTolerance: fc.constantFrom(0, 5, 5, 60),
  requiredClaims: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.subarray(['exp', 'jti', 'sub', 'nbf']) }),
  audience: fc.constantFrom<string | readonly string[]>(AUDIENCE, AUDIENCE, [AUDIENCE, 'api://x'], ['api://y', 'api://x']),
  aliases: fc.boolean(),
})

export interface Case {
  keys: JwkSpec[]
  token: TokenSpec
  options: OptionsSpec
}

export const caseArbitrary: fc.Arbitrary<Case> = fc.record({
  keys: fc.array(jwkSpec, { minLength: 1, maxLength: 4 }),
  token: tokenSpec,
  options: optionsSpec,
})

const b64 = (bytes: Buffer | string): string => Buffer.from(bytes).toString('base64url')

/** The signature for `alg` by `key`; when the key cannot make one (a mismatch), bytes that look like one. */
function signatureOf(alg: string, key: PoolKey | undefined, input: string, at: number): Buffer {
  const data = Buffer.from(input)
  const bits = Number(alg.slice(2)) || 256
  const privateKey = key?.privateKey
  try {
    if (alg === 'none') return Buffer.alloc(0)
    if (alg === 'HS256') return createHmac('sha256', JSON.stringify(key?.jwk ?? {})).update(input).digest()
    if (privateKey === undefined) throw new Error('no private key')
    const type = privateKey.asymmetricKeyType
    if (type === 'ed25519' || type === 'ed448') return sign(null, data, privateKey)
    // Now and then the classic mistakes: an ECDSA signature in DER, a PSS salt of another length.
    if (type === 'ec') return sign(`sha${bits}`, data, { key: privateKey, dsaEncoding: at % 13 === 0 ? 'der' : 'ieee-p1363' })
    if (alg.startsWith('PS')) return sign(`sha${bits}`, data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: at % 11 === 0 ? 20 : bits / 8 })
    return sign(`sha${bits}`, data, privateKey)
  } catch {
    return Buffer.alloc(32 + (at % 100), at % 251)
  }
}

function headerTextOf(header: Record<string, unknown>, variant: TokenSpec['headerText']): Buffer {
  const text = JSON.stringify(header)
  switch (variant) {
    case 'plain': return Buffer.from(text)
    case 'spaced': return Buffer.from(JSON.stringify(header, null, 1).replace(/\n/g, '\r\n\t'))
    case 'escaped-alg': return Buffer.from(text.replace('"alg"', '"\\u0061lg"'))
    case 'escaped-kid': return Buffer.from(text.replace('"kid"', '"k\\u0069d"'))
    case 'dup-alg': return Buffer.from(`${text.slice(0, -1)},"alg":${JSON.stringify(header.alg === 'RS256' ? 'ES256' : header.alg)}}`)
    case 'dup-kid-escaped': return Buffer.from(`${text.slice(0, -1)},"\\u006bid":"k2"}`)
    case 'escaped-b64': return Buffer.from(`${text.slice(0, -1)},"\\u0062\\u0036\\u0034":true}`)
    case 'bom': return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])
    case 'non-utf8': return Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from(',"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])
    case 'garbage-after': return Buffer.from(`${text} x`)
  }
}

function payloadTextOf(claims: Record<string, unknown>, variant: TokenSpec['payloadText']): Buffer {
  const text = JSON.stringify(claims)
  switch (variant) {
    case 'plain': return Buffer.from(text)
    case 'array': return Buffer.from(`[${text}]`)
    case 'null': return Buffer.from('null')
    case 'string': return Buffer.from(JSON.stringify(text))
    case 'not-json': return Buffer.from(text.slice(0, -1))
    case 'bom': return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])
    case 'non-utf8': return Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from(',"x":"'), Buffer.from([0xff]), Buffer.from('"}')])
    case 'exp-1e400': return Buffer.from(`${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"exp":1e400}`)
    case 'dup-exp': return Buffer.from(`{"exp":${NOW - 1000},${text.slice(1)}`)
    case 'empty': return Buffer.alloc(0)
  }
}

/** A base64url string whose last character carries non-zero padding bits: same bytes, another string. */
function nonCanonical(segment: string): string {
  if (segment.length % 4 === 0 || segment.length === 0) return `${segment}=`
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(segment[segment.length - 1]!)
  const spare = segment.length % 4 === 2 ? 0b1111 : 0b11
  return segment.slice(0, -1) + alphabet[(last & ~spare) | ((last & spare) ^ 1)]
}

function mutate(token: string, { kind, at, bit }: TokenSpec['mutation']): string {
  const [header = '', payload = '', signature = ''] = token.split('.')
  const sig = Buffer.from(signature, 'base64url')
  const swapChar = (segment: string): string => {
    if (segment.length === 0) return 'A'
    const i = at % segment.length
    return segment.slice(0, i) + (segment[i] === 'A' ? 'B' : 'A') + segment.slice(i + 1)
  }
  switch (kind) {
    case 'none': return token
    case 'sig-bitflip': {
      if (sig.length === 0) return `${header}.${payload}.AA`
      sig[at % sig.length]! ^= 1 << bit
      return `${header}.${payload}.${b64(sig)}`
    }
    case 'sig-truncate': return `${header}.${payload}.${b64(sig.subarray(0, Math.max(0, sig.length - 1 - (at % 4))))}`
    case 'sig-extend': return `${header}.${payload}.${b64(Buffer.concat([sig, Buffer.from([at % 256])]))}`
    case 'sig-empty': return `${header}.${payload}.`
    case 'payload-char': return `${header}.${swapChar(payload)}.${signature}`
    case 'header-char': return `${swapChar(header)}.${payload}.${signature}`
    case 'sig-pad': return `${header}.${payload}.${signature}${'='.repeat(1 + (at % 2))}`
    case 'sig-noncanonical': return `${header}.${payload}.${nonCanonical(signature)}`
    case 'extra-segment': return `${token}.${b64('x')}`
    case 'two-segments': return `${header}.${payload}`
    case 'plus-slash': return `${header}.${payload}.${signature.replace(/-/g, '+').replace(/_/g, '/')}`
    case 'swap-alg-none': return `${b64(JSON.stringify({ alg: 'none' }))}.${payload}.`
  }
}

export interface Built {
  token: string
  set: JSONWebKeySet
  options: OptionsSpec
}

/** The token, the (filtered) key set and the options a case describes. */
export function build(c: Case): Built {
  const jwks = c.keys.map(jwkOf)
  const set = publicSigningKeys({ keys: jwks })
  const t = c.token
  const signerFromSet = t.signer.fromSet && c.keys.length > 0
  const signerSpec = signerFromSet ? c.keys[t.signer.index % c.keys.length]! : undefined
  const signer = POOL[signerSpec !== undefined ? signerSpec.key : t.signer.index % POOL.length]!
  const natural = signer.algs.length > 0 && t.alg.natural
  // The alg the signer's JWK names, when it names one; else one of the key's family.
  const named = signerSpec?.alg === 'natural' ? signer.algs[0] : undefined
  const alg = natural ? named ?? signer.algs[t.alg.index % signer.algs.length]! : ALL_ALGS[t.alg.index % ALL_ALGS.length]!
  const header: Record<string, unknown> = { alg }
  switch (t.kid) {
    case 'signer': if (signerSpec?.kid !== undefined) header.kid = signerSpec.kid; break
    case 'other': header.kid = 'k9'; break
    case 'number': header.kid = 1; break
    case 'null': header.kid = null; break
    case 'array': header.kid = ['k1']; break
    case 'none': break
  }
  if (t.typ !== undefined) header.typ = t.typ
  Object.assign(header, JSON.parse(t.extra) as Record<string, unknown>)
  const claims: Record<string, unknown> = {}
  for (const [name, values] of Object.entries(CLAIM_VALUES)) {
    const value = values[t.claims[name] ?? 0]
    if (value !== undefined) claims[name] = value
  }
  let headerSegment = b64(headerTextOf(header, t.headerText))
  let payloadSegment = b64(payloadTextOf(claims, t.payloadText))
  if (t.preSign === 'pad-header') headerSegment = nonCanonical(headerSegment)
  if (t.preSign === 'noncanonical-payload') payloadSegment = nonCanonical(payloadSegment)
  if (t.preSign === 'space-in-payload') payloadSegment = `${payloadSegment.slice(0, 4)} ${payloadSegment.slice(4)}`
  const input = `${headerSegment}.${payloadSegment}`
  const token = mutate(`${input}.${b64(signatureOf(alg, signer, input, t.mutation.at))}`, t.mutation)
  return { token, set, options: c.options }
}

// ---------------------------------------------------------------------------------------------
// The two verifiers

export type Verdict = { ok: true; payload: unknown } | { ok: false; code: string }

const refused = (err: unknown): Verdict => ({ ok: false, code: String((err as { code?: unknown }).code ?? (err as Error).name) })

function joseOptions(options: OptionsSpec): JWTVerifyOptions {
  return {
    algorithms: [...(options.algorithms ?? ASYMMETRIC_ALGORITHMS)],
    issuer: options.aliases ? [ISSUER, 'https://alias.fuzz.test/'] : ISSUER,
    audience: typeof options.audience === 'string' ? options.audience : [...options.audience],
    clockTolerance: options.clockTolerance,
    requiredClaims: [...options.requiredClaims],
    currentDate: new Date(NOW_MS),
    ...(options.typ === undefined ? {} : { typ: options.typ }),
  }
}

export async function joseVerdicts({ token, set, options }: Built): Promise<{ compact: Verdict; jwt: Verdict }> {
  const keys = createLocalJWKSet(set)
  const verifyOptions = joseOptions(options)
  let compact: Verdict
  let jwt: Verdict
  try {
    compact = { ok: true, payload: Buffer.from((await compactVerify(token, keys, { algorithms: verifyOptions.algorithms! })).payload) }
  } catch (err) {
    compact = refused(err)
  }
  try {
    jwt = { ok: true, payload: (await jwtVerify(token, keys, verifyOptions)).payload }
  } catch (err) {
    jwt = refused(err)
  }
  return { compact, jwt }
}

export function ourVerdicts({ token, set, options }: Built): { compact: Verdict; jwt: Verdict } {
  const keys = new JwkSet(set)
  const allowed = new Set(options.algorithms ?? ASYMMETRIC_ALGORITHMS)
  const rules: ClaimsRules = {
    issuers: options.aliases ? [ISSUER, 'https://alias.fuzz.test/'] : [ISSUER],
    audience: typeof options.audience === 'string' ? [options.audience] : options.audience,
    typ: options.typ,
    requiredClaims: options.requiredClaims,
    clockTolerance: options.clockTolerance,
  }
  let verified
  try {
    verified = verifyCompactJws(token, keys, allowed)
  } catch (err) {
    return { compact: refused(err), jwt: refused(err) }
  }
  const compact: Verdict = { ok: true, payload: verified.payload }
  try {
    return { compact, jwt: { ok: true, payload: verifiedClaims(verified.header, verified.payload, rules, presenceOrder(rules), NOW_MS) } }
  } catch (err) {
    return { compact, jwt: refused(err) }
  }
}

/**
 * Where ours refuses by design what jose may accept, read from the token alone: what RFC 7515
 * leaves to two parsers to disagree on. Undefined when both must agree.
 */
export function stricterByDesign(token: string): { compact?: string; jwt?: string } {
  const segments = token.split('.')
  if (segments.length !== 3) return {}
  if (segments.some((segment) => Buffer.from(segment, 'base64url').toString('base64url') !== segment)) {
    return { compact: 'non-canonical base64url', jwt: 'non-canonical base64url' }
  }
  let text = Buffer.from(segments[0]!, 'base64url').toString('utf8')
  if (text.startsWith('\ufeff')) text = text.slice(1)
  const names = objectMemberNames(text)
  if (names !== undefined && new Set(names).size !== names.length) return { compact: 'duplicate header member names', jwt: 'duplicate header member names' }
  if (names?.includes('b64')) return { compact: 'b64 header member', jwt: 'b64 header member' }
  try {
    const claims = JSON.parse(Buffer.from(segments[1]!, 'base64url').toString('utf8').replace(/^\ufeff/, '')) as Record<string, unknown>
    if (['iat', 'nbf', 'exp'].some((name) => typeof claims?.[name] === 'number' && !Number.isFinite(claims[name]))) return { jwt: 'non-finite NumericDate' }
  } catch {
    // not JSON: both refuse
  }
  return {}
}

const describe = (verdict: Verdict): string => verdict.ok ? `accepted ${JSON.stringify(Buffer.isBuffer(verdict.payload) ? verdict.payload.toString('base64url') : verdict.payload)}` : `refused (${verdict.code})`

function same(a: Verdict, b: Verdict): boolean {
  if (a.ok !== b.ok) return false
  if (!a.ok || !b.ok) return true
  if (Buffer.isBuffer(a.payload) || Buffer.isBuffer(b.payload)) return Buffer.compare(Buffer.from(a.payload as Buffer), Buffer.from(b.payload as Buffer)) === 0
  return JSON.stringify(a.payload) === JSON.stringify(b.payload)
}

export interface Tally {
  cases: number
  /** Verdicts (compact and jwt, two per case) where both accepted with the same payload, or both refused. */
  agreedAccepted: number
  agreedRefused: number
  /** Verdicts where ours refused by design, per reason; and of those, how many jose accepted. */
  stricter: Record<string, number>
  stricterJoseAccepted: Record<string, number>
}

export const newTally = (): Tally => ({ cases: 0, agreedAccepted: 0, agreedRefused: 0, stricter: {}, stricterJoseAccepted: {} })

/** One case: throws (with both verdicts) when ours and jose disagree where they must agree. */
export async function check(c: Case, tally: Tally): Promise<void> {
  const built = build(c)
  const theirs = await joseVerdicts(built)
  const ours = ourVerdicts(built)
  const stricter = stricterByDesign(built.token)
  tally.cases++
  for (const kind of ['compact', 'jwt'] as const) {
    const why = stricter[kind]
    if (why !== undefined) {
      if (ours[kind].ok) throw new Error(`${kind}: ours accepted a token it must refuse (${why}): ${built.token}`)
      tally.stricter[why] = (tally.stricter[why] ?? 0) + 1
      if (theirs[kind].ok) tally.stricterJoseAccepted[why] = (tally.stricterJoseAccepted[why] ?? 0) + 1
      continue
    }
    if (!same(ours[kind], theirs[kind])) {
      throw new Error(`${kind}: ours ${describe(ours[kind])}, jose ${describe(theirs[kind])}\ntoken ${built.token}\nkeys ${JSON.stringify(built.set)}\noptions ${JSON.stringify(built.options)}`)
    }
    if (ours[kind].ok) tally.agreedAccepted++
    else tally.agreedRefused++
  }
}

/** Runs `numRuns` generated cases; resolves with the tally, rejects with fast-check's report (seed and shrunk case). */
export async function differential(numRuns: number, seed?: number): Promise<Tally> {
  const tally = newTally()
  await fc.assert(fc.asyncProperty(caseArbitrary, (c) => check(c, tally)), { numRuns, ...(seed === undefined ? {} : { seed }) })
  return tally
}
