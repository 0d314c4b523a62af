// An example resource server: the same orders routes guarded two ways, JWT access tokens
// verified locally under /api, opaque tokens introspected under /internal.
import { randomBytes } from 'node:crypto'
import fastifyWebsocket from '@fastify/websocket'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import fastifyTokenAuth, { type AnyProvider } from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { jwtProvider } from '../providers/jwt.js'

export interface OrdersApiOptions {
  issuer: string
  audience: string
  /** The API's credentials at the identity provider, for introspection. */
  clientId: string
  clientSecret: string
  logger?: boolean
}

const orders = [{ id: 1, item: 'tea', quantity: 2 }]

const ordersRoutes: FastifyPluginAsync<{ provider: AnyProvider }> = async (api, { provider }) => {
  // Connection tickets are signed with this; a real deployment reads it from its secrets store.
  await api.register(fastifyTokenAuth, { provider, realm: 'orders', timeout: 2_000, ticketSecret: randomBytes(32) })
  api.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => ({ owner: request.auth.uid, orders }))
  api.post('/orders', { config: { auth: { scopes: ['orders:write'] } } }, async (request) => ({ created: true, by: request.auth.uid }))
  api.get('/me', async (request) => request.auth ?? request.authFailure)
  // Browsers cannot set headers on a WebSocket: they fetch a short-lived ticket first.
  api.post('/ticket', { config: { auth: true } }, async (request) => ({ ticket: api.tokenAuth.issueTicket(request.auth, { route: `${api.prefix}/stream` }) }))
  // Order updates as a stream; when the token expires the client is asked for a fresh one.
  api.get('/stream', { websocket: true, config: { auth: { scopes: ['orders:read'], onExpire: 'reauth', reauthGrace: 5_000 } } }, (socket) => {
    socket.on('message', (data) => socket.send(JSON.stringify({ type: 'update', orders, echo: String(data) })))
  })
}

export async function buildOrdersApi(options: OrdersApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })
  await app.register(fastifyWebsocket)
  app.get('/health', async () => ({ ok: true }))
  // JWT access tokens (RFC 9068), verified locally against the issuer's JWKS.
  await app.register(ordersRoutes, {
    prefix: '/api',
    provider: jwtProvider({ issuer: options.issuer, audience: options.audience, typ: 'at+jwt', clockTolerance: 1 }),
  })
  // Opaque tokens, introspected (RFC 7662) on every request: ttl 0 makes a revocation take effect at once.
  await app.register(ordersRoutes, {
    prefix: '/internal',
    provider: introspectionProvider({ issuer: options.issuer, clientId: options.clientId, clientSecret: options.clientSecret, audience: options.audience, ttl: 0 }),
  })
  return app
}
