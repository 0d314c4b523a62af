// Property: for any Authorization header, extraction yields exactly the token RFC 6750 §2.1
// defines, or an error; it never throws. The reference below is written independently, as the
// grammar reads: credentials = "Bearer" 1*SP b64token (scheme case-insensitive).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { extractToken } from '../src/index.js'

const MAX = 64
const GRAMMAR = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i

function reference(header: string): string {
  const match = GRAMMAR.exec(header)
  if (match !== null) return match[1]!.length > MAX ? 'invalid_request' : `token:${match[1]!}`
  // Anything else whose scheme is Bearer is malformed; another scheme is no token at all.
  return /^bearer(?:[ \t]|$)/i.test(header) ? 'invalid_request' : 'missing_token'
}

function actual(header: string): string {
  const result = extractToken({ authorization: header }, { maxTokenLength: MAX, allowQuery: false })
  return typeof result === 'string' ? `token:${result}` : result.key
}

const b64char = fc.constantFrom(...'ABCXYZabcxyz0189-._~+/='.split(''))
const noise = fc.constantFrom(' ', '\t', ',', '"', '\\', '=', '\u0000', '\u00e9', '\u00ff', '\u2028', ';', '%', '\r', '\n')
const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR', 'Basic', 'Bearerx', 'Token', '', 'Bear er')

test('extraction matches the RFC 6750 grammar on structured headers', () => {
  fc.assert(fc.property(
    scheme,
    fc.array(fc.constantFrom(' ', '\t'), { maxLength: 4 }),
    fc.array(fc.oneof({ weight: 8, arbitrary: b64char }, { weight: 1, arbitrary: noise }), { maxLength: 80 }),
    (name, separator, body) => {
      const header = `${name}${separator.join('')}${body.join('')}`
      assert.equal(actual(header), reference(header), JSON.stringify(header))
    },
  ), { numRuns: 20_000 })
})

test('extraction never throws and agrees with the reference on arbitrary strings', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (header) => {
    assert.equal(actual(header), reference(header))
    assert.equal(actual(`Bearer ${header}`), reference(`Bearer ${header}`))
  }), { numRuns: 20_000 })
})

test('a token that passes is exactly the characters after the spaces, and only b64token characters', () => {
  fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,60}=*$/), fc.integer({ min: 1, max: 5 }), (token, spaces) => {
    assert.equal(actual(`Bearer${' '.repeat(spaces)}${token}`), `token:${token}`)
  }), { numRuns: 5_000 })
})
