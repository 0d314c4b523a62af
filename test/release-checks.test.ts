// The gates `npm test` runs besides the suite — package checks (publint + attw), type tests
// (tstyche) and the coverage gate (c8 with this repository's .c8rc.json) — each run on a small
// fixture project twice: sound, it passes; broken, it fails. A gate that cannot fail is no gate.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { after, describe, test } from 'node:test'
import { stripVTControlCharacters } from 'node:util'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'node_modules', '.bin')
const made: string[] = []
after(() => { for (const dir of made) rmSync(dir, { recursive: true, force: true }) })

/** A scratch project with `files`, and this repository's node_modules linked in. */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fta-gate-'))
  made.push(dir)
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return dir
}

function run(command: string, args: string[], cwd: string): { code: number | null; output: string } {
  const result = spawnSync(command, args, {
    cwd, encoding: 'utf8', env: { ...process.env, PATH: `${BIN}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NODE_V8_COVERAGE: '', NO_COLOR: '1', FORCE_COLOR: '0' },
  })
  // CI=true turns colours on in some of these tools whatever NO_COLOR says.
  return { code: result.status, output: stripVTControlCharacters(`${result.stdout}${result.stderr}`) }
}

describe('release gates fail when what they guard is broken', { timeout: 180_000 }, () => {
  test('npm test runs every gate, each able to stop it', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    assert.deepEqual(scripts.test!.split(' && '), ['npm run typecheck', 'npm run lint', 'npm run check:timing', 'npm run test:types', 'npm run check:package', 'npm run test:coverage'])
    assert.equal(scripts['test:coverage'], 'c8 node scripts/run-tests.mjs')
    const gate = JSON.parse(readFileSync(join(ROOT, '.c8rc.json'), 'utf8')) as Record<string, unknown>
    assert.deepEqual([gate['check-coverage'], gate['per-file'], gate.lines, gate.all], [true, true, 90, true])
  })

  test('package checks: publint fails a declared .d.ts that is not shipped, attw a declaration importing a module that is not', () => {
    const fixture = (types: string, declaration: string): string => project({
      'package.json': JSON.stringify({
        name: 'gate-fixture', version: '1.0.0', type: 'module', license: 'MIT', files: ['index.js', 'index.d.ts'],
        exports: { '.': { types, default: './index.js' } },
      }),
      'index.js': 'export const answer = 42\n',
      'index.d.ts': declaration,
      // Present in the folder, left out of `files`: the kind of slip a release makes.
      'lib.d.ts': 'export declare const answer: number\n',
    })
    const check = (dir: string): ReturnType<typeof run> => run('node', [join(ROOT, 'scripts/check-package.mjs'), dir], ROOT)
    const sound = check(fixture('./index.d.ts', 'export declare const answer: number\n'))
    assert.equal(sound.code, 0, sound.output)
    const missing = check(fixture('./types/index.d.ts', 'export declare const answer: number\n'))
    assert.notEqual(missing.code, 0)
    assert.match(missing.output, /\$ publint[^]*types\/index\.d\.ts but the file does not exist/)
    const unshippedImport = check(fixture('./index.d.ts', "export { answer } from './lib.js'\n"))
    assert.notEqual(unshippedImport.code, 0)
    assert.match(unshippedImport.output, /\$ attw[^]*Internal resolution error/)
  })

  test('type tests: a false expectation fails tstyche', () => {
    const tsconfig = JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [] }, include: ['*.ts'] })
    const typeTest = (expected: string): string => `import { expect, test } from 'tstyche'\ntest('x', () => { expect<string>().type.toBe<${expected}>() })\n`
    const sound = run('tstyche', [], project({ 'tsconfig.json': tsconfig, 'a.tst.ts': typeTest('string') }))
    assert.equal(sound.code, 0, sound.output)
    const broken = run('tstyche', [], project({ 'tsconfig.json': tsconfig, 'a.tst.ts': typeTest('number') }))
    assert.equal(broken.code, 1, broken.output)
    assert.match(broken.output, /Type 'string' is not the same as type 'number'/)
  })

  test('coverage gate: a file of src/ under 90 % of lines, or never loaded, fails c8', () => {
    const branchy = [
      'export function pick(flag: boolean): string {',
      '  if (flag) {',
      '    const a = "yes"',
      '    return a',
      '  }',
      '  const b = "no"',
      '  const c = b.toUpperCase()',
      '  const d = c.toLowerCase()',
      '  return d',
      '}',
      '',
    ].join('\n')
    const fixture = (extra: Record<string, string> = {}): string => {
      const dir = project({ 'package.json': '{"type":"module"}', 'src/pick.ts': branchy, ...extra })
      copyFileSync(join(ROOT, '.c8rc.json'), join(dir, '.c8rc.json'))
      return dir
    }
    const both = "import('./src/pick.ts').then((m) => { m.pick(true); m.pick(false) })"
    const sound = run('c8', ['node', '--import', 'tsx', '-e', both], fixture())
    assert.equal(sound.code, 0, sound.output)
    const half = run('c8', ['node', '--import', 'tsx', '-e', "import('./src/pick.ts').then((m) => m.pick(true))"], fixture())
    assert.equal(half.code, 1, half.output)
    assert.match(half.output, /Coverage for lines \([\d.]+%\) does not meet threshold \(90%\) for src\/pick\.ts/)
    const untested = run('c8', ['node', '--import', 'tsx', '-e', both], fixture({ 'src/forgotten.ts': 'export const forgotten = (): number => 1\n' }))
    assert.equal(untested.code, 1, untested.output)
    assert.match(untested.output, /does not meet threshold \(90%\) for src\/forgotten\.ts/)
  })
})
