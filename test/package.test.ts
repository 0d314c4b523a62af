// The package as a user meets it: `npm pack`, installed into an empty project, imported from
// every entry point, and type-checked from a consumer's TypeScript file.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { consumerProject, devVersion, packedTarball, ROOT, type Consumer } from './helpers/packed.js'

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

describe('packed tarball in an empty project', { timeout: 240_000 }, () => {
  let consumer: Consumer
  let dir: string
  before(async () => {
    consumer = await consumerProject('fta-consumer-', ['fastify@5', `@types/node@${devVersion('@types/node')}`, `@opentelemetry/api@${devVersion('@opentelemetry/api')}`])
    dir = consumer.dir
  })
  after(() => consumer.remove())

  test('ships only the build, with a .d.ts beside each entry point, and no install script', async () => {
    const tarball = await packedTarball()
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((path) => path.replace(/^package\//, ''))
    for (const expected of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/providers/test.js', 'dist/providers/test.d.ts', 'dist/src/ws-client.js', 'dist/src/ws-client.d.ts', 'dist/src/otel.js', 'dist/src/otel.d.ts', 'README.md', 'package.json']) {
      assert.ok(files.includes(expected), `${expected} is in the package`)
    }
    assert.ok(!files.some((path) => path.startsWith('src/') || path.startsWith('test/')), 'no sources or tests shipped')
    // Users' npm warns about (or, with ignore-scripts, skips) install-time scripts: the package has none.
    const shipped = JSON.parse(readFileSync(join(dir, 'node_modules', 'fastify-token-auth', 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(shipped.scripts?.[hook], undefined, `no ${hook} script`)
    assert.doesNotMatch(consumer.installLog, /fastify-token-auth[^\n]*\((?:pre|post)?(?:install|prepare)/, 'npm names no script of ours when installing it')
  })

  test('npm install leaves package-lock.json as it is (package.json and the lock agree)', () => {
    const copy = mkdtempSync(join(tmpdir(), 'fta-lock-'))
    try {
      for (const name of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, name), join(copy, name))
      execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: copy, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' },
      })
      assert.equal(readFileSync(join(copy, 'package-lock.json'), 'utf8'), readFileSync(join(ROOT, 'package-lock.json'), 'utf8'))
    } finally {
      rmSync(copy, { recursive: true, force: true })
    }
  })

  test('imports fastify-token-auth and fastify-token-auth/providers/test, and they work together', () => {
    writeFileSync(join(dir, 'consumer.mjs'), `
      import Fastify from 'fastify'
      import fastifyTokenAuth, { tokenAuth, InvalidTokenError } from 'fastify-token-auth'
      import { testProvider } from 'fastify-token-auth/providers/test'
      import { jwtProvider } from 'fastify-token-auth/providers/jwt'
      import { introspectionProvider } from 'fastify-token-auth/providers/introspection'
      import { userinfoProvider } from 'fastify-token-auth/providers/userinfo'
      import { discover } from 'fastify-token-auth/providers/discovery'
      import { AuthFlow } from 'fastify-token-auth/ws-client'
      const built = [
        jwtProvider({ issuer: 'https://idp.test/', audience: 'api://x' }),
        introspectionProvider({ endpoint: 'https://idp.test/introspect', clientId: 'a', clientSecret: 'b' }),
        userinfoProvider({ endpoint: 'https://idp.test/me' }),
      ].map((p) => p.name).join(',') + ',' + typeof discover + ',' + typeof new AuthFlow({ getToken: () => 't' }).authenticate
      const provider = testProvider({ tokens: { 'tok-1': { sub: 'alice', scope: 'read' } } })
      const app = Fastify()
      await app.register(fastifyTokenAuth, { provider })
      app.get('/me', { config: { auth: { scopes: ['read'] } } }, async (req) => ({ uid: req.auth.uid }))
      const ok = await app.inject({ url: '/me', headers: { authorization: 'Bearer tok-1' } })
      const no = await app.inject({ url: '/me' })
      const direct = await tokenAuth('tok-1', provider)
      console.log(JSON.stringify({ ok: ok.statusCode, uid: ok.json().uid, no: no.statusCode, direct: direct.uid, err: typeof InvalidTokenError, built }))
      await app.close()
    `)
    const output = execFileSync(process.execPath, ['consumer.mjs'], { cwd: dir, encoding: 'utf8' })
    assert.deepEqual(JSON.parse(output), { ok: 200, uid: 'alice', no: 401, direct: 'alice', err: 'function', built: 'jwt,introspection,userinfo,function,function' })
  })

  test('every export in package.json loads; internal modules are not reachable', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
    const subpaths = Object.keys(manifest.exports).filter((key) => key !== './package.json')
    assert.ok(subpaths.length >= 18, 'the providers, presets, store and client are exported one by one')
    assert.ok(subpaths.includes('./otel'))
    const specifiers = subpaths.map((key) => key === '.' ? 'fastify-token-auth' : `fastify-token-auth/${key.slice(2)}`)
    writeFileSync(join(dir, 'exports.mjs'), `
      const loaded = {}
      for (const specifier of ${JSON.stringify(specifiers)}) loaded[specifier] = Object.keys(await import(specifier)).length
      const hidden = {}
      for (const specifier of ['fastify-token-auth/providers/endpoint', 'fastify-token-auth/providers/presets/_mapping', 'fastify-token-auth/src/cache']) {
        hidden[specifier] = await import(specifier).then(() => 'loaded', (err) => err.code)
      }
      console.log(JSON.stringify({ loaded, hidden }))
    `)
    const { loaded, hidden } = JSON.parse(execFileSync(process.execPath, ['exports.mjs'], { cwd: dir, encoding: 'utf8' })) as { loaded: Record<string, number>, hidden: Record<string, string> }
    for (const specifier of specifiers) assert.ok((loaded[specifier] ?? 0) > 0, `${specifier} exports something`)
    for (const code of Object.values(hidden)) assert.equal(code, 'ERR_PACKAGE_PATH_NOT_EXPORTED')
  })

  test('only fastify-token-auth/otel imports @opentelemetry/api (an optional peer)', () => {
    const dist = join(dir, 'node_modules', 'fastify-token-auth', 'dist')
    const importers = (readdirSync(dist, { recursive: true }) as string[])
      .filter((path) => path.endsWith('.js') && readFileSync(join(dist, path), 'utf8').includes('@opentelemetry/'))
    assert.deepEqual(importers, [join('src', 'otel.js')])
  })

  test('CommonJS consumers load it with require() (require(esm), Node 20.19+)', () => {
    writeFileSync(join(dir, 'consumer.cjs'), `
      const { default: plugin, tokenAuth } = require('fastify-token-auth')
      const { jwtProvider } = require('fastify-token-auth/providers/jwt')
      console.log([typeof plugin, typeof tokenAuth, typeof jwtProvider].join(','))
    `)
    const output = execFileSync(process.execPath, ['consumer.cjs'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    assert.equal(output.trim(), 'function,function,function')
  })

  test('the inspect command is installed as a bin: npx fastify-token-auth', () => {
    const help = execFileSync('npx', ['--no-install', 'fastify-token-auth', '--help'], { cwd: dir, encoding: 'utf8' })
    assert.match(help, /^Usage: fastify-token-auth inspect/)
    assert.throws(
      () => execFileSync('npx', ['--no-install', 'fastify-token-auth', 'inspect', 'abc'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' }),
      (err: { status?: number; stderr?: string }) => err.status === 64 && /--issuer is required/.test(err.stderr ?? ''),
    )
  })

  test('tsc on a consumer file sees request.auth.uid as string', () => {
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'] },
      files: ['consumer.ts'],
    }))
    const consumer = (body: string): void => writeFileSync(join(dir, 'consumer.ts'), `
      import Fastify from 'fastify'
      import fastifyTokenAuth, { type Auth } from 'fastify-token-auth'
      import { testProvider } from 'fastify-token-auth/providers/test'
      type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
      const app = Fastify()
      await app.register(fastifyTokenAuth, { provider: testProvider({ tokens: {} }) })
      app.get('/me', { config: { auth: true } }, async (request) => {
        ${body}
      })
    `)
    consumer(`
        const isString: Equal<typeof request.auth.uid, string> = true
        const auth: Auth = request.auth
        return { uid: auth.uid, isString, failure: request.authFailure?.errors[0]?.messageKey }
    `)
    execFileSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' })

    // The check can fail: a consumer that treats uid as a number is refused.
    consumer('const wrong: number = request.auth.uid; return wrong')
    assert.throws(
      () => execFileSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' }),
      (err: { stdout?: string }) => /Type 'string' is not assignable to type 'number'/.test(err.stdout ?? ''),
    )
  })
})
