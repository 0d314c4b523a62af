import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth from '../../src/index.js'
import { clearDiscoveryCache, discover, discoveryUrls } from '../../providers/discovery.js'
import { introspectionProvider } from '../../providers/introspection.js'
import { jwtProvider } from '../../providers/jwt.js'
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
