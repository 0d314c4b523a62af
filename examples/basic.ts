// The smallest useful API: one public route, one route that needs a token, one that needs a scope.
// Run: node --import tsx examples/basic.ts, then
//   curl -H 'Authorization: Bearer demo-reader' http://127.0.0.1:3000/orders
import Fastify from 'fastify'
import fastifyTokenAuth from '../src/index.js'
import { testProvider } from '../providers/test.js'

const exp = Math.floor(Date.now() / 1000) + 3600
const provider = testProvider({
  tokens: {
    'demo-reader': { sub: 'reader', scope: 'orders:read', exp },
    'demo-admin': { sub: 'admin', scope: 'orders:read orders:write admin', exp },
  },
})

const app = Fastify({ logger: true })
await app.register(fastifyTokenAuth, { provider, realm: 'orders' })
app.get('/health', { config: { auth: false } }, async () => ({ ok: true }))
app.get('/me', async (request) => request.auth ?? request.authFailure)
app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => ({ owner: request.auth.uid, orders: [] }))
app.delete('/orders/:id', { preHandler: app.requireAuth({ scopes: ['admin'] }) }, async () => ({ deleted: true }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
