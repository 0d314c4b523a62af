// The README's option tables say what the code does: every default in src/defaults.ts has its row,
// with that default (a row missing or a stale figure fails here, not in a user's production).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { INTEGER_OPTIONS, OTHER_DEFAULTS } from '../src/defaults.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
/** Every table row of the README, as its cells. */
const rows = readme.split('\n').filter((line) => line.startsWith('| `')).map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()))

/** The README row of an option: named in full (`cache.max`), or by its last part in a route's table (`authTimeout`). */
function rowOf(option: string): string[] {
  const names = [option, option.replace(/^config\.auth\./, '')]
  const row = rows.find((cells) => names.some((name) => cells[0] === `\`${name}\``))
  assert.ok(row !== undefined, `the README has no row for ${option}`)
  return row
}

/** Options documented elsewhere than in a table: the ticket's ttl (with issueTicket), a required interval. */
const NOT_IN_TABLES = new Set(['issueTicket.ttl'])

test('every integer default is the README\'s', () => {
  for (const [option, spec] of Object.entries(INTEGER_OPTIONS)) {
    if (NOT_IN_TABLES.has(option)) continue
    const cell = rowOf(option)[1]!
    if (option === 'revalidate.interval') {
      assert.equal(cell, 'required')
      continue
    }
    const figure = /^(\d[\d,_]*)/.exec(cell)?.[1]
    assert.ok(figure !== undefined, `${option}: the README's default "${cell}" is not a number`)
    assert.equal(Number(figure.replace(/[,_]/g, '')), spec.default, `${option}: README says ${cell}, the code ${spec.default}`)
  }
})

test('every other default is the README\'s', () => {
  for (const [option, value] of Object.entries(OTHER_DEFAULTS)) {
    const cell = rowOf(option)[1]!
    assert.equal(cell, `\`${JSON.stringify(value).replace(/"/g, "'")}\``, `${option}: README says ${cell}`)
  }
})

test('the ticket ttl the README states is the code\'s', () => {
  const seconds = INTEGER_OPTIONS['issueTicket.ttl'].default / 1000
  assert.match(readme, new RegExp(`valid ${seconds} s by default`))
})
