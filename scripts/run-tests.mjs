// Runs every test/**/*.test.ts with node's own runner through tsx, two files at once or more (see
// test-files.mjs). Extra arguments are passed to node (a .ts argument replaces the list of files).
import { spawnSync } from 'node:child_process'
import { concurrency, findTests } from './test-files.mjs'

const args = process.argv.slice(2)
const files = args.some((arg) => arg.endsWith('.ts')) ? [] : findTests()
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...concurrency(args), ...args, ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
