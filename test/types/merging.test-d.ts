// Type tests, checked by `npm run typecheck`: tsc fails on a broken expectation, and on an
// expected error that no longer occurs. Not run: nothing here executes.
import Fastify from 'fastify'
import fastifyTokenAuth, {
  defineProvider, tokenAuth, type Auth, type AuthFailure, type Provider, type TokenAuthDecorator,
} from '../../src/index.js'
import { testProvider } from '../../providers/test.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true>(_check?: T): void {}

const app = Fastify()
await app.register(fastifyTokenAuth, { provider: testProvider({ tokens: {} }) })

// request.auth / request.authFailure through declaration merging
app.get('/me', { config: { auth: { scopes: ['read'] } } }, async (request) => {
  expectType<Equal<typeof request.auth.uid, string>>()
  expectType<Equal<typeof request.auth.credentials.scopes, string[]>>()
  expectType<Equal<typeof request.authFailure, AuthFailure | null>>()
  return request.auth.uid
})

// the route option is typed
app.get('/a', { config: { auth: true } }, async () => 'a')
app.get('/b', { config: { auth: false } }, async () => 'b')
// @ts-expect-error scopes is a list
app.get('/c', { config: { auth: { scopes: 'read' } } }, async () => 'c')

// instance decorators
expectType<Equal<typeof app.tokenAuth, TokenAuthDecorator>>()
app.get('/d', { preHandler: app.requireAuth({ scopes: ['admin'] }) }, async () => 'd')

// @ts-expect-error the provider is required
await app.register(fastifyTokenAuth, {})

// defineProvider infers a custom payload type into every member
interface OrgClaims { sub: string; org: string; exp: number }
const orgProvider = defineProvider<OrgClaims>({
  name: 'org',
  getPayload: async () => ({ sub: 'a', org: 'acme', exp: 0 }),
  getInfo: (payload) => ({ name: payload.org }),
})
expectType<Equal<typeof orgProvider, Provider<OrgClaims>>>()
defineProvider<OrgClaims>({
  name: 'org',
  getPayload: async () => ({ sub: 'a', org: 'acme', exp: 0 }),
  // @ts-expect-error `tenant` is not a claim of OrgClaims
  getUid: (payload) => payload.tenant,
})

// tokenAuth returns either result
const result = await tokenAuth('t', orgProvider)
expectType<Equal<typeof result, Auth | AuthFailure>>()
