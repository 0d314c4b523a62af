import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { Agent } from 'undici'
import fastifyTokenAuth from '../../src/index.js'
import { SILENT_LOGGER } from '../../src/log.js'
import { clearDiscoveryCache, discover, discoverEndpoint, DISCOVERY_MAX_AGE, discoveryUrls, maxAgeOf } from '../../providers/discovery.js'
import { introspectionProvider } from '../../providers/introspection.js'
import { jwtProvider } from '../../providers/jwt.js'
import { userinfoProvider } from '../../providers/userinfo.js'
import { API_AUDIENCE, API_CLIENT, useIdp } from '../helpers/idp.js'

const ctx = useIdp()

describe('discovery', () => {
  test('the metadata of oidc-provider, fetched once', async () => {
    clearDiscoveryCache()
    const before = ctx.idp.calls['/.well-known/openid-configuration'] ?? 0
    const [first, second] = await Promise.all([discover(ctx.idp.issuer), discover(ctx.idp.issuer)])
    assert.equal(first.issuer, ctx.idp.issuer)
    assert.equal(first.jwks_uri, `${ctx.idp.issuer}/jwks`)
    assert.equal(first.introspection_endpoint, `${ctx.idp.issuer}/token/introspection`)
    assert.equal(second, first)
    await discover(ctx.idp.issuer)
    assert.equal((ctx.idp.calls['/.well-known/openid-configuration'] ?? 0) - before, 1)
  })

  test('where each specification looks', () => {
    assert.deepEqual(discoveryUrls('https://idp.test'), ['https://idp.test/.well-known/openid-configuration', 'https://idp.test/.well-known/oauth-authorization-server'])
    assert.deepEqual(discoveryUrls('https://idp.test/realms/acme/'), [
      'https://idp.test/realms/acme/.well-known/openid-configuration',
      'https://idp.test/.well-known/oauth-authorization-server/realms/acme',
    ])
  })

  test('issuer mismatch is refused at registration with a clear error', async () => {
    clearDiscoveryCache()
    const configured = `${ctx.idp.issuer}/` // oidc-provider's issuer has no trailing slash
    for (const provider of [
      jwtProvider({ issuer: configured, audience: API_AUDIENCE }),
      introspectionProvider({ issuer: configured, ...API_CLIENT }),
    ]) {
      const app = Fastify()
      await assert.rejects(async () => {
        await app.register(fastifyTokenAuth, { provider })
        await app.ready()
      }, (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_TOKEN_AUTH_CONFIGURATION')
        assert.match(err.message, new RegExp(`names the issuer "${ctx.idp.issuer}", but "${configured}" is configured: they must match exactly`))
        return true
      })
      await app.close()
    }
  })

  test('falls back to RFC 8414 when there is no OpenID configuration', async () => {
    clearDiscoveryCache()
    const metadata = await (await fetch(`${ctx.idp.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>
    const seen: string[] = []
    const server = createServer((req, res) => {
      seen.push(req.url ?? '')
      if (req.url === '/.well-known/oauth-authorization-server/tenant') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...metadata, issuer: `${issuerBase}/tenant` }))
      } else res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const issuerBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const found = await discover(`${issuerBase}/tenant`)
      assert.equal(found.jwks_uri, metadata.jwks_uri)
      assert.deepEqual(seen, ['/tenant/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/tenant'])
    } finally {
      server.close()
    }
  })

  test('no document at either place is a configuration error; unreachable is an outage', async () => {
    clearDiscoveryCache()
    const server = createServer((_req, res) => res.writeHead(404).end())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      await assert.rejects(discover(`http://127.0.0.1:${port}`), { code: 'ERR_TOKEN_AUTH_CONFIGURATION' })
    } finally {
      server.close()
    }
    await assert.rejects(discover(`http://127.0.0.1:${port}`, { timeout: 500 }), { code: 'ERR_TOKEN_AUTH_PROVIDER_UNAVAILABLE' })
  })
})

// A local server plays an issuer's discovery endpoint whose document, Cache-Control and health
// the test changes; the clock is injected, so max ages pass without waiting.
describe('discovery: refreshed as it ages, the last good document kept while a refresh fails', () => {
  interface Played { server: Server; issuer: string; served: number; status: number; cacheControl: string | undefined; jwksUri: string }
  async function playIssuer(): Promise<Played> {
    const state = { served: 0, status: 200, cacheControl: 'max-age=120' as string | undefined, jwksUri: '' }
    const server = createServer((req, res) => {
      state.served++
      if (state.status !== 200) return void res.writeHead(state.status).end()
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (state.cacheControl !== undefined) headers['cache-control'] = state.cacheControl
      res.writeHead(200, headers).end(JSON.stringify({ issuer, jwks_uri: state.jwksUri, introspection_endpoint: `${issuer}/introspect` }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    state.jwksUri = `${issuer}/jwks-1`
    return Object.assign(state, { server, issuer })
  }
  /** Polls until `read` gives `expected` (a background refresh landing), for at most 5 s. */
  async function eventually<T>(read: () => Promise<T>, expected: T): Promise<T> {
    const until = Date.now() + 5_000
    let value = await read()
    while (value !== expected && Date.now() < until) {
      await sleep(5)
      value = await read()
    }
    return value
  }

  test('max-age: used until it passes, then refreshed once (concurrent callers share the fetch), then the new document is used', async () => {
    clearDiscoveryCache()
    const played = await playIssuer()
    let clock = 1_000_000
    const options = { now: () => clock }
    try {
      assert.equal((await discover(played.issuer, options)).jwks_uri, `${played.issuer}/jwks-1`)
      played.jwksUri = `${played.issuer}/jwks-2`
      clock += 119_000
      assert.equal((await discover(played.issuer, options)).jwks_uri, `${played.issuer}/jwks-1`, 'fresh for 120 s')
      assert.equal(played.served, 1)
      clock += 2_000
      const stale = await Promise.all(Array.from({ length: 10 }, () => discover(played.issuer, options)))
      assert.ok(stale.every((metadata) => metadata.jwks_uri === `${played.issuer}/jwks-1`), 'the stale document answers at once while the refresh runs')
      const jwksUri = await eventually(async () => (await discover(played.issuer, options)).jwks_uri, `${played.issuer}/jwks-2`)
      assert.equal(jwksUri, `${played.issuer}/jwks-2`)
      assert.equal(played.served, 2, 'one refresh for all the callers')
      assert.equal(await discoverEndpoint(played.issuer, 'jwks_uri', options), `${played.issuer}/jwks-2`)
    } finally {
      played.server.close()
    }
  })

  test('a failed refresh keeps the last good document, is logged, and is not retried before a minute', async () => {
    clearDiscoveryCache()
    const played = await playIssuer()
    let clock = 1_000_000
    const warnings: unknown[] = []
    const log = { ...SILENT_LOGGER, warn: (obj: object) => { warnings.push(obj) } }
    const options = { now: () => clock, log }
    try {
      await discover(played.issuer, options)
      played.status = 503
      clock += 121_000
      assert.equal((await discover(played.issuer, options)).jwks_uri, `${played.issuer}/jwks-1`)
      await eventually(async () => warnings.length, 1)
      assert.equal(played.served, 2)
      assert.match(JSON.stringify(warnings[0]), /"discovery":"stale"/)
      clock += 30_000
      for (let i = 0; i < 5; i++) assert.equal((await discover(played.issuer, options)).jwks_uri, `${played.issuer}/jwks-1`)
      assert.equal(played.served, 2, 'no retry within the minute')
      played.status = 200
      played.jwksUri = `${played.issuer}/jwks-3`
      clock += 31_000
      assert.equal(await eventually(async () => (await discover(played.issuer, options)).jwks_uri, `${played.issuer}/jwks-3`), `${played.issuer}/jwks-3`)
    } finally {
      played.server.close()
    }
  })

  test('a refresh whose document is unusable (a jwks_uri that is not http) keeps the last good one', async () => {
    clearDiscoveryCache()
    const played = await playIssuer()
    let clock = 1_000_000
    const errors: unknown[] = []
    const options = { now: () => clock, log: { ...SILENT_LOGGER, error: (obj: object) => { errors.push(obj) } } }
    try {
      await discover(played.issuer, options)
      played.jwksUri = 'file:///etc/passwd'
      clock += 121_000
      await discover(played.issuer, options)
      await eventually(async () => errors.length, 1)
      assert.equal((await discover(played.issuer, options)).jwks_uri, `${played.issuer}/jwks-1`)
    } finally {
      played.server.close()
    }
  })

  test('the max age: Cache-Control bounded to [1 min, 24 h], 1 h without one', () => {
    const of = (value?: string): number => maxAgeOf(value === undefined ? {} : { 'cache-control': value })
    assert.deepEqual(DISCOVERY_MAX_AGE, { default: 3_600_000, min: 60_000, max: 86_400_000 })
    assert.equal(of(), 3_600_000)
    assert.equal(of('public, max-age=600'), 600_000)
    assert.equal(of('max-age=5'), 60_000)
    assert.equal(of('max-age=31536000, immutable'), 86_400_000)
    assert.equal(of('no-cache'), 60_000)
    assert.equal(of('private, no-store'), 60_000)
    assert.equal(of('s-maxage=999'), 3_600_000)
  })
})

describe('discovery: an endpoint that is not an http(s) URL stops startup', () => {
  for (const [member, value] of [['jwks_uri', 'file:///etc/passwd'], ['jwks_uri', 'javascript:alert(1)'], ['introspection_endpoint', 'not a url'], ['userinfo_endpoint', 42]] as const) {
    test(`${member} ${JSON.stringify(value)}: ConfigurationError at ready(), naming it`, async () => {
      clearDiscoveryCache()
      const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          issuer, jwks_uri: `${issuer}/jwks`, introspection_endpoint: `${issuer}/introspect`, userinfo_endpoint: `${issuer}/me`, [member]: value,
        }))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      try {
        const provider = member === 'jwks_uri' ? jwtProvider({ issuer, audience: API_AUDIENCE })
          : member === 'introspection_endpoint' ? introspectionProvider({ issuer, ...API_CLIENT }) : userinfoProvider({ issuer })
        const app = Fastify()
        await assert.rejects(async () => {
          await app.register(fastifyTokenAuth, { provider })
          await app.ready()
        }, (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_TOKEN_AUTH_CONFIGURATION')
          assert.match(err.message, new RegExp(`gives ${member} .*: it must be an absolute http\\(s\\) URL`))
          return true
        })
        await app.close()
      } finally {
        server.close()
      }
    })
  }

  test('an https issuer whose document points at plain http: ConfigurationError (no downgrade of the keys)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'discovery-tls-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem',
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'pipe' })
    const cert = readFileSync(join(dir, 'cert.pem'))
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `http://127.0.0.1:${port}/jwks` }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    const issuer = `https://127.0.0.1:${port}`
    const dispatcher = new Agent({ connect: { ca: cert } })
    try {
      clearDiscoveryCache()
      await assert.rejects(discover(issuer, { dispatcher }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_TOKEN_AUTH_CONFIGURATION')
        assert.match(err.message, /gives jwks_uri "http:.*": it must be an absolute https URL/)
        return true
      })
    } finally {
      server.close()
      await dispatcher.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('providers refuse an issuer with a query, fragment or userinfo (RFC 8414 §2)', () => {
  test('introspection and userinfo: TypeError naming the option, never quoting userinfo', () => {
    for (const issuer of ['https://idp.test/?tenant=a', 'https://idp.test#a', 'https://admin:hunter2@idp.test/']) {
      for (const build of [() => introspectionProvider({ issuer, ...API_CLIENT }), () => userinfoProvider({ issuer })]) {
        assert.throws(build, (err: Error) => err.name === 'TypeError' && /^(introspection|userinfo)Provider: issuer must not have/.test(err.message) && !err.message.includes('hunter2'))
      }
    }
  })
})
