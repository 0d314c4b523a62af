// The JSON tokenizer behind the protected-header checks: on any text, it sees an object exactly
// when JSON.parse does, and reports the names JSON.parse decodes, duplicates included.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { objectMemberNames } from '../../providers/json-names.js'

/** What JSON.parse says: the object's names, or undefined when the text is not one JSON object. */
function parsedNames(text: string): string[] | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.keys(value) : undefined
}

/** Escapes some characters of the member names as \uXXXX, as a hostile header would. */
function escapeNames(text: string, seed: number): string {
  let n = seed
  return text.replace(/"((?:[^"\\]|\\.)*)":/g, (_match, name: string) => {
    const escaped = [...name].map((char) => (n++ % 3 === 0 && char !== '\\' && char.length === 1 ? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}` : char)).join('')
    return `"${escaped}":`
  })
}

const objectText = fc.tuple(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }), fc.nat(), fc.constantFrom(0, 1, 2))
  .map(([object, seed, indent]) => escapeNames(JSON.stringify(object, null, indent), seed))

/** Both see an object or neither; when they do, the same names (JSON.parse keeps one of each). */
function agree(text: string): void {
  const names = objectMemberNames(text)
  const parsed = parsedNames(text)
  assert.equal(names === undefined, parsed === undefined, `tokenizer ${JSON.stringify(names)} vs JSON.parse ${JSON.stringify(parsed)} on ${JSON.stringify(text)}`)
  if (names !== undefined) assert.deepEqual([...new Set(names)].sort(), [...parsed!].sort(), JSON.stringify(text))
}

test('on generated objects (names escaped at random): the names JSON.parse decodes', () => {
  let objects = 0
  fc.assert(fc.property(objectText, (text) => {
    agree(text)
    if (objectMemberNames(text) !== undefined) objects++
  }), { numRuns: 2_000 })
  assert.ok(objects > 1_500, `most generated texts are objects (${objects})`)
})

test('on mutated texts: an object exactly when JSON.parse gives one, with the same set of names', () => {
  const mutated = fc.tuple(objectText, fc.nat(), fc.constantFrom('delete', 'insert', 'duplicate-member', 'append'), fc.constantFrom('"', '\\', ',', ':', '{', '}', '[', ']', ' ', 'u', '0', '-', 'e', '.', 'x', '\u0000', '\n'))
    .map(([text, at, how, char]) => {
      const i = text.length === 0 ? 0 : at % text.length
      if (how === 'delete') return text.slice(0, i) + text.slice(i + 1)
      if (how === 'insert') return text.slice(0, i) + char + text.slice(i)
      if (how === 'append') return text + char
      return text.length > 2 ? `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"a":1,"\\u0061":2}` : text
    })
  fc.assert(fc.property(mutated, agree), { numRuns: 5_000 })
})

test('duplicates are reported, also behind escapes; nested names are not top-level names', () => {
  assert.deepEqual(objectMemberNames('{"alg":"RS256","\\u0061lg":"none"}'), ['alg', 'alg'])
  assert.deepEqual(objectMemberNames('{"k\\u0069d":1,"kid":2}'), ['kid', 'kid'])
  assert.deepEqual(objectMemberNames('{"x":{"alg":1},"y":[{"alg":2}],"alg":"a\\"lg"}'), ['x', 'y', 'alg'])
  assert.deepEqual(objectMemberNames(' \r\n{ "a" : 1 } \t'), ['a'])
  for (const text of ['', '[]', 'null', '"a"', '{', '{"a"}', '{"a":1,}', '{"a":01}', '{"a":1} x', '{"a":"\u0001"}', '{"\\x":1}', '{"\\u00":1}', '{"a":tru}', '\ufeff{}']) {
    assert.equal(objectMemberNames(text), undefined, JSON.stringify(text))
  }
})
