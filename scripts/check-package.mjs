// The package as registries and type checkers see it: publint (package.json against the files that
// ship) and Are The Types Wrong (every export's types resolve for node16 ESM and bundler consumers).
// Both pack the package first; `prepare` builds dist/. The package is ESM-only by design, so attw
// runs with the esm-only profile: CommonJS consumers reach it through require(esm) or import().
// Usage: node scripts/check-package.mjs [package directory, default .]
import { spawnSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'node_modules', '.bin')
const dir = resolve(process.argv[2] ?? ROOT)

function run(command, args) {
  console.log(`$ ${command} ${args.join(' ')}`)
  const result = spawnSync(join(BIN, command), args, { cwd: dir, stdio: 'inherit', env: { ...process.env, PATH: `${BIN}:${dirname(process.execPath)}:${process.env.PATH}` } })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

run('publint', ['--strict', '--pack', 'npm'])
run('attw', ['--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped', '--no-color', '--no-emoji'])
