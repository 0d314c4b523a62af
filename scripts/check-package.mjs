// The package as registries and type checkers see it: publint (package.json against the files that
// ship) and Are The Types Wrong (every export's types resolve for node16 ESM and bundler consumers).
// Both pack the package first; `prepare` builds dist/. The package is ESM-only by design, so attw
// runs with the esm-only profile: CommonJS consumers reach it through require(esm) or import().
import { spawnSync } from 'node:child_process'

function run(command, args) {
  console.log(`$ ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

run('npx', ['--no-install', 'publint', '--strict', '--pack', 'npm'])
run('npx', ['--no-install', 'attw', '--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped', '--no-color', '--no-emoji'])
