// One benchmark server variant per process: `node --import tsx bench/server.ts <variant> <fixtures.json>`.
// Listens on a free port on 127.0.0.1 and reports it to the parent; answers `cpu` (this process's
// user + system CPU in µs, every thread) and `calls` (provider calls so far) over IPC.
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { createHash, createPublicKey, verify } from 'node:crypto'
import { importJWK, jwtVerify } from 'jose'
import { LRUCache } from 'lru-cache'
import fastifyTokenAuth, { type AnyProvider } from '../src/index.js'
import { introspectionProvider } from '../providers/introspection.js'
import { jwtProvider } from '../providers/jwt.js'
import { AUDIENCE, ISSUER, loadFixtures, type Algorithm } from './fixtures.js'

const [variant = 'bare', fixturesPath = ''] = process.argv.slice(2)
const fixtures = loadFixtures(fixturesPath)
const app: FastifyInstance = Fastify({ logger: false })
const reply = { orders: [{ id: 1, item: 'tea' }] }
let calls = 0

/**
 * Counts validations at the provider, asynchronous (getPayload) or at once (getPayloadSync): the
 * cold burst must cause exactly one. A getPayloadSync that declines (undefined) is not counted,
 * since getPayload is then called and counted.
 */
function counted(provider: AnyProvider): AnyProvider {
  const getPayload = provider.getPayload.bind(provider)
  provider.getPayload = (token, ctx) => {
    calls++
    return getPayload(token, ctx)
  }
  const getPayloadSync = provider.getPayloadSync?.bind(provider)
  if (getPayloadSync !== undefined) {
    provider.getPayloadSync = (token) => {
      const payload = getPayloadSync(token)
      if (payload !== undefined) calls++
      return payload
    }
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
  case 'noop-preparsing':
    // The phase this plugin's hook runs in (after every plugin's onRequest hooks), doing nothing.
    app.addHook('preParsing', (_request, _reply, _payload, done) => done())
    app.get('/orders', async () => reply)
    break
  case 'minimal-cache': {
    // The floor of any caching auth hook: a SHA-256 key of the token and an lru-cache hit, in preParsing.
    const cache = new LRUCache<string, { uid: string }>({ max: 10_000, ttl: 60_000 })
    app.decorateRequest('tokenOwner', null)
    app.addHook('preParsing', (request, _reply, _payload, done) => {
      const header = request.headers.authorization
      if (header === undefined || !header.startsWith('Bearer ')) return done()
      const key = createHash('sha256').update(header.slice(7)).digest('base64url')
      let user = cache.get(key)
      if (user === undefined) cache.set(key, user = { uid: 'user' })
      ;(request as unknown as { tokenOwner: unknown }).tokenOwner = user
      done()
    })
    app.get('/orders', async () => reply)
    break
  }
  case 'floor-verify': {
    // The floor of any verifying hook: split the token and crypto.verify its RS256 signature with a
    // KeyObject made once (no header, claim or time checks: not a safe verifier, a measure).
    const key = createPublicKey({ key: fixtures.keys.RS256.publicJwk, format: 'jwk' })
    app.addHook('preParsing', (request, _reply, _payload, done) => {
      const token = request.headers.authorization!.slice(7)
      const dot = token.lastIndexOf('.')
      if (!verify('sha256', Buffer.from(token.slice(0, dot)), key, Buffer.from(token.slice(dot + 1), 'base64url'))) return done(new Error('bad signature'))
      done()
    })
    app.get('/orders', async () => reply)
    break
  }
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
