// A fleet is not a way in (issue 13): API processes sharing one real redis-server never serve an
// answer given under other rules (F1, two processes with the default prefix), spend a connection
// ticket once for the whole fleet (F4, three processes), and ignore entries written into Redis by
// anyone else (S1, S2).
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createClient, type RedisClientType } from 'redis'
import { cacheKey, namespaceOf } from '../src/index.js'
import { jwtProvider } from '../providers/jwt.js'
import { introspectionProvider } from '../providers/introspection.js'
import type { InstanceConfig } from './fixtures/secure-instance.js'
import { API_CLIENT, useIdp } from './helpers/idp.js'
import { startRedis, type RedisServer } from './helpers/redis.js'
import { connect, upgradeStatus } from './helpers/ws.js'

const ctx = useIdp()
const STORE_SECRET = 'fleet-security-store-secret-0123456789ab'
const TICKET_SECRET = 'fleet-security-ticket-secret-0123456789a'
let redis: RedisServer
let scan: RedisClientType
const children: ChildProcess[] = []

async function start(provider: InstanceConfig['provider']): Promise<number> {
  const config: InstanceConfig = { redisUrl: redis.url, storeSecret: STORE_SECRET, ticketSecret: TICKET_SECRET, provider }
  const child = fork(new URL('./fixtures/secure-instance.ts', import.meta.url).pathname, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'] })
  children.push(child)
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { port: number }))
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}`)))
  })
  return port
}

before(async () => {
  redis = await startRedis()
  scan = createClient({ url: redis.url })
  await scan.connect()
})
after(async () => {
  await Promise.all(children.map((child) => new Promise((resolve) => { child.once('exit', resolve); child.send('stop') })))
  await scan.quit()
  await redis.stop()
})

const get = async (port: number, token: string): Promise<number> =>
  (await fetch(`http://127.0.0.1:${port}/orders`, { headers: { authorization: `Bearer ${token}` } })).status

describe('F1 across processes: two services, one Redis, the default prefix, rules that differ only in typ', () => {
  // An asynchronous validate (the same function and namespace on both) takes answers through Redis.
  const ISSUER = 'https://issuer.fleet-security.test/'
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const keys = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const token = (() => {
    const input = `${b64({ alg: 'ES256', kid: 'k1', typ: 'JWT' })}.${b64({ iss: ISSUER, aud: 'api', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 })}`
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
  })()

  test('the lenient service accepts and shares its answer; the strict one still refuses', async () => {
    const lenient = await start({ kind: 'jwt', issuer: ISSUER, audience: 'api', keys, asyncValidate: true, namespace: 'orders' })
    const strict = await start({ kind: 'jwt', issuer: ISSUER, audience: 'api', keys, asyncValidate: true, namespace: 'orders', typ: 'at+jwt' })
    assert.equal(await get(lenient, token), 200)
    const lenientNamespace = namespaceOf(jwtProvider({ issuer: ISSUER, audience: 'api', keys, validate: async () => {}, namespace: 'orders' }))
    const shared = await scan.get(`fta:${cacheKey(lenientNamespace, token)}`)
    assert.ok(shared !== null, 'the lenient answer is in Redis')
    assert.equal(await get(strict, token), 401)
  })
})

describe('F4 and S1/S2: three introspection instances sharing the ticket secret and Redis', () => {
  const ports: number[] = []
  before(async () => {
    for (let i = 0; i < 3; i++) ports.push(await start({ kind: 'introspection', issuer: ctx.idp.issuer, ...API_CLIENT }))
  })

  test('F4: one ticket opens one socket in the whole fleet', async () => {
    const { access_token } = await ctx.idp.token('web-opaque')
    const minted = await fetch(`http://127.0.0.1:${ports[0]!}/ticket`, { headers: { authorization: `Bearer ${access_token}` } })
    const { ticket } = await minted.json() as { ticket: string }
    const attempts = ports.map((port) => connect(`ws://127.0.0.1:${port}/ws?ticket=${ticket}`))
    const outcomes = await Promise.all(attempts.map(upgradeStatus))
    assert.deepEqual([...outcomes].sort(), [101, 401, 401], `outcomes per instance: ${outcomes.join(', ')}`)
  })

  const keyOf = (token: string): string =>
    `fta:${cacheKey(namespaceOf(introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, timeout: 2_000 })), token)}`

  test('S1: a malformed value under a live token\'s key is a miss, never a 500, also once deleted', async () => {
    for (const value of ['{"auth":{}}', '{"auth":"x"}', 'v1.AAAA.{"auth":{},"expiresAt":1}', 'not json']) {
      const { access_token } = await ctx.idp.token('web-opaque')
      await scan.set(keyOf(access_token), value, { PX: 60_000 })
      assert.equal(await get(ports[1]!, access_token), 200, `with ${value} in Redis`)
      await scan.del(keyOf(access_token))
      assert.equal(await get(ports[2]!, access_token), 200, 'after the value is deleted')
    }
  })

  test('S2: a well-formed entry written by someone else is not believed', async () => {
    const forged = 'never-issued-opaque-token-0123456789abcdefghij'
    const mallory = {
      uid: 'mallory', provider: 'introspection', strategy: 'bearer',
      credentials: { tokenType: 'Bearer', expires: true, expiresAt: Math.floor(Date.now() / 1000) + 600, scopes: ['read', 'write', 'admin'], other: {} },
      info: {}, extra: { rawInfo: {} },
    }
    // The old format, and the new one sealed with a secret that is not the fleet's.
    const unsealed = JSON.stringify({ auth: mallory, expiresAt: Date.now() + 60_000 })
    const wrongSeal = `v1.${Buffer.alloc(32).toString('base64url')}.${unsealed}`
    for (const value of [unsealed, wrongSeal]) {
      await scan.set(keyOf(forged), value, { PX: 60_000 })
      const before = ctx.idp.calls['/token/introspection'] ?? 0
      assert.equal(await get(ports[0]!, forged), 401)
      assert.equal((ctx.idp.calls['/token/introspection'] ?? 0) - before, 1, 'the identity provider was asked')
    }
    // A revoked token's real entry, moved under another token's key, is refused too (the seal names the key).
    const { access_token: real } = await ctx.idp.token('web-opaque')
    assert.equal(await get(ports[0]!, real), 200)
    const sealed = await scan.get(keyOf(real))
    assert.ok(sealed !== null && sealed.startsWith('v1.'))
    await scan.set(keyOf(forged), sealed, { PX: 60_000 })
    assert.equal(await get(ports[1]!, forged), 401)
  })
})
