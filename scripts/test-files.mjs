// The suite's files: every test/**/*.test.ts (fixtures excepted), sorted. Node 20's --test does
// not expand globs, so the runners list them here. And how many run at once.
import { readdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'

export function findTests(dir = 'test') {
  const found = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== 'fixtures') found.push(...findTests(path))
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(path)
  }
  return found.sort()
}

/**
 * node's --test-concurrency, unless the caller gave one: a file per spare core as node does, but
 * at least two: most files spend their time waiting on servers, sockets and child processes, and
 * no test depends on the machine's speed (scripts/check-test-timing.mjs), so a 2-core machine
 * runs two at once.
 */
export function concurrency(args) {
  return args.some((arg) => arg.startsWith('--test-concurrency')) ? [] : [`--test-concurrency=${Math.max(2, availableParallelism() - 1)}`]
}
