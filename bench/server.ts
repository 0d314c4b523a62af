// One benchmark server variant per process: `node --import tsx bench/server.ts <variant> <fixtures.json>`.
// Listens on a free port on 127.0.0.1 and reports it to the parent; answers `cpu` (this process's
// user + system CPU in µs, every thread) and `calls` (provider calls so far) over IPC.
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { importJWK, jwtVerify } from 'jose'
import fastifyTokenAuth, { type AnyProvider } from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { jwtProvider } from '../providers/jwt.js'
import { AUDIENCE, ISSUER, loadFixtures, type Algorithm } from './fixtures.js'

const [variant = 'bare', fixturesPath = ''] = process.argv.slice(2)
const fixtures = loadFixtures(fixturesPath)
const app: FastifyInstance = Fastify({ logger: false })
const reply = { orders: [{ id: 1, item: 'tea' }] }
let calls = 0

/** Counts getPayload calls: the cold burst must cause exactly one. */
function counted(provider: AnyProvider): AnyProvider {
  const getPayload = provider.getPayload.bind(provider)
  provider.getPayload = (token, ctx) => {
    calls++
    return getPayload(token, ctx)
  }
  return provider
}

const [kind = 'bare', option = '', mode = ''] = variant.split(':')
switch (kind) {
  case 'bare':
    app.get('/orders', async () => reply)
    break
  case 'noop-hook':
    // The floor of any authentication plugin: one global onRequest hook that does nothing.
    app.addHook('onRequest', (_request, _reply, done) => done())
    app.get('/orders', async () => reply)
    break
  case 'fastify-jwt': {
    // @fastify/jwt (fast-jwt) as its README configures it for a public key: every request verified.
    const alg = option as Algorithm
    await app.register(fastifyJwt, { secret: { public: fixtures.keys[alg].publicPem, private: '' }, verify: { algorithms: [alg], allowedIss: ISSUER, allowedAud: AUDIENCE } })
    app.get('/orders', { preHandler: async (request) => { await request.jwtVerify() } }, async () => reply)
    break
  }
  case 'jose-prehandler': {
    const key = await importJWK(fixtures.keys.RS256.publicJwk, 'RS256')
    app.get('/orders', { preHandler: async (request) => { await jwtVerify(request.headers.authorization!.slice(7), key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] }) } }, async () => reply)
    break
  }
  case 'ours': {
    // `ours:RS256:uncached` — the jwt provider with the algorithm's key; `introspection` against the embedded IdP.
    const provider = option === 'introspection'
      ? introspectionProvider({ issuer: fixtures.idpIssuer!, ...fixtures.idpClient! })
      : jwtProvider({ issuer: ISSUER, audience: AUDIENCE, keys: { keys: [fixtures.keys[option as Algorithm].publicJwk] } })
    await app.register(fastifyTokenAuth, { provider: counted(provider), cache: mode === 'uncached' ? false : {} })
    app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async () => reply)
    break
  }
  default:
    throw new Error(`unknown variant ${variant}`)
}

await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ port: (app.server.address() as { port: number }).port })
process.on('message', (message) => {
  if (message === 'stop') void app.close().then(() => process.exit(0))
  // CPU time used so far (µs, user + system, all threads): the orchestrator divides a run's share by its requests.
  if (message === 'cpu') {
    const { user, system } = process.cpuUsage()
    process.send?.({ cpu: user + system })
  }
  if (message === 'calls') process.send?.({ calls })
})
