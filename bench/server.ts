// One benchmark server variant per process: `node --import tsx bench/server.ts <variant> <fixtures.json>`.
// Listens on a free port on 127.0.0.1 and reports it to the parent.
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { importJWK, jwtVerify } from 'jose'
import fastifyTokenAuth from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { jwtProvider } from '../providers/jwt.js'
import { AUDIENCE, ISSUER, loadFixtures } from './fixtures.js'

const [variant = 'bare', fixturesPath = ''] = process.argv.slice(2)
const fixtures = loadFixtures(fixturesPath)
const app: FastifyInstance = Fastify({ logger: false })
const reply = { orders: [{ id: 1, item: 'tea' }] }

const jwt = (alg: 'RS256' | 'ES256') => jwtProvider({
  issuer: ISSUER, audience: AUDIENCE, keys: { keys: [alg === 'RS256' ? fixtures.rsaPublicJwk : fixtures.ecPublicJwk] },
})
const introspection = () => introspectionProvider({ issuer: fixtures.idpIssuer!, ...fixtures.idpClient! })

switch (variant) {
  case 'bare':
    app.get('/orders', async () => reply)
    break
  case 'noop-hook':
    // The floor of any authentication plugin: one global onRequest hook that does nothing.
    app.addHook('onRequest', (_request, _reply, done) => done())
    app.get('/orders', async () => reply)
    break
  case 'fastify-jwt':
    await app.register(fastifyJwt, { secret: { public: fixtures.rsaPublicPem, private: '' }, verify: { algorithms: ['RS256'], allowedIss: ISSUER, allowedAud: AUDIENCE } })
    app.get('/orders', { preHandler: async (request) => { await request.jwtVerify() } }, async () => reply)
    break
  case 'jose-prehandler': {
    const key = await importJWK(fixtures.rsaPublicJwk, 'RS256')
    app.get('/orders', { preHandler: async (request) => { await jwtVerify(request.headers.authorization!.slice(7), key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] }) } }, async () => reply)
    break
  }
  default: {
    const [kind, mode] = variant.split(':') as [string, string]
    const provider = kind === 'jwt-rs256' ? jwt('RS256') : kind === 'jwt-es256' ? jwt('ES256') : introspection()
    await app.register(fastifyTokenAuth, { provider, cache: mode === 'uncached' ? false : {} })
    app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async () => reply)
  }
}

await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ port: (app.server.address() as { port: number }).port })
process.on('message', (message) => {
  if (message === 'stop') void app.close().then(() => process.exit(0))
  // CPU time used so far (µs, user + system): the orchestrator divides a run's share by its requests.
  if (message === 'cpu') {
    const { user, system } = process.cpuUsage()
    process.send?.({ cpu: user + system })
  }
})
