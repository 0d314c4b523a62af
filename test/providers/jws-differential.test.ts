// Differential test of the node:crypto JWS verifier and the claims checks against jose: thousands
// of generated and mutated tokens, key sets and options (test/helpers/jws-fuzz.ts); both accept
// with the same payload, or both refuse. `npm run fuzz:jws` runs the long version.
import assert from 'node:assert/strict'
import { sign } from 'node:crypto'
import { describe, test } from 'node:test'
import { AUDIENCE, differential, ISSUER, joseVerdicts, NOW_MS, ourVerdicts, POOL, stricterByDesign, type Built } from '../helpers/jws-fuzz.js'

/** About 5,000 cases in `npm test` (a few seconds); JWS_FUZZ_RUNS overrides. */
const RUNS = Number(process.env.JWS_FUZZ_RUNS ?? 5_000)
/**
 * A fixed seed, so that the suite's verdict and its non-vacuity counts are the same on every run
 * (with a random seed, a run could draw too few of one rare mutation); JWS_FUZZ_SEED overrides,
 * and `npm run fuzz:jws` draws a new seed each time.
 */
const SEED = Number(process.env.JWS_FUZZ_SEED ?? 20_261_208)

describe('ours and jose agree on generated tokens', () => {
  test(`${RUNS.toLocaleString('en')} cases (seed ${SEED}): same verdict, same payload (or ours refuses by design)`, { timeout: 300_000 }, async () => {
    const tally = await differential(RUNS, SEED)
    assert.equal(tally.cases, RUNS)
    // Not vacuous: many tokens pass both, many fail both, and each stricter rule was exercised
    // on tokens jose accepts.
    assert.ok(tally.agreedAccepted > RUNS / 10, `accepted by both: ${tally.agreedAccepted}`)
    assert.ok(tally.agreedRefused > RUNS / 10, `refused by both: ${tally.agreedRefused}`)
    if (RUNS >= 5_000) {
      for (const why of ['non-canonical base64url', 'duplicate header member names', 'b64 header member', 'non-finite NumericDate']) {
        assert.ok((tally.stricterJoseAccepted[why] ?? 0) > 0, `a case where jose accepts and ours refuses: ${why}`)
      }
    }
  })
})

// Where ours is deliberately stricter than jose: each divergence stated, with a token jose accepts.
describe('ours is stricter than jose by design', () => {
  const rsa = POOL[0]!
  const privateKey = rsa.privateKey!
  const set = { keys: [{ ...rsa.jwk, kid: 'k1' }] }
  const now = Math.floor(NOW_MS / 1000)
  const claims = JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: now + 600 })
  const b64 = (text: string): string => Buffer.from(text).toString('base64url')
  function signed(headerSegment: string, payloadSegment: string): string {
    const input = `${headerSegment}.${payloadSegment}`
    return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
  }
  const built = (token: string): Built => ({
    token, set: set,
    options: { algorithms: undefined, typ: undefined, clockTolerance: 5, requiredClaims: [], audience: AUDIENCE, aliases: false },
  })

  const cases: Array<[string, string, string]> = [
    ['duplicate header members (JSON.parse keeps the last alg; another parser the first)',
      signed(b64('{"alg":"ES256","kid":"k1","alg":"RS256"}'), b64(claims)), 'duplicate header member names'],
    ['a duplicate hidden by an escape ("k\\u0069d" beside kid)',
      signed(b64('{"alg":"RS256","kid":"k1","k\\u0069d":"k1"}'), b64(claims)), 'duplicate header member names'],
    ['b64: true under crit (RFC 7797, which jose understands): never an access token',
      signed(b64('{"alg":"RS256","kid":"k1","crit":["b64"],"b64":true}'), b64(claims)), 'b64 header member'],
    ['b64 without crit (jose ignores it; a parser that honours it verifies other bytes)',
      signed(b64('{"alg":"RS256","kid":"k1","\\u0062\\u0036\\u0034":false}'), b64(claims)), 'b64 header member'],
    ['a padded signature segment',
      `${signed(b64('{"alg":"RS256","kid":"k1"}'), b64(claims))}==`, 'non-canonical base64url'],
    ['non-zero padding bits in the last character of the signature (same bytes, another token string)',
      (() => {
        const token = signed(b64('{"alg":"RS256","kid":"k1"}'), b64(claims))
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        return token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 1]
      })(), 'non-canonical base64url'],
    ['exp of 1e400 (Infinity once parsed: it would never expire)',
      signed(b64('{"alg":"RS256","kid":"k1"}'), b64(`{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"alice","exp":1e400}`)), 'non-finite NumericDate'],
  ]
  for (const [name, token, why] of cases) {
    test(`${name}: jose accepts, ours refuses`, async () => {
      const theirs = await joseVerdicts(built(token))
      const ours = ourVerdicts(built(token))
      assert.equal(theirs.jwt.ok, true, 'jose accepts it (otherwise this is no divergence)')
      assert.equal(ours.jwt.ok, false)
      const stricter = stricterByDesign(token)
      assert.equal(stricter.jwt, why, 'the differential test recognises it')
    })
  }
})
