// Background re-validation on virtual time: its timer ticks when the test moves the clock, but
// each tick's checks are real calls to the identity provider, which take real time.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { VirtualClock } from './clock.js'
import { until } from './poll.js'

/**
 * Moves virtual time on by `step` (one tick of the re-validation timer: a tenth of its interval)
 * until `done()` holds or `limit` virtual ms have passed, waiting after each step for a check
 * that tick started to end; returns the virtual ms it took.
 */
export async function stepRevalidation(clock: VirtualClock, step: number, done: () => boolean, limit: number): Promise<number> {
  let checks = 0
  const onCheck = (): void => { checks++ }
  subscribe('fastify-token-auth:revalidation', onCheck)
  const started = clock.now()
  try {
    while (!done() && clock.now() - started < limit) {
      const before = checks
      clock.tick(step)
      await until(() => checks > before || done(), 'a re-validation check')
    }
  } finally {
    unsubscribe('fastify-token-auth:revalidation', onCheck)
  }
  return clock.now() - started
}
