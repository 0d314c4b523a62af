// Certificate-bound tokens (RFC 8705): a real HTTPS server asking for client certificates, made by
// openssl in the test (a CA, the server, two clients); the token is bound to client A's certificate.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { Agent, request } from 'undici'
import fastifyWebsocket from '@fastify/websocket'
import WebSocket from 'ws'
import fastifyTokenAuth from '../src/index.js'
import { testProvider } from '../providers/test.js'

let dir: string
let app: FastifyInstance
let base: string
const pem = (name: string): string => readFileSync(join(dir, name), 'utf8')
const openssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }) }

function issue(name: string, subject: string, extfile?: string): void {
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, ...(extfile === undefined ? [] : ['-extfile', extfile]))
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fta-mtls-'))
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Test CA')
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n')
  issue('server', '/CN=127.0.0.1', 'server.ext')
  issue('client-a', '/CN=client-a')
  issue('client-b', '/CN=client-b')
  const thumbprint = createHash('sha256').update(new X509Certificate(pem('client-a.crt')).raw).digest('base64url')
  const provider = testProvider({ tokens: {
    'mtls-bound-token.1': { sub: 'client-a', scope: 'orders:read', cnf: { 'x5t#S256': thumbprint } },
    'plain-token.1': { sub: 'anyone', scope: 'orders:read' },
  } })
  app = Fastify({ https: { key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: true, rejectUnauthorized: false } })
  await app.register(fastifyWebsocket)
  await app.register(fastifyTokenAuth, { provider, ticketSecret: 'mtls-test-ticket-secret-0123456789abcdefgh' })
  app.get('/orders', { config: { auth: true } }, async (req) => ({ uid: req.auth.uid }))
  app.get('/ticket', { config: { auth: true } }, async (req) => ({ ticket: app.tokenAuth.issueTicket(req.auth, { route: '/ws' }) }))
  app.get('/ws', { websocket: true, config: { auth: true } }, (socket) => { socket.on('message', () => socket.send('ok')) })
  app.get('/ws-first', { websocket: true, config: { auth: { firstMessage: true } } }, (socket) => { socket.on('message', () => socket.send('ok')) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `127.0.0.1:${(app.server.address() as { port: number }).port}`
})
after(async () => {
  await app.close()
  rmSync(dir, { recursive: true, force: true })
})

type ClientName = 'client-a' | 'client-b'
const tlsOf = (client?: ClientName) => ({ ca: pem('ca.crt'), ...(client === undefined ? {} : { cert: pem(`${client}.crt`), key: pem(`${client}.key`) }) })

async function get(token: string, client?: ClientName, path = '/orders'): Promise<{ status: number; body: Record<string, unknown> }> {
  const dispatcher = new Agent({ connect: tlsOf(client) })
  try {
    const response = await request(`https://${base}${path}`, { headers: { authorization: `Bearer ${token}` }, dispatcher })
    return { status: response.statusCode, body: await response.body.json() as Record<string, unknown> }
  } finally {
    await dispatcher.close()
  }
}

describe('certificate-bound tokens (RFC 8705)', () => {
  test('with the certificate it is bound to: 200', async () => {
    assert.deepEqual(await get('mtls-bound-token.1', 'client-a'), { status: 200, body: { uid: 'client-a' } })
  })

  test('with another client certificate: 401 invalid_token', async () => {
    const { status, body } = await get('mtls-bound-token.1', 'client-b')
    assert.equal(status, 401)
    assert.equal(body.error, 'invalid_token')
    assert.equal(body.error_description, 'The access token is bound to another client certificate')
  })

  test('without a client certificate: 401', async () => {
    assert.equal((await get('mtls-bound-token.1')).status, 401)
  })

  test('an unbound token does not need a certificate', async () => {
    assert.equal((await get('plain-token.1')).status, 200)
  })
})

/** Opens a wss socket with a client certificate (or none): 'open', or the refused upgrade's status. */
function openSocket(path: string, client?: ClientName): Promise<{ socket?: WebSocket; status?: number }> {
  const socket = new WebSocket(`wss://${base}${path}`, tlsOf(client))
  socket.on('error', () => {})
  return new Promise((resolve) => {
    socket.once('open', () => resolve({ socket }))
    socket.once('unexpected-response', (_request, response) => { resolve({ status: response.statusCode }); socket.terminate() })
  })
}

describe('certificate-bound tokens at the WebSocket doors', () => {
  test('a ticket minted from a bound token carries the binding: the upgrade needs that certificate', async () => {
    for (const [client, expected] of [[undefined, 401], ['client-b', 401], ['client-a', 'open']] as const) {
      const minted = await get('mtls-bound-token.1', 'client-a', '/ticket')
      assert.equal(minted.status, 200)
      const opened = await openSocket(`/ws?ticket=${String(minted.body.ticket)}`, client)
      assert.equal(opened.socket === undefined ? opened.status : 'open', expected, `redeemed with ${client ?? 'no certificate'}`)
      opened.socket?.close()
    }
  })

  test('first-message auth with a bound token: auth_ok on its certificate\'s connection, 4401 on another', async () => {
    for (const [client, expected] of [['client-a', 'auth_ok'], ['client-b', 4401], [undefined, 4401]] as const) {
      const { socket } = await openSocket('/ws-first', client)
      assert.ok(socket !== undefined)
      const answer = await new Promise<string | number>((resolve) => {
        socket.once('message', (data) => resolve((JSON.parse(String(data)) as { type: string }).type))
        socket.once('close', (code) => resolve(code))
        socket.send(JSON.stringify({ type: 'auth', token: 'mtls-bound-token.1' }))
      })
      assert.equal(answer, expected, `over ${client ?? 'no certificate'}`)
      socket.close()
    }
  })
})
