// The hints of `inspect`, case by case: each names the difference between the token and what the
// API expects. (The CLI against the real identity provider is in cli.test.ts.)
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decodeToken } from '../src/inspect/decode.js'
import { hintsFor, humanDuration, isoTime, notesFor, type Expectations, type FailureFacts } from '../src/inspect/diagnose.js'
import type { FailureReason } from '../src/errors.js'
import { ASYMMETRIC_ALGORITHMS } from '../providers/jwt.js'

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
const jwt = (header: object, claims: object): string => `${b64(header)}.${b64(claims)}.c2ln`
const NOW = 1_800_000_000
const expected: Expectations = {
  method: 'jwt', issuer: 'https://idp.example/', audience: ['api://orders'], scopes: [], clockTolerance: 5,
  algorithms: ASYMMETRIC_ALGORITHMS, endpoint: 'https://idp.example/jwks',
}
const invalid = (message: string, detail?: string, reason?: FailureReason): FailureFacts =>
  ({ key: 'invalid_token', message, ...(detail === undefined ? {} : { detail }), ...(reason === undefined ? {} : { reason }) })
const good = { iss: 'https://idp.example/', aud: 'api://orders', sub: 'alice', exp: NOW + 600, iat: NOW - 10 }

describe('inspect hints', () => {
  test('humanDuration picks the largest whole unit', () => {
    assert.deepEqual([5, 119, 180, 7199, 7200, 172_799, 172_800].map(humanDuration), ['5 s', '119 s', '3 min', '119 min', '2 h', '47 h', '2 d'])
  })

  test('issuer: names both, and a trailing slash as the difference', () => {
    const hints = hintsFor(decodeToken(jwt({ alg: 'RS256' }, { ...good, iss: 'https://idp.example' })), expected, invalid('The access token was issued by another issuer'), { nowSeconds: NOW })
    assert.deepEqual(hints, ['token iss is https://idp.example, API expects https://idp.example/ (they differ by a trailing slash: issuers are compared exactly)'])
  })

  test('audience: a list, or absent', () => {
    const listed = hintsFor(decodeToken(jwt({ alg: 'RS256' }, { ...good, aud: ['api://a', 'api://b'] })), expected, invalid('x'), { nowSeconds: NOW })
    assert.deepEqual(listed, ['token aud is api://a, api://b, API expects api://orders'])
    const { aud: _none, ...noAud } = good
    assert.deepEqual(hintsFor(decodeToken(jwt({ alg: 'RS256' }, noAud)), expected, invalid('x'), { nowSeconds: NOW }), ['token aud is absent, API expects api://orders'])
  })

  test('time: expired minutes ago, not yet valid, issued in the future; the clock tolerance counts', () => {
    const expired = hintsFor(decodeToken(jwt({ alg: 'RS256' }, { ...good, exp: NOW - 180 })), expected, invalid('The access token expired'), { nowSeconds: NOW })
    assert.deepEqual(expired, ['expired 3 min ago (exp 2027-01-15T07:57:00Z)'])
    const tolerated = hintsFor(decodeToken(jwt({ alg: 'RS256' }, { ...good, exp: NOW - 3 })), expected, invalid('x'), { nowSeconds: NOW })
    assert.deepEqual(tolerated, [])
    const early = hintsFor(decodeToken(jwt({ alg: 'RS256' }, { ...good, nbf: NOW + 60, iat: NOW + 60 })), expected, invalid('The access token is not yet valid'), { nowSeconds: NOW })
    assert.match(early[0]!, /^not valid for another 60 s \(nbf .*\): check the clocks/)
    assert.match(early[1]!, /^issued 60 s in the future/)
  })

  test('algorithm: HMAC and none are named for what they are', () => {
    const hmac = hintsFor(decodeToken(jwt({ alg: 'HS256' }, good)), expected, invalid('The access token is signed with an algorithm this API does not accept'), { nowSeconds: NOW })
    assert.match(hmac[0]!, /^alg HS256 is not accepted \(this API verifies RS256, .*\): HMAC tokens are checked with a shared secret/)
    const none = hintsFor(decodeToken(jwt({ alg: 'none' }, good)), expected, invalid('x'), { nowSeconds: NOW })
    assert.match(none[0]!, /: the token is not signed$/)
  })

  test('unknown key: with and without a kid', () => {
    const failure = invalid('The access token is signed with an unknown key', 'ERR_JWKS_NO_MATCHING_KEY: no applicable key found')
    const withKid = hintsFor(decodeToken(jwt({ alg: 'RS256', kid: 'k9' }, good)), expected, failure, { nowSeconds: NOW, jwksKids: ['k1', 'k2'] })
    assert.match(withKid[0]!, /^kid k9 not in JWKS at https:\/\/idp\.example\/jwks \(it has: k1, k2\)/)
    const noKid = hintsFor(decodeToken(jwt({ alg: 'ES256' }, good)), expected, failure, { nowSeconds: NOW, jwksKids: [] })
    assert.equal(noKid[0], 'the token names no kid, and no key in JWKS at https://idp.example/jwks fits alg ES256 (it has: (none))')
  })

  test('a bad signature, a JWE, a JWT that does not decode, an opaque token checked as a JWT', () => {
    assert.match(hintsFor(decodeToken(jwt({ alg: 'RS256', kid: 'k1' }, good)), expected, invalid('The access token signature is invalid', undefined, 'signature'), { nowSeconds: NOW })[0]!, /^the signature does not verify with key k1 from https:\/\/idp\.example\/jwks/)
    assert.match(hintsFor(decodeToken('a.b.c.d.e'), expected, invalid('x'), { nowSeconds: NOW })[0]!, /encrypted JWT \(JWE\)/)
    assert.match(hintsFor(decodeToken('eyJhbGciOiJSUzI1NiJ9.not-json.sig'), expected, invalid('x'), { nowSeconds: NOW })[0]!, /^the token has three segments like a JWT but does not decode/)
    assert.match(hintsFor(decodeToken('opaque-abc'), expected, invalid('x'), { nowSeconds: NOW })[0]!, /inspect it with --introspect/)
  })

  test('introspection: inactive, not an access token, credentials refused', () => {
    const introspection = { ...expected, method: 'introspection' as const, endpoint: 'https://idp.example/introspect' }
    const opaque = decodeToken('opaque-abc')
    assert.match(hintsFor(opaque, introspection, invalid('The access token is not active', undefined, 'inactive'), { nowSeconds: NOW })[0]!, /"active": false/)
    assert.match(hintsFor(opaque, introspection, invalid('The token is not an access token', 'token_type refresh_token', 'type'), { nowSeconds: NOW })[0]!, /\(token_type refresh_token\): send the access_token/)
    const refused = hintsFor(opaque, introspection, { key: 'provider_unavailable', message: 'The identity provider is unavailable', reason: 'client_auth' }, { nowSeconds: NOW })
    assert.match(refused[0]!, /^the introspection endpoint refused --client-id \/ --client-secret/)
    assert.ok(!refused.some((hint) => /did not give an answer/.test(hint)))
    const jwtRefused = hintsFor(decodeToken(jwt({ alg: 'RS256' }, good)), introspection, invalid('The access token was refused by the identity provider', 'introspection endpoint answered 400 unsupported_token_type', 'refused'), { nowSeconds: NOW })
    assert.match(jwtRefused.at(-1)!, /refused to introspect this JWT \(introspection endpoint answered 400 unsupported_token_type; .*check it as a JWT, without --introspect$/)
  })

  test('hints follow the failure\'s reason, never its wording', () => {
    const kid = decodeToken(jwt({ alg: 'RS256', kid: 'k9' }, good))
    // The reason alone, with any message: the hint.
    assert.match(hintsFor(kid, expected, invalid('Computer says no', undefined, 'unknown_key'), { nowSeconds: NOW, jwksKids: ['k1'] })[0]!, /^kid k9 not in JWKS/)
    // The wording alone, without a reason: no hint read into it.
    assert.deepEqual(hintsFor(kid, expected, invalid('The access token is signed with an unknown key'), { nowSeconds: NOW }), [])
    assert.deepEqual(hintsFor(decodeToken('opaque-abc'), { ...expected, method: 'introspection' }, invalid('The access token is not active'), { nowSeconds: NOW }), [])
    // jose's own error code stands in for a reason a jwt provider did not set.
    assert.match(hintsFor(kid, expected, invalid('x', 'ERR_JWKS_NO_MATCHING_KEY: no applicable key found'), { nowSeconds: NOW })[0]!, /^kid k9 not in/)
  })

  test('userinfo: a refusal is the identity provider refusing the token; outages by reason', () => {
    const userinfo = { ...expected, method: 'userinfo' as const, endpoint: 'https://idp.example/me' }
    const refused = hintsFor(decodeToken('opaque-abc'), userinfo, invalid('The access token was refused by the identity provider', 'userinfo endpoint answered 404', 'refused'), { nowSeconds: NOW })
    assert.deepEqual(refused, ['the identity provider refused the token at its userinfo endpoint (userinfo endpoint answered 404): it expired or was revoked, was issued without the openid scope, or is not meant for userinfo (a client-credentials token has no user)'])
    const limited = hintsFor(decodeToken('opaque-abc'), userinfo, { key: 'provider_unavailable', message: 'x', reason: 'rate_limited', detail: 'userinfo endpoint answered 429' }, { nowSeconds: NOW })
    assert.match(limited[0]!, /^the identity provider is rate limiting this API \(userinfo endpoint answered 429\)/)
    const down = hintsFor(decodeToken('opaque-abc'), userinfo, { key: 'provider_unavailable', message: 'x', reason: 'network', detail: 'connect ECONNREFUSED' }, { nowSeconds: NOW })
    assert.match(down[0]!, /^the identity provider did not give an answer \(connect ECONNREFUSED\)/)
  })

  test('times beyond any calendar date (exp: 1e20) are written, not thrown', () => {
    assert.equal(isoTime(1e20), '100000000000000000000 s after 1970, beyond any calendar date')
    assert.equal(isoTime(1_800_000_000), '2027-01-15T08:00:00Z')
    const far = hintsFor(decodeToken(jwt({ alg: 'RS256' }, { ...good, iat: 1e20, nbf: 1e20 })), expected, invalid('x'), { nowSeconds: NOW })
    assert.match(far.join('\n'), /beyond any calendar date/)
  })

  test('malformed input and missing scopes', () => {
    assert.match(hintsFor(decodeToken('a b'), expected, { key: 'invalid_request', message: 'x' }, { nowSeconds: NOW })[0]!, /not a well-formed bearer token/)
    const scoped = { ...expected, scopes: ['read', 'write'] }
    assert.deepEqual(hintsFor(decodeToken(jwt({ alg: 'RS256' }, good)), scoped, { key: 'insufficient_scope', message: 'x' }, { nowSeconds: NOW, grantedScopes: ['read'] }),
      ['token scopes are read; the route needs read, write (missing: write)'])
  })

  test('notes on an accepted token: an unchecked audience, an expiry inside the tolerance', () => {
    const noAudience = { ...expected, audience: [] }
    assert.deepEqual(notesFor(decodeToken(jwt({ alg: 'RS256' }, good)), noAudience, NOW, NOW - 2), [
      'the audience was not checked (no --audience): token aud is api://orders; an API must check it',
      'expired 2 s ago, accepted within the clock tolerance of 5 s',
    ])
    assert.deepEqual(notesFor(decodeToken(jwt({ alg: 'RS256' }, good)), expected, NOW, NOW + 60), [])
  })
})
