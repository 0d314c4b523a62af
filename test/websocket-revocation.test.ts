// Revocation at the identity provider reaches open sockets: background re-validation evicts
// the token and the sockets opened with it (directly or through a ticket) close with 4401.
// Re-validation runs on virtual time; the identity provider and the sockets are real.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import fastifyTokenAuth from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { useVirtualTime } from './helpers/clock.js'
import { API_CLIENT, useIdp } from './helpers/idp.js'
import { stepRevalidation } from './helpers/revalidation.js'
import { connect } from './helpers/ws.js'

const ctx = useIdp()
const INTERVAL = 400

describe('revocation closes sockets', () => {
  test('a token revoked at the identity provider: its sockets close within one re-validation interval', async (t) => {
    const clock = useVirtualTime(t)
    const app = Fastify()
    await app.register(fastifyWebsocket)
    await app.register(fastifyTokenAuth, {
      provider: introspectionProvider({ issuer: ctx.idp.issuer, ...API_CLIENT, ttl: 60_000 }),
      revalidate: { interval: INTERVAL },
      ticketSecret: 'revocation-test-ticket-secret-0123456789',
    })
    app.get('/ws', { websocket: true, config: { auth: true } }, (socket) => { socket.on('message', (data) => socket.send(String(data))) })
    app.get('/ticket', { config: { auth: true } }, async (request) => ({ ticket: app.tokenAuth.issueTicket(request.auth, { route: '/ws' }) }))
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as { port: number }).port
    const { access_token } = await ctx.idp.token('web-opaque')
    const other = await ctx.idp.token('web-opaque')

    const direct = connect(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${access_token}` } })
    await direct.opened
    const response = await fetch(`http://127.0.0.1:${port}/ticket`, { headers: { authorization: `Bearer ${access_token}` } })
    const { ticket } = await response.json() as { ticket: string }
    const viaTicket = connect(`ws://127.0.0.1:${port}/ws?ticket=${ticket}`)
    await viaTicket.opened
    const bystander = connect(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${other.access_token}` } })
    await bystander.opened

    await ctx.idp.revoke(access_token)
    let revoked = false
    app.tokenAuth.events.once('revoked', () => { revoked = true })
    const took = await stepRevalidation(clock, INTERVAL / 10, () => revoked, INTERVAL * 2)
    assert.ok(revoked && took <= INTERVAL, `revoked ${took} ms (virtual) after the revocation (interval ${INTERVAL} ms)`)
    for (const client of [direct, viaTicket]) {
      const { code, reason } = await client.closed
      assert.equal(code, 4401)
      assert.equal(reason, 'token revoked')
    }
    bystander.ws.send('still open')
    assert.equal(await bystander.next(), 'still open', 'sockets of other tokens live on')
    bystander.ws.close()
    await app.close()
  })
})
