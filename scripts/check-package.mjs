// The package as registries and type checkers see it: publint (package.json against the files that
// ship) and Are The Types Wrong (every export's types resolve for node16 ESM and bundler consumers).
// The package is packed once here (`prepack` builds dist/); publint reads the folder with the build
// in it, attw the tarball. The package is ESM-only by design, so attw runs with the esm-only
// profile: CommonJS consumers reach it through require(esm) or import().
// Usage: node scripts/check-package.mjs [package directory, default .]
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'node_modules', '.bin')
const dir = resolve(process.argv[2] ?? ROOT)
const env = { ...process.env, PATH: `${BIN}:${dirname(process.execPath)}:${process.env.PATH}` }

function run(command, args) {
  console.log(`$ ${command} ${args.join(' ')}`)
  const result = spawnSync(join(BIN, command), args, { cwd: dir, stdio: 'inherit', env })
  if (result.status !== 0) {
    rmSync(packed, { recursive: true, force: true })
    process.exit(result.status ?? 1)
  }
}

const packed = mkdtempSync(join(tmpdir(), 'fta-check-'))
console.log('$ npm pack')
const [{ filename }] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', packed], {
  cwd: dir, encoding: 'utf8', env: { ...env, npm_config_loglevel: 'error' }, stdio: ['ignore', 'pipe', 'inherit'],
}))
run('publint', ['--strict', '--pack', 'npm'])
run('attw', [join(packed, filename), '--profile', 'esm-only', '--format', 'table-flipped', '--no-color', '--no-emoji'])
rmSync(packed, { recursive: true, force: true })
