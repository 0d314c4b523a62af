// One timer for many deadlines (src/schedule.ts): a deadline beyond setTimeout's range (a token
// whose exp is more than 24.8 days away) is armed in steps, never as a 1 ms timer that re-arms in a
// loop; deadlines run in order, once.
import assert from 'node:assert/strict'
import { afterEach, mock, test } from 'node:test'
import { DeadlineQueue } from '../src/schedule.js'

afterEach(() => mock.timers.reset())

test('a deadline 30 days away arms no overflowing timer', async () => {
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning.name) }
  process.on('warning', onWarning)
  const queue = new DeadlineQueue()
  let ran = 0
  queue.schedule(Date.now() + 30 * 24 * 3600_000, () => { ran++ })
  // An overflowing delay makes Node warn (TimeoutOverflowWarning) and fire after 1 ms.
  await new Promise((resolve) => setTimeout(resolve, 20))
  process.off('warning', onWarning)
  queue.clear()
  assert.deepEqual(warnings.filter((name) => name === 'TimeoutOverflowWarning'), [])
  assert.equal(ran, 0)
})

test('in virtual time: the far deadline runs once, at its time, after one re-arm at the step', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 })
  const queue = new DeadlineQueue()
  const order: string[] = []
  const far = 30 * 24 * 3600_000
  queue.schedule(far, () => order.push('far'))
  queue.schedule(1_000, () => order.push('near'))
  mock.timers.tick(1_000)
  assert.deepEqual(order, ['near'])
  mock.timers.tick(2 ** 31 - 1)
  assert.deepEqual(order, ['near'], 'nothing is due at the first step')
  assert.equal(queue.armed, true)
  mock.timers.tick(far - 1_000 - (2 ** 31 - 1))
  assert.deepEqual(order, ['near', 'far'])
  assert.equal(queue.armed, false)
})
