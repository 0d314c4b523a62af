// TypeScript 7, the native compiler (what `npm install typescript` installs today), for the checks
// that run on it. tstyche cannot run on it (7.0 has no JavaScript compiler API; tstyche uses 6 when
// 7 is installed), and as a devDependency its `tsc` bin would shadow 5.9's, so it is installed
// once into a cache folder, as tstyche does for the versions it tests against.
// Usage: node scripts/typescript-7.mjs [tsc arguments]   (no arguments: print the path of its tsc)
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

const RANGE = '^7.0.2'
const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'fastify-token-auth', `typescript-${RANGE.replace(/\W/g, '')}`)
const TSC = join(CACHE, 'node_modules', 'typescript', 'bin', 'tsc')

if (!existsSync(TSC)) {
  mkdirSync(join(CACHE, '..'), { recursive: true })
  // Installed beside, then moved into place: two runs at once never see half an install.
  const staging = mkdtempSync(`${CACHE}-`)
  writeFileSync(join(staging, 'package.json'), '{ "private": true }\n')
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline', `typescript@${RANGE}`], {
    cwd: staging, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, npm_config_loglevel: 'error' },
  })
  try {
    renameSync(staging, CACHE)
  } catch {
    rmSync(staging, { recursive: true, force: true })   // another run was first
  }
}

const args = process.argv.slice(2)
if (args.length === 0) {
  console.log(TSC)
} else {
  const result = spawnSync(process.execPath, [TSC, ...args], { stdio: 'inherit' })
  process.exit(result.status ?? 1)
}
