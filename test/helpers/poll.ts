// Waiting for what a real server or process does: ask again every 10 ms of real time until it
// holds, and give up only after a generous cap, so that a slow machine is waited for, never
// failed. Real timers and a monotonic clock are captured here, before any test mocks the timers.
const realSetTimeout = globalThis.setTimeout
const elapsedMs = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e6
const pause = (ms: number): Promise<void> => new Promise((resolve) => realSetTimeout(resolve, ms))

/** How long a test waits for an event before it gives up: far beyond any healthy answer. */
export const WAIT_CAP_MS = 10_000

/**
 * Reads a value again until `done(value)` holds, and returns it; after `within` ms returns the
 * last value read, so that the test's own assertion says what it saw.
 */
export async function poll<T>(read: () => T | Promise<T>, done: (value: T) => boolean, within = WAIT_CAP_MS): Promise<T> {
  const since = process.hrtime.bigint()
  for (;;) {
    const value = await read()
    if (done(value) || elapsedMs(since) > within) return value
    await pause(10)
  }
}

/** Waits until `condition` holds; rejects naming `what` after `within` ms. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, within = WAIT_CAP_MS): Promise<void> {
  if (!await poll(condition, (held) => held, within)) throw new Error(`gave up after ${within} ms waiting for ${what}`)
}
