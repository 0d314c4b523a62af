// The remote JWKS: stale-if-error within maxStale, refresh after maxAge, 503 once too stale, one
// refetch per cooldown for unknown kids; on virtual time (Date), against a real local server.
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { tokenAuth } from '../../src/index.js'
import { jwtProvider } from '../../providers/jwt.js'
import { useVirtualTime } from '../helpers/clock.js'
import { startFaultServer, type FaultServer } from '../helpers/fault-server.js'

const ISSUER = 'https://issuer.jwks.test/'
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
function token(kid = 'k1'): string {
  const input = `${b64({ alg: 'ES256', kid })}.${b64({ iss: ISSUER, aud: 'api', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 })}`
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

let server: FaultServer
before(async () => {
  server = await startFaultServer({ body: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] } })
})
after(() => server.close())

describe('remote JWKS freshness', () => {
  test('refreshed after maxAge; kept while refreshes fail within maxStale; 503 beyond', async (t) => {
    const clock = useVirtualTime(t, { timers: false })
    server.mode = 'ok'
    const provider = jwtProvider({ issuer: ISSUER, audience: 'api', jwksUri: `${server.url}/jwks`, timeout: 500, jwks: { maxAge: 100, maxStale: 600 } })
    const options = { breaker: false as const }
    assert.ok('uid' in await tokenAuth(token(), provider, options))
    assert.equal(provider.jwks!.fetches, 1)
    await clock.advance(99)
    assert.ok('uid' in await tokenAuth(token(), provider, options))
    assert.equal(provider.jwks!.fetches, 1, 'not refreshed before maxAge')
    await clock.advance(51)
    assert.ok('uid' in await tokenAuth(token(), provider, options))
    assert.equal(provider.jwks!.fetches, 2, 'refreshed once older than maxAge')

    server.mode = 'status'
    server.status = 500
    await clock.advance(150)
    const stale = await tokenAuth(token(), provider, options)
    assert.ok('uid' in stale, 'the last good key set is used while the refresh fails')
    await clock.advance(700)
    const tooStale = await tokenAuth(token(), provider, options)
    assert.ok('errors' in tooStale && tooStale.status === 503, 'beyond maxStale: an outage, not a pass')

    server.mode = 'ok'
    assert.ok('uid' in await tokenAuth(token(), provider, options), 'recovers once the JWKS answers again')
  })
  test('an unknown kid refetches the key set once per cooldown', async (t) => {
    const clock = useVirtualTime(t, { timers: false })
    server.mode = 'ok'
    const provider = jwtProvider({ issuer: ISSUER, audience: 'api', jwksUri: `${server.url}/jwks`, jwks: { cooldown: 1_000 } })
    const options = { breaker: false as const, cache: false as const }
    assert.ok('uid' in await tokenAuth(token(), provider, options))
    assert.equal(provider.jwks!.fetches, 1)
    for (const kid of ['made-up-1', 'made-up-2']) assert.ok('errors' in await tokenAuth(token(kid), provider, options))
    assert.equal(provider.jwks!.fetches, 2, 'one refetch for the first unknown kid, none for the second')
    await clock.advance(999)
    assert.ok('errors' in await tokenAuth(token('made-up-3'), provider, options))
    assert.equal(provider.jwks!.fetches, 2, 'none within the cooldown')
    await clock.advance(1)
    assert.ok('errors' in await tokenAuth(token('made-up-4'), provider, options))
    assert.equal(provider.jwks!.fetches, 3, 'one again once the cooldown is over')
  })

  test('odd members in one key (key_ops a string, ext not a boolean, an unreadable key) make that key unusable, not the set', async () => {
    const good = { ...publicKey.export({ format: 'jwk' }), kid: 'k1' }
    server.mode = 'ok'
    server.body = { keys: [{ ...good, kid: 'odd-1', key_ops: 'verify' }, { ...good, kid: 'odd-2', ext: 'yes' }, { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: 'odd-3' }, good] }
    const provider = jwtProvider({ issuer: ISSUER, audience: 'api', jwksUri: `${server.url}/jwks`, timeout: 500 })
    assert.ok('uid' in await tokenAuth(token(), provider, { breaker: false }))
    for (const kid of ['odd-1', 'odd-2', 'odd-3']) {
      const payload = token().split('.')[1]!
      const other = `${b64({ alg: 'ES256', kid })}.${payload}`
      const result = await tokenAuth(`${other}.${sign('sha256', Buffer.from(other), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`, provider, { breaker: false })
      assert.ok('errors' in result && result.status === 401, `${kid}: refused, not an outage`)
    }
    // A kid no usable key has is an unknown kid: one refetch per cooldown, as for any rotation.
    assert.equal(provider.jwks!.fetches, 2)
  })
})
