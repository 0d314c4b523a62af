// The remote JWKS: stale-if-error within maxStale, refresh after maxAge, 503 once too stale.
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, test } from 'node:test'
import { tokenAuth } from '../../src/index.js'
import { jwtProvider } from '../../providers/jwt.js'
import { startFaultServer, type FaultServer } from '../helpers/fault-server.js'

const ISSUER = 'https://issuer.jwks.test/'
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
function token(): string {
  const input = `${b64({ alg: 'ES256', kid: 'k1' })}.${b64({ iss: ISSUER, aud: 'api', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 })}`
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

let server: FaultServer
before(async () => {
  server = await startFaultServer({ body: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] } })
})
after(() => server.close())

describe('remote JWKS freshness', () => {
  test('refreshed after maxAge; kept while refreshes fail within maxStale; 503 beyond', async () => {
    server.mode = 'ok'
    const provider = jwtProvider({ issuer: ISSUER, audience: 'api', jwksUri: `${server.url}/jwks`, timeout: 500, jwks: { maxAge: 100, maxStale: 600 } })
    const options = { breaker: false as const }
    assert.ok('uid' in await tokenAuth(token(), provider, options))
    assert.equal(provider.jwks!.fetches, 1)
    await sleep(150)
    assert.ok('uid' in await tokenAuth(token(), provider, options))
    assert.equal(provider.jwks!.fetches, 2, 'refreshed once older than maxAge')

    server.mode = 'status'
    server.status = 500
    await sleep(150)
    const stale = await tokenAuth(token(), provider, options)
    assert.ok('uid' in stale, 'the last good key set is used while the refresh fails')
    await sleep(700)
    const tooStale = await tokenAuth(token(), provider, options)
    assert.ok('errors' in tooStale && tooStale.status === 503, 'beyond maxStale: an outage, not a pass')

    server.mode = 'ok'
    assert.ok('uid' in await tokenAuth(token(), provider, options), 'recovers once the JWKS answers again')
  })
})
