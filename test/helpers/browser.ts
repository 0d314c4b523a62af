// A real browser for tests: Debian's chromium (never a downloaded build) driven by puppeteer-core,
// headless, with a fresh profile and none of its background traffic; and the ws-client bundled for
// a page by esbuild, as a user's bundler would. No chromium is a failure, not a skip: CI installs it.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import puppeteer, { type Browser } from 'puppeteer-core'

export const CHROMIUM = '/usr/bin/chromium'
const WS_CLIENT = resolve(import.meta.dirname, '..', '..', 'src', 'ws-client.ts')

export interface TestBrowser {
  browser: Browser
  close(): Promise<void>
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does)`)
  const profile = await mkdtemp(join(tmpdir(), 'fta-chromium-'))
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  return {
    browser,
    async close() {
      await browser.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

/** src/ws-client.ts as one browser ES module, and the files esbuild read to make it. */
export async function bundleWsClient(minify = true): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    entryPoints: [WS_CLIENT],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) }
}
