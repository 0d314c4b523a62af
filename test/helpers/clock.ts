// Tokens with whole-second lifetimes and no clock tolerance: one minted late in a second can be
// expired before its first use. Tests that mint them start on a fresh second.
import { setTimeout as sleep } from 'node:timers/promises'

export function startOfNextSecond(): Promise<void> {
  return sleep(1000 - (Date.now() % 1000) + 20)
}
