// Builds the app most tests need: the plugin with a test provider, and a few routes.
import type { PluginExtras } from './extras.js'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fastifyTokenAuth from '../../src/index.js'
import { testProvider, type TestProvider } from '../../providers/test.js'

export const NOW_S = (): number => Math.floor(Date.now() / 1000)

export const TOKENS = {
  alice: 'alice-token.a1b2c3',
  reader: 'reader-token.d4e5f6',
  machine: 'machine-token.g7h8i9',
} as const

export function standardTokens(): Record<string, Record<string, unknown>> {
  const exp = NOW_S() + 3600
  return {
    [TOKENS.alice]: { sub: 'alice', scope: 'orders:read orders:write', exp, name: 'Alice', email: 'alice@example.test' },
    [TOKENS.reader]: { sub: 'reader', scope: 'orders:read', exp },
    [TOKENS.machine]: { client_id: 'billing-service', scope: 'orders:read', exp },
  }
}

export interface TestApp {
  app: FastifyInstance
  provider: TestProvider
}

export async function buildApp(
  pluginOptions: PluginExtras = {},
  fastifyOptions: FastifyServerOptions = {},
  provider: TestProvider = testProvider({ tokens: standardTokens() }),
): Promise<TestApp> {
  const app = Fastify(fastifyOptions)
  await app.register(fastifyTokenAuth, { provider, ...pluginOptions })
  app.get('/me', async (request) => ({ auth: request.auth, authFailure: request.authFailure }))
  app.get('/orders', { config: { auth: { scopes: ['orders:read'] } } }, async (request) => ({ uid: request.auth.uid }))
  app.post('/orders', { config: { auth: { scopes: ['orders:write'] } } }, async (request) => ({ uid: request.auth.uid }))
  app.get('/private', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
  app.get('/admin', { preHandler: app.requireAuth({ scopes: ['admin'] }) }, async (request) => ({ uid: request.auth.uid }))
  app.get('/health', { config: { auth: false } }, async (request) => ({ ok: true, auth: request.auth, authFailure: request.authFailure }))
  await app.ready()
  return { app, provider }
}
