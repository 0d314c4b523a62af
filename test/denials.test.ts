// Revocations in force (src/denials.ts): held until their time, extended never shortened, bounded
// with the oldest dropped first (and counted when it was still in force).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DenialList, SpentIds } from '../src/denials.js'

test('held until its time, then gone', () => {
  const list = new DenialList<true>()
  list.set('a', true, 1_000)
  assert.equal(list.get('a', 999), true)
  assert.equal(list.get('a', 1_000), undefined)
  assert.equal(list.size, 0, 'an expired entry is forgotten when read')
})

test('a second revocation of one id extends it, never shortens it', () => {
  const list = new DenialList<number>()
  list.set('a', 1, 5_000)
  list.set('a', 2, 1_000)
  assert.equal(list.get('a', 4_000), 2, 'the later value, the longer time')
  list.set('a', 3, 9_000)
  assert.equal(list.get('a', 8_000), 3)
})

test('bounded: past the bound the oldest goes; a live one dropped is counted, an expired one is not', () => {
  const list = new DenialList<true>(2)
  const now = Date.now()
  list.set('old-expired', true, now - 1)
  list.set('b', true, now + 60_000)
  list.set('c', true, now + 60_000)
  assert.equal(list.size, 2)
  assert.equal(list.dropped, 0, 'the expired one made room')
  list.set('d', true, now + 60_000)
  assert.equal(list.get('b'), undefined)
  assert.equal(list.get('c'), true)
  assert.equal(list.dropped, 1)
})

test('spent ids: once each until they expire; full means refuse, never forget one in force', () => {
  const ids = new SpentIds(2)
  assert.equal(ids.spend('a', 1_000, 0), 'spent')
  assert.equal(ids.spend('a', 1_000, 10), 'replayed')
  assert.equal(ids.spend('b', 2_000, 20), 'spent')
  assert.equal(ids.spend('c', 2_000, 30), 'full', 'a and b are in force: c is refused, not a forgotten')
  assert.equal(ids.spend('a', 1_000, 40), 'replayed', 'a is still remembered')
  assert.equal(ids.spend('c', 3_000, 1_000), 'spent', 'once a expired, there is room')
  assert.equal(ids.spend('a', 5_000, 1_500), 'full', 'b and c are in force')
  assert.equal(ids.spend('a', 5_000, 2_500), 'spent', 'an expired id may be used again once there is room')
})
