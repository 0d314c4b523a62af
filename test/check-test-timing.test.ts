// scripts/check-test-timing.mjs, run as CI runs it: it reports every planted sleep over 50 ms,
// sleep until a wall-clock instant and wall-clock bound under 5 s (the lines marked VIOLATION
// below, and no other), and passes on the project's own tests.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'

const ROOT = resolve(import.meta.dirname, '..')
const SCRIPT = join(ROOT, 'scripts/check-test-timing.mjs')

const PLANTED: Record<string, string> = {
  'sleeps.test.ts': `
import { setTimeout as sleep } from 'node:timers/promises'
const PAUSE = 2 * 100
await sleep(51) // VIOLATION
await sleep(50)
await sleep(PAUSE) // VIOLATION
await sleep(1_100) // VIOLATION
await new Promise((resolve) => setTimeout(resolve, 350)) // VIOLATION
setTimeout(() => {}, 20)
setTimeout(() => {}, 60) // VIOLATION
await delay(500) // VIOLATION
socket.setTimeout(5_000, () => socket.destroy())
await clock.advance(60_000)
clock.tick(5_000)
// timing-ok: this one runs on mock.timers
setTimeout(() => {}, 100)
`,
  'wall-clock.test.ts': `
import { setTimeout as sleep } from 'node:timers/promises'
const exp = Math.floor(Date.now() / 1000) + 2
await sleep(exp * 1000 - Date.now() + 20) // VIOLATION
await sleep(1000 - (Date.now() % 1000)) // VIOLATION
await sleep(ms)
`,
  'bounds.test.ts': `
import assert from 'node:assert/strict'
const started = performance.now()
const elapsed = performance.now() - started
const took = Date.now() - t0
assert.ok(elapsed >= 95 && elapsed < 1000, 'in time') // VIOLATION
assert.ok(Date.now() - t0 < 200) // VIOLATION
assert.ok(took < INTERVAL + 400) // VIOLATION
assert.ok(elapsed < timeout) // VIOLATION
assert(1_500 > took) // VIOLATION
assert.ok(Date.now() <= deadline * 1000 + 1000) // VIOLATION
assert.ok(elapsed < 10_000)
assert.ok(Date.now() - t0 < 5_000)
assert.ok(elapsed >= 95)
assert.ok(body.expiresAt > Date.now() / 1000)
assert.ok(fetched <= Math.ceil(elapsed / 1_000) + 1)
assert.ok(virtualTook <= 300)
while (Date.now() - t0 < 100) await tick()
await Promise.race([work, new Promise((resolve) => setTimeout(resolve, 5_000, 'stuck'))])
await Promise.race([work, new Promise((resolve) => setTimeout(resolve, 2_000, 'stuck'))]) // VIOLATION
`,
}

const run = (args: string[]): Promise<{ code: number; stdout: string }> => new Promise((done) => {
  execFile(process.execPath, [SCRIPT, ...args], { cwd: ROOT }, (err, stdout) => done({ code: err === null ? 0 : Number(err.code), stdout }))
})

test('every planted violation is reported, with its file and line, and nothing else', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'check-test-timing-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const expected: string[] = []
  for (const [name, text] of Object.entries(PLANTED)) {
    await writeFile(join(dir, name), text)
    text.split('\n').forEach((line, i) => { if (line.includes('// VIOLATION')) expected.push(`${name}:${i + 1}`) })
  }
  const { code, stdout } = await run([dir])
  assert.equal(code, 1, stdout)
  const reported = stdout.split('\n').filter((line) => line.includes('.test.ts:')).map((line) => {
    const [, file, at] = /([\w.-]+\.test\.ts):(\d+):\d+/.exec(line)!
    return `${file}:${at}`
  })
  assert.deepEqual(reported.sort(), expected.sort())
  assert.match(stdout, new RegExp(`${expected.length} timing problems`))
})

test('a clean file passes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'check-test-timing-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'clean.test.ts'), "import { setTimeout as sleep } from 'node:timers/promises'\nawait sleep(50)\nassert.ok(Date.now() - t0 < 5_000)\n")
  const { code, stdout } = await run([dir])
  assert.equal(code, 0, stdout)
})

test("the project's tests pass it", { timeout: 60_000 }, async () => {
  const { code, stdout } = await run(['test'])
  assert.equal(code, 0, stdout)
  assert.match(stdout, /no sleep over 50 ms, no wall-clock bound under 5000 ms/)
})
