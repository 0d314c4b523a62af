// The package as users get it: `npm pack` of this repository (prepack builds dist/), once for the
// test files that need it, and installed into an empty consumer project. Those files run in
// parallel and packing rebuilds dist/, so one packs under a lock and the others wait and reuse the
// tarball, which is reused only while it is newer than every file that goes into it.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export const ROOT = resolve(import.meta.dirname, '..', '..')
const HOME = join(tmpdir(), `fta-pack-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`)
const LOCK = `${HOME}.lock`
const STALE_LOCK_MS = 5 * 60_000

/** The versions of this repository's own dev dependencies, so a consumer gets what the suite runs with. */
export function devVersion(name: string): string {
  return execFileSync(process.execPath, ['-p', `require(${JSON.stringify(join(ROOT, 'node_modules', name, 'package.json'))}).version`], { encoding: 'utf8' }).trim()
}

function newestSource(path: string): number {
  const stats = statSync(path)
  if (!stats.isDirectory()) return stats.mtimeMs
  let newest = stats.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestSource(join(path, entry)))
  return newest
}

const SOURCES = ['src', 'providers', 'stores', 'package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json']

function currentTarball(): string | undefined {
  let tarball: string | undefined
  try {
    tarball = readdirSync(HOME).find((name) => name.endsWith('.tgz'))
  } catch {
    return undefined
  }
  if (tarball === undefined) return undefined
  const path = join(HOME, tarball)
  const built = statSync(path).mtimeMs
  return SOURCES.every((source) => newestSource(join(ROOT, source)) < built) ? path : undefined
}

/** The path of a tarball of this repository as it is now, packed at most once per change. */
export async function packedTarball(): Promise<string> {
  const deadline = Date.now() + 300_000
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err
      // A run that was killed while packing leaves its lock behind.
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true })
      if (Date.now() > deadline) throw new Error(`waited 300 s for ${LOCK}`)
      await sleep(50)
    }
  }
  try {
    const current = currentTarball()
    if (current !== undefined) return current
    rmSync(HOME, { recursive: true, force: true })
    mkdirSync(HOME, { recursive: true })
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', HOME], {
      cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' },
    })) as Array<{ filename: string }>
    return join(HOME, packed!.filename)
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}

export interface Consumer {
  dir: string
  /** What `npm install` printed on stderr (warnings included). */
  installLog: string
  remove(): void
}

/** An empty ESM project with the packed tarball and `dependencies` (name@version) installed. */
export async function consumerProject(prefix: string, dependencies: string[]): Promise<Consumer> {
  const tarball = await packedTarball()
  const dir = mkdtempSync(join(tmpdir(), prefix))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...dependencies], {
    cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'warn', NO_COLOR: '1' },
  })
  if (install.status !== 0) throw new Error(`npm install failed in ${dir}:\n${install.stderr}`)
  return { dir, installLog: install.stderr, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
