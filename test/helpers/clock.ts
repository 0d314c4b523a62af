// Virtual time for tests: node:test's mock.timers drive Date, setTimeout and setInterval, and
// performance.now is made to follow Date (lru-cache measures its TTLs with it, the deadline math
// with it), so a test moves one clock for everything the library reads, and a busy machine
// cannot move it. Real servers in the same process (oidc-provider, a fault server, sockets) keep
// working: their I/O does not wait on JavaScript timers. Mocks end with the test.
import type { TestContext } from 'node:test'
import { until } from './poll.js'

export interface VirtualClock {
  /** The virtual time, ms since the epoch. */
  now(): number
  /** The virtual time in whole seconds (what exp, iat and nbf hold). */
  nowS(): number
  /**
   * Moves time on by `ms`, running the timers that fall due, synchronously. With real timers
   * (`timers: false`) use advance(): lru-cache reuses its last reading of the clock until a real
   * 1-ms timer clears it.
   */
  tick(ms: number): void
  /**
   * Moves time on by `ms` in steps of `step`, letting promises and I/O settle after each step,
   * so that work a timer starts (a provider call, a retry) can arm the next timer in time.
   */
  advance(ms: number, step?: number): Promise<void>
  /** Moves time to `ms` since the epoch (only forward), as advance() does. */
  advanceTo(ms: number, step?: number): Promise<void>
  /**
   * Waits (real time, with poll.ts's cap) until `condition` holds, running the timers due now as
   * it waits (a zero-delay timer set by a message that just arrived), without moving time.
   */
  until(condition: () => boolean, what: string): Promise<void>
  /** Back to real time before the test ends (it ends there anyway). */
  stop(): void
}

const realSetTimeout = globalThis.setTimeout
const realClearTimeout = globalThis.clearTimeout
const realClearInterval = globalThis.clearInterval
const probe = realSetTimeout(() => {}, 0)
const RealTimeout = probe.constructor
realClearTimeout(probe)
type TimerFunctions = Pick<typeof globalThis, 'setTimeout' | 'setInterval' | 'clearTimeout' | 'clearInterval'>

/**
 * Node 20's mock clearTimeout, given a timer of an earlier test's mock (a socket closing after its
 * test ended), removes whichever timer of this test's sits at that timer's old place in the
 * queue. Here each mock clears only its own timers; real ones (armed before the mock) go to the
 * real clearTimeout; an earlier mock's are left alone: their clock is gone.
 */
function ownTimersOnly(): void {
  const timers = globalThis as TimerFunctions
  const own = new WeakSet<object>()
  const { setTimeout: mockSetTimeout, setInterval: mockSetInterval, clearTimeout: mockClearTimeout, clearInterval: mockClearInterval } = timers
  const clear = (mockClear: (timer: never) => void, realClear: (timer: never) => void) => (timer: unknown): void => {
    if (typeof timer === 'object' && timer !== null && own.has(timer)) mockClear(timer as never)
    else if (typeof timer === 'number' || timer instanceof RealTimeout) realClear(timer as never)
  }
  timers.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    const timer = mockSetTimeout(...args)
    own.add(timer)
    return timer
  }) as typeof setTimeout
  timers.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const timer = mockSetInterval(...args)
    own.add(timer)
    return timer
  })
  timers.clearTimeout = clear(mockClearTimeout, realClearTimeout)
  timers.clearInterval = clear(mockClearInterval, realClearInterval)
}

/** Lets pending promises and one round of I/O callbacks run (setImmediate is never mocked here). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * Starts virtual time for one test at `now` (default: the start of the next real second, so
 * tokens made before the test, with real exp, stay valid, whole-second lifetimes start on an
 * edge, and a token issued now has a later iat than one issued a moment ago). `timers: false`
 * mocks Date (and performance.now) only: for tests whose real I/O needs real timers; time then
 * stands still until the test moves it.
 */
export function useVirtualTime(t: TestContext, options: { now?: number; timers?: boolean } = {}): VirtualClock {
  const start = options.now ?? (Math.floor(Date.now() / 1000) + 1) * 1000
  const realTimers = options.timers === false
  // Whole ms: lru-cache's TTLs are differences of these readings, exact only for integers.
  const perfStart = Math.ceil(performance.now())
  t.mock.timers.enable({ apis: realTimers ? ['Date'] : ['Date', 'setTimeout', 'setInterval'], now: start })
  // Replaced over the mock's own functions: the mock's reset puts the real ones back.
  if (!realTimers) ownTimersOnly()
  const perf = t.mock.method(performance, 'now', () => perfStart + (Date.now() - start))
  const tick = (ms: number): void => t.mock.timers.tick(ms)
  const advance = async (ms: number, step = ms): Promise<void> => {
    await settle()
    for (let done = 0; done < ms;) {
      const next = Math.min(Math.max(1, step), ms - done)
      tick(next)
      done += next
      // lru-cache's cached reading of the clock is cleared by a 1-ms timer: a real one here.
      if (realTimers) await new Promise((resolve) => realSetTimeout(resolve, 2))
      await settle()
    }
  }
  return {
    now: () => Date.now(),
    nowS: () => Math.floor(Date.now() / 1000),
    tick,
    advance,
    advanceTo: (ms: number, step?: number) => advance(Math.max(0, ms - Date.now()), step),
    until: (condition: () => boolean, what: string) => until(() => {
      tick(0)
      return condition()
    }, what),
    stop: () => {
      t.mock.timers.reset()
      perf.mock.restore()
    },
  }
}
