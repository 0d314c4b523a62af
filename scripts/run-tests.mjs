// Runs every test/**/*.test.ts with node's own runner through tsx. Node 20's --test does not
// expand globs, so the files are listed here. Extra arguments are passed to node.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

function findTests(dir) {
  const found = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== 'fixtures') found.push(...findTests(path))
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(path)
  }
  return found.sort()
}

const args = process.argv.slice(2)
const files = args.some((arg) => arg.endsWith('.ts')) ? [] : findTests('test')
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...args, ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
