// `npm run test:stress`: the whole suite while another process keeps one core busy (a child
// spinning in a loop), as on a laptop that is doing something else or a shared CI runner. Prints
// the suite's output, then the tests that failed by name, and the wall time; exits 1 on any
// failure. The files run as in npm test (two at once at least); extra arguments go to node's test
// runner (e.g. --test-concurrency=1); .ts files among them replace the whole suite.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { concurrency, findTests } from './test-files.mjs'

const args = process.argv.slice(2)
const files = args.some((arg) => arg.endsWith('.ts')) ? [] : findTests()
const dir = mkdtempSync(join(tmpdir(), 'test-stress-'))
const failuresFile = join(dir, 'failed.json')
const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
const started = process.hrtime.bigint()
const code = await new Promise((resolve) => {
  const suite = spawn(process.execPath, [
    '--import', 'tsx', '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${new URL('./failed-tests-reporter.mjs', import.meta.url).pathname}`, `--test-reporter-destination=${failuresFile}`,
    ...concurrency(args), ...args, ...files,
  ], { stdio: 'inherit' })
  suite.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal === null ? 1 : 128)))
})
busy.kill()
const seconds = Number(process.hrtime.bigint() - started) / 1e9
let failed = []
try {
  failed = JSON.parse(readFileSync(failuresFile, 'utf8'))
} catch {
  failed = [{ file: null, test: '(the failure report could not be read)', error: '' }]
}
rmSync(dir, { recursive: true, force: true })

console.log(`\ntest:stress — the suite with one core kept busy: ${seconds.toFixed(1)} s, exit ${code}`)
if (failed.length === 0 && code === 0) console.log('no test failed')
for (const { file, test, error } of failed) console.log(`FAILED ${file ?? ''} :: ${test}${error === '' ? '' : `\n       ${error}`}`)
process.exitCode = failed.length === 0 && code === 0 ? 0 : 1
