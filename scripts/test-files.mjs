// The suite's files: every test/**/*.test.ts (fixtures excepted), sorted. Node 20's --test does
// not expand globs, so the runners list them here.
import { readdirSync } from 'node:fs'
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
