// Type claims that a plain compiler checks, without tstyche: TypeScript 7 has no JavaScript
// compiler API, so tstyche cannot run on it, and `npm run test:types` compiles this folder with
// TypeScript 7's tsc (scripts/typescript-7.mjs) after tstyche's runs on 5.4 and 5.9. A claim is a
// `true` that only compiles when two types are the same, or a line that must not compile
// (`@ts-expect-error`: a directive with no error under it is an error itself).
import Fastify from 'fastify'
import fastifyTokenAuth, {
  channels, defineProvider, type tokenAuth,
  type Auth, type AuthFailure, type Claims, type FetchMessage, type Provider, type RouteAuthConfig, type ValidationMessage,
} from '../../src/index.js'
import { instrument } from '../../src/otel.js'
import { testProvider } from '../../providers/test.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const same = <A, B>(proof: Equal<A, B>): Equal<A, B> => proof

const app = Fastify()
const provider = testProvider({ tokens: {} })
await app.register(fastifyTokenAuth, { provider })

app.get('/me', { config: { auth: true } }, async (request) => {
  same<typeof request.auth, Auth>(true)
  same<typeof request.auth.uid, string>(true)
  same<typeof request.auth.credentials.scopes, string[]>(true)
  same<typeof request.auth.credentials.expiresAt, number | undefined>(true)
  same<typeof request.authFailure, AuthFailure | null>(true)
  return request.auth.uid
})
same<AuthFailure['errors'][number]['messageKey'], 'missing_token' | 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'provider_unavailable' | 'invalid_dpop_proof' | 'too_many_attempts'>(true)
same<ReturnType<typeof app.tokenAuth.verify>, Promise<Auth | AuthFailure>>(true)

app.requireAuth({ scopes: ['admin'] })
// @ts-expect-error scopes is a list
app.requireAuth({ scopes: 'admin' })
// @ts-expect-error a typo of scopes is refused, as at registration
app.requireAuth({ scope: ['admin'] })
// @ts-expect-error revoke takes a token or { uid }
void app.tokenAuth.revoke({ sub: 'alice' })

const rules: RouteAuthConfig[] = [true, false, { scopes: ['read'] }, { firstMessage: true, authTimeout: 2_000, onExpire: 'reauth' }]
// @ts-expect-error scopes is a list
const notAList: RouteAuthConfig = { scopes: 'read' }
// @ts-expect-error onExpire is 'close' or 'reauth'
const unknownExpiry: RouteAuthConfig = { onExpire: 'ignore' }

// @ts-expect-error a provider is required
await app.register(fastifyTokenAuth, {})
// @ts-expect-error cache is options, a TokenCache or false
await app.register(fastifyTokenAuth, { provider, cache: 'off' })

interface OrgClaims { sub: string; org: string; exp: number }
const org = defineProvider({ name: 'org', getPayload: async (): Promise<OrgClaims> => ({ sub: 'a', org: 'acme', exp: 0 }), getInfo: (payload) => ({ name: payload.org }) })
same<typeof org, Provider<OrgClaims>>(true)
same<typeof org.getUid, (payload: OrgClaims) => string>(true)
same<ReturnType<typeof tokenAuth>, Promise<Auth | AuthFailure>>(true)
same<Provider['getPayload'], (token: string, ctx: Parameters<Provider['getPayload']>[1]) => Promise<Claims>>(true)

channels.validation.subscribe((message, name) => {
  same<typeof message, ValidationMessage>(true)
  same<typeof name, string | symbol>(true)
})
channels.fetch.subscribe((message) => same<typeof message.what, FetchMessage['what']>(true))
// @ts-expect-error a validation message has no raw token, only its fingerprint; and a listener must take the message
channels.validation.subscribe((message: { token: number }) => message)

const uninstrument = instrument({})
same<typeof uninstrument, () => void>(true)
// @ts-expect-error unknown options are refused by the type as at run time
instrument({ tracer: {} })

export { rules, notAList, unknownExpiry }
