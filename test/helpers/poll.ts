// Waiting for a fleet-wide revocation to arrive: a request's status, asked again every 10 ms
// while it is still 200, for at most `ms` after `since`.
import { setTimeout as sleep } from 'node:timers/promises'

export async function statusOnceRefused(read: () => Promise<number>, since: number, ms = 1_000): Promise<number> {
  let status = 200
  while (status === 200 && Date.now() - since < ms) {
    status = await read()
    if (status === 200) await sleep(10)
  }
  return status
}
