// Compact JWS verification (RFC 7515 §5.2) on node:crypto, synchronous: a token in, its verified
// protected header and payload bytes out. Asymmetric algorithms only (RFC 7518 §3, RFC 8037),
// each bound to its key type and curve; stricter than jose where JOSE leaves room for two parsers
// to disagree (duplicate or escaped header names, `b64`, non-canonical base64url).
import { isUtf8 } from 'node:buffer'
import { constants, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto'
import { objectMemberNames } from './json-names.js'

/**
 * A refusal, coded as jose codes its errors (`ERR_JWS_INVALID`, `ERR_JWKS_NO_MATCHING_KEY`…), so
 * that one mapping turns either into the public message and the failure reason.
 */
export class JoseFailure extends Error {
  override name = 'JoseFailure'
  /**
   * @param claim the claim a claims check failed on (as jose's JWTClaimValidationFailed)
   * @param reason jose's word for how: `missing`, `invalid` (wrong type), `check_failed`
   */
  constructor(readonly code: string, message: string, readonly claim?: string, readonly reason?: 'missing' | 'invalid' | 'check_failed') {
    super(message)
  }
}

export type KeyType = 'rsa' | 'ec' | 'ed25519'

/** What an `alg` demands of its key and how node:crypto checks it. */
export interface JwsAlgorithm {
  readonly alg: string
  /** The JWK `kty` and `crv` a key must have (RFC 7518 §6, RFC 8037 §2). */
  readonly kty: 'RSA' | 'EC' | 'OKP'
  readonly crv: string | undefined
  /** The KeyObject the JWK must have become. */
  readonly keyType: KeyType
  readonly namedCurve: string | undefined
  /** Digest for crypto.verify; null for Ed25519, which hashes by itself. */
  readonly hash: string | null
  /** RSASSA-PSS with a salt as long as the hash (RFC 7518 §3.5). */
  readonly pssSaltLength: number | undefined
  /** As jose (and RFC 7518 §3.3, §3.5): smaller RSA keys are refused. */
  readonly minRsaBits: number | undefined
}

const rsa = (alg: string, bits: number, pss: boolean): JwsAlgorithm => ({
  alg, kty: 'RSA', crv: undefined, keyType: 'rsa', namedCurve: undefined, hash: `sha${bits}`, pssSaltLength: pss ? bits / 8 : undefined, minRsaBits: 2048,
})
const ecdsa = (alg: string, bits: number, crv: string, namedCurve: string): JwsAlgorithm => ({
  alg, kty: 'EC', crv, keyType: 'ec', namedCurve, hash: `sha${bits}`, pssSaltLength: undefined, minRsaBits: undefined,
})
const ed25519 = (alg: string): JwsAlgorithm => ({
  alg, kty: 'OKP', crv: 'Ed25519', keyType: 'ed25519', namedCurve: undefined, hash: null, pssSaltLength: undefined, minRsaBits: undefined,
})

/** Every algorithm this verifier knows; `none` and HMAC are not among them, by design. */
export const JWS_ALGORITHMS: ReadonlyMap<string, JwsAlgorithm> = new Map([
  rsa('RS256', 256, false), rsa('RS384', 384, false), rsa('RS512', 512, false),
  rsa('PS256', 256, true), rsa('PS384', 384, true), rsa('PS512', 512, true),
  ecdsa('ES256', 256, 'P-256', 'prime256v1'), ecdsa('ES384', 384, 'P-384', 'secp384r1'), ecdsa('ES512', 512, 'P-521', 'secp521r1'),
  ed25519('EdDSA'), ed25519('Ed25519'),
].map((entry) => [entry.alg, Object.freeze(entry)]))

/** The node:crypto key input that checks `alg` with `key` (padding and signature encoding included). */
export function verifyInput(key: KeyObject, algorithm: JwsAlgorithm): KeyObject | VerifyKeyObjectInput {
  if (algorithm.pssSaltLength !== undefined) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.pssSaltLength }
  if (algorithm.keyType === 'ec') return { key, dsaEncoding: 'ieee-p1363' }
  return key
}

/**
 * Whether a KeyObject is the kind `alg` names: RSA of at least 2,048 bits for RS and PS, the
 * curve of ES256/384/512, Ed25519 for EdDSA. Checked once per key and algorithm.
 */
export function keyFits(key: KeyObject, algorithm: JwsAlgorithm): boolean {
  if (key.type !== 'public' || key.asymmetricKeyType !== algorithm.keyType) return false
  const details = key.asymmetricKeyDetails
  if (algorithm.namedCurve !== undefined && details?.namedCurve !== algorithm.namedCurve) return false
  return algorithm.minRsaBits === undefined || (details?.modulusLength ?? 0) >= algorithm.minRsaBits
}

/** The protected header, parsed once per distinct header (a JSON object). */
export type JoseHeader = Readonly<Record<string, unknown>>

/** Where the key for a header is found (a JwkSet). */
export interface KeySource {
  /** The key for a header whose `alg` is allowed; throws JoseFailure when none fits. */
  keyFor(header: JoseHeader, algorithm: JwsAlgorithm): KeyObject | VerifyKeyObjectInput
}

export interface VerifiedJws {
  header: JoseHeader
  payload: Buffer
}

const malformed = (message: string): JoseFailure => new JoseFailure('ERR_JWS_INVALID', message)

/**
 * A base64url segment, decoded; only the canonical unpadded encoding (RFC 7515 §2): anything else
 * would give one signature many token strings.
 */
export function decodeSegment(segment: string, what: string): Buffer {
  const bytes = Buffer.from(segment, 'base64url')
  if (bytes.toString('base64url') !== segment) throw malformed(`the ${what} is not canonical base64url`)
  return bytes
}

/** UTF-8 text, refused when not well-formed (as jose's fatal TextDecoder, which also drops a BOM). */
export function utf8Text(bytes: Buffer, what: string): string {
  if (!isUtf8(bytes)) throw malformed(`the ${what} is not UTF-8`)
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
  return bytes.toString('utf8', bom ? 3 : 0)
}

/**
 * The protected header: one JSON object whose member names, compared after unescaping, are all
 * distinct (RFC 7515 §4: JSON.parse keeps the last `alg`, another parser the first); no `b64`
 * (RFC 7797: another payload encoding) and no `crit` (no extension is understood here).
 */
function parseHeader(segment: string): JoseHeader {
  const text = utf8Text(decodeSegment(segment, 'protected header'), 'protected header')
  const names = objectMemberNames(text)
  if (names === undefined) throw malformed('the protected header is not a JSON object')
  if (new Set(names).size !== names.length) throw malformed('duplicate protected header member')
  if (names.includes('b64')) throw malformed('b64 header member')
  if (names.includes('crit')) throw new JoseFailure('ERR_JOSE_NOT_SUPPORTED', 'crit header member: no extension is understood')
  return Object.freeze(JSON.parse(text) as Record<string, unknown>)
}

// Tokens from one identity provider share a handful of headers (alg, kid, typ): parse each once.
// Bounded in count and size, so that made-up headers cannot grow it.
const HEADER_CACHE_MAX = 64
const HEADER_CACHE_SEGMENT_MAX = 512
const headers = new Map<string, JoseHeader>()

function headerOf(segment: string): JoseHeader {
  const known = headers.get(segment)
  if (known !== undefined) return known
  const header = parseHeader(segment)
  if (segment.length <= HEADER_CACHE_SEGMENT_MAX) {
    if (headers.size >= HEADER_CACHE_MAX) headers.delete(headers.keys().next().value as string)
    headers.set(segment, header)
  }
  return header
}

/** A compact JWS whose header is read and whose `alg` is allowed, its signature not yet checked. */
export interface CompactJws {
  readonly token: string
  readonly header: JoseHeader
  readonly algorithm: JwsAlgorithm
  /** Indexes of the two dots. */
  readonly first: number
  readonly second: number
}

/**
 * The first steps of RFC 7515 §5.2, before any key is needed: three segments, the protected header
 * (see parseHeader), an `alg` this verifier knows and `allowed` holds. Throws JoseFailure.
 */
export function decodeCompactJws(token: string, allowed: ReadonlySet<string>): CompactJws {
  const first = token.indexOf('.')
  const second = first === -1 ? -1 : token.indexOf('.', first + 1)
  if (second === -1 || token.indexOf('.', second + 1) !== -1) throw new JoseFailure('ERR_JWS_NOT_COMPACT', 'not a compact JWS (three segments)')
  const header = headerOf(token.slice(0, first))
  const { alg } = header
  if (typeof alg !== 'string' || alg.length === 0) throw malformed('alg header member missing or not a string')
  const algorithm = JWS_ALGORITHMS.get(alg)
  if (!allowed.has(alg) || algorithm === undefined) throw new JoseFailure('ERR_JOSE_ALG_NOT_ALLOWED', `alg ${JSON.stringify(alg).slice(0, 40)} is not allowed`)
  return { token, header, algorithm, first, second }
}

/** The signature check with the key found for the header; the payload bytes when it holds. Throws JoseFailure. */
export function verifySignature(jws: CompactJws, key: KeyObject | VerifyKeyObjectInput): VerifiedJws {
  const { token, first, second } = jws
  // Canonical base64url for both: the signing input is then plain ASCII, as RFC 7515 §5.2 signs it.
  const payload = decodeSegment(token.slice(first + 1, second), 'payload')
  const signature = decodeSegment(token.slice(second + 1), 'signature')
  let valid: boolean
  try {
    valid = verify(jws.algorithm.hash, Buffer.from(token.slice(0, second), 'latin1'), key, signature)
  } catch {
    valid = false
  }
  if (!valid) throw new JoseFailure('ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'signature verification failed')
  return { header: jws.header, payload }
}

/** All of it: decodeCompactJws, the key `keys` hold for the header, verifySignature. Throws JoseFailure. */
export function verifyCompactJws(token: string, keys: KeySource, allowed: ReadonlySet<string>): VerifiedJws {
  const jws = decodeCompactJws(token, allowed)
  return verifySignature(jws, keys.keyFor(jws.header, jws.algorithm))
}
