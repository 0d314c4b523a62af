// Three real API processes behind one Redis: one introspection for a cold token across the fleet,
// and a revocation on one instance refusing the token on the others and closing its sockets
// there (waited for, within 5 s; the latency is measured by bench/fanout.ts).
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { API_CLIENT, useIdp } from './helpers/idp.js'
import { poll } from './helpers/poll.js'
import { startRedis, type RedisServer } from './helpers/redis.js'
import { connect } from './helpers/ws.js'

const ctx = useIdp()

describe('a fleet of three processes', () => {
  let redis: RedisServer
  const processes: ChildProcess[] = []
  const ports: number[] = []
  before(async () => {
    redis = await startRedis()
    const script = new URL('./fixtures/fleet-instance.ts', import.meta.url).pathname
    await Promise.all([0, 1, 2].map(async () => {
      const child = fork(script, [ctx.idp.issuer, API_CLIENT.clientId, API_CLIENT.clientSecret, redis.url], { execArgv: ['--import', 'tsx'] })
      processes.push(child)
      const { port } = await new Promise<{ port: number }>((resolve, reject) => {
        child.once('message', (message) => resolve(message as { port: number }))
        child.once('exit', (code) => reject(new Error(`instance exited with ${code}`)))
      })
      ports.push(port)
    }))
  })
  after(async () => {
    await Promise.all(processes.map((child) => new Promise((resolve) => { child.once('exit', resolve); child.send('stop') })))
    await redis.stop()
  })

  const get = async (port: number, token: string): Promise<number> =>
    (await fetch(`http://127.0.0.1:${port}/orders`, { headers: { authorization: `Bearer ${token}` } })).status

  test('300 requests spread over the three with one fresh token: 1 introspection call', async () => {
    const { access_token } = await ctx.idp.token('web-opaque')
    const before = ctx.idp.calls['/token/introspection'] ?? 0
    const statuses = await Promise.all(Array.from({ length: 300 }, (_, i) => get(ports[i % 3]!, access_token)))
    assert.deepEqual(new Set(statuses), new Set([200]))
    assert.equal((ctx.idp.calls['/token/introspection'] ?? 0) - before, 1)
  })

  test('revoke on A: B and C answer 401 within 5 s, and the socket on B closes', async () => {
    const { access_token } = await ctx.idp.token('web-opaque')
    for (const port of ports) assert.equal(await get(port, access_token), 200)
    const socket = connect(`ws://127.0.0.1:${ports[1]!}/ws`, { headers: { authorization: `Bearer ${access_token}` } })
    await socket.opened
    const response = await fetch(`http://127.0.0.1:${ports[0]!}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: access_token }) })
    assert.equal(response.status, 200)
    for (const port of ports.slice(1)) assert.equal(await poll(() => get(port, access_token), (status) => status !== 200, 5_000), 401)
    const { code, reason } = await socket.closed
    assert.equal(code, 4401)
    assert.equal(reason, 'token revoked')
  })
})
