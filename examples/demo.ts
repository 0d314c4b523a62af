// `npm run demo`: an embedded identity provider (oidc-provider on loopback), the example orders
// API in front of it, and real requests with real tokens, printed as a table. Then the API keeps
// running with a curl line to paste, until Ctrl-C. `--once` exits after the table.
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { AuthFlow } from '../src/ws-client.js'
import { API_AUDIENCE, API_CLIENT, startEmbeddedIdp } from './embedded-idp.js'
import { buildOrdersApi } from './orders-api.js'

const once = process.argv.includes('--once')
const idp = await startEmbeddedIdp()
const api = await buildOrdersApi({ issuer: idp.issuer, audience: API_AUDIENCE, ...API_CLIENT })
const port = Number(process.env.PORT ?? (once ? 0 : 3000))
await api.listen({ host: '127.0.0.1', port }).catch(() => api.listen({ host: '127.0.0.1', port: 0 }))
const base = `http://127.0.0.1:${(api.server.address() as { port: number }).port}`

interface Row { scenario: string; request: string; status: number; answer: string }
const rows: Row[] = []

async function call(scenario: string, method: 'GET' | 'POST', path: string, token?: string): Promise<void> {
  const response = await fetch(`${base}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  const body = await response.json() as Record<string, unknown>
  const answer = response.ok
    ? `uid ${String(body.owner ?? body.by)}`
    : `${String(body.error)}: ${String(body.error_description)}${response.headers.get('retry-after') === null ? '' : ` (Retry-After ${response.headers.get('retry-after')})`}`
  rows.push({ scenario, request: `${method} ${path}${token === undefined ? '' : ' + token'}`, status: response.status, answer })
}

const shortLived = await idp.token('web-jwt-short')                       // expires in 1 s
const jwt = await idp.token('web-jwt')                                     // RFC 9068 JWT, all scopes
const readOnly = await idp.token('web-jwt', { scope: 'orders:read' })
const opaque = await idp.token('web-opaque')

await call('no token', 'GET', '/api/orders')
await call('JWT access token', 'GET', '/api/orders', jwt.access_token)
await call('opaque token, introspected', 'GET', '/internal/orders', opaque.access_token)
await call('missing scope (orders:write)', 'POST', '/api/orders', readOnly.access_token)
await idp.revoke(opaque.access_token)
await call('revoked token', 'GET', '/internal/orders', opaque.access_token)
// Past its exp and the API's 1 s clock tolerance.
const { exp } = JSON.parse(Buffer.from(shortLived.access_token.split('.')[1]!, 'base64url').toString()) as { exp: number }
await sleep(Math.max(0, exp * 1000 + 1_100 - Date.now()))
await call('expired token', 'GET', '/api/orders', shortLived.access_token)
// A WebSocket opened with a ticket minted from a 1-second token: the token expires again and
// again, the server asks for a fresh one, the client's AuthFlow sends it, the socket lives on.
{
  // Minted at the start of a second: the ticket (never valid past its token's exp) has the whole
  // second to be used, on a busy machine too.
  await sleep(1000 - (Date.now() % 1000))
  const first = await idp.token('web-jwt-short')
  const ticketResponse = await fetch(`${base}/api/ticket`, { method: 'POST', headers: { authorization: `Bearer ${first.access_token}` } })
  const { ticket } = await ticketResponse.json() as { ticket: string }
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/stream?ticket=${ticket}`)
  // A renewal counts once the server confirmed it (auth_ok: 'authenticated' the first time, as
  // the socket opened with a ticket, 'renewed' after).
  let renewals = 0
  const flow = new AuthFlow({ getToken: async () => (await idp.token('web-jwt-short')).access_token, refreshAhead: 0 })
  flow.on('authenticated', () => { renewals++ })
  flow.on('renewed', () => { renewals++ })
  flow.attach(socket)
  const opened = await new Promise<boolean>((resolve) => { socket.once('open', () => resolve(true)); socket.once('unexpected-response', () => resolve(false)) })
  const giveUp = Date.now() + 30_000
  while (opened && renewals < 2 && socket.readyState === WebSocket.OPEN && Date.now() < giveUp) await sleep(100)
  // The stream's answer, told from the flow's control messages (auth_ok, reauth_required) by its type.
  const update = opened && socket.readyState === WebSocket.OPEN
    ? await new Promise<string>((resolve) => {
      const onMessage = (data: WebSocket.RawData): void => {
        if (!String(data).includes('"update"')) return
        socket.off('message', onMessage)
        resolve(String(data))
      }
      socket.on('message', onMessage)
      socket.send('ping')
    })
    : ''
  rows.push({
    scenario: 'WebSocket, ticket + expiring token',
    request: 'WS /api/stream?ticket=…',
    status: opened ? 101 : 401,
    answer: opened && update.includes('"update"') ? `open across ${renewals} token renewals` : 'closed',
  })
  flow.detach()
  socket.close()
}

const fresh = await idp.token('web-opaque')
await idp.stop()
await call('identity provider stopped', 'GET', '/internal/orders', fresh.access_token)
await idp.start()

const widths = { scenario: 34, request: 28, status: 6 }
const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd([widths.scenario, widths.request, widths.status, 0][i]!)).join('  ')
console.log(`\nfastify-token-auth demo: identity provider ${idp.issuer}, API ${base}\n`)
console.log(line(['scenario', 'request', 'status', 'answer']))
console.log(line(['-'.repeat(widths.scenario), '-'.repeat(widths.request), '-'.repeat(widths.status), '-'.repeat(24)]))
for (const row of rows) console.log(line([row.scenario, row.request, String(row.status), row.answer]))

if (once) {
  await api.close()
  await idp.close()
} else {
  const { access_token } = await idp.token('web-jwt')
  console.log(`\nThe API is running. Try it (token valid for 1 hour):\n`)
  console.log(`  curl -i -H 'Authorization: Bearer ${access_token}' ${base}/api/orders\n`)
  console.log('Ctrl-C to stop.')
  process.once('SIGINT', () => {
    void api.close().then(() => idp.close()).then(() => process.exit(0))
  })
}
