// A real, standards-compliant identity provider on loopback (panva's oidc-provider, OpenID
// Certified) for the demo and the tests: confidential clients get opaque or JWT (RFC 9068) access
// tokens through client_credentials, with resource indicators for the audience; introspection,
// revocation and userinfo are on. It counts the requests it serves, can be stopped and started
// on the same port, and can rotate its signing key.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import Provider, { errors, type Configuration } from 'oidc-provider'

export const API_AUDIENCE = 'api://orders'
export const OTHER_AUDIENCE = 'api://billing'
export const API_SCOPES = 'orders:read orders:write admin'

/** The API's own credentials, for introspection. */
export const API_CLIENT = { clientId: 'orders-api', clientSecret: 'orders-api-secret-0123456789abcdef' }
export const API_CLIENT_POST = { clientId: 'orders-api-post', clientSecret: 'orders-api-post-secret-0123456789' }

/** Clients that get tokens: the name says the token format (and `-es` the ES256 algorithm, `-short` a 1 s lifetime). */
export const TOKEN_CLIENTS = ['web-jwt', 'web-jwt-es', 'web-jwt-short', 'web-opaque', 'web-opaque-short', 'web-user'] as const
export type TokenClient = (typeof TOKEN_CLIENTS)[number]
const secretOf = (clientId: string): string => `${clientId}-secret-0123456789abcdef`

const isApiClient = (clientId: string): boolean => clientId === API_CLIENT.clientId || clientId === API_CLIENT_POST.clientId

const USER_GRANT = 'urn:example:params:oauth:grant-type:user-token'

export interface TokenResponse {
  access_token: string
  token_type: string
  expires_in: number
  scope?: string
}

export interface EmbeddedIdp {
  readonly issuer: string
  readonly port: number
  /** Requests served, by path (`/token/introspection`, `/jwks`, `/me`, …). */
  readonly calls: Record<string, number>
  /** A client_credentials access token for `resource` (default the orders API). */
  token(client: TokenClient, options?: { scope?: string; resource?: string }): Promise<TokenResponse>
  /** A user-bound opaque token with `openid profile email`, for the userinfo endpoint. */
  userToken(accountId: string): Promise<TokenResponse>
  /** Revokes a token (RFC 7009). */
  revoke(token: string): Promise<void>
  /** Starts signing with a new RSA key (the old ones stay published). Returns the new kid. */
  rotateSigningKey(): Promise<string>
  /** Stops answering (connections refused) until start(). */
  stop(): Promise<void>
  start(): Promise<void>
  close(): Promise<void>
}

async function signingKey(kid: string, alg: 'RS256' | 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true })
  return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' }
}

function configuration(keys: JWK[]): Configuration {
  const tokenClients = TOKEN_CLIENTS.map((clientId) => ({
    client_id: clientId,
    client_secret: secretOf(clientId),
    grant_types: clientId === 'web-user' ? [USER_GRANT] : ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: clientId === 'web-user' ? 'openid profile email' : API_SCOPES,
  }))
  return {
    clients: [
      { client_id: API_CLIENT.clientId, client_secret: API_CLIENT.clientSecret, grant_types: [], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: API_CLIENT_POST.clientId, client_secret: API_CLIENT_POST.clientSecret, grant_types: [], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post' },
      ...tokenClients,
    ],
    jwks: { keys },
    cookies: { keys: ['embedded-idp-cookie-key-0123456789'] },
    scopes: ['openid', 'profile', 'email', ...API_SCOPES.split(' ')],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, name: `User ${id}`, preferred_username: id, email: `${id}@example.test`, email_verified: true }),
    }),
    // Set explicitly: oidc-provider prints a notice for each default left in place.
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
      Grant: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // The API's clients may introspect and revoke every token; others only their own.
      introspection: { enabled: true, allowedPolicy: (ctx, client, token) => isApiClient(client.clientId) || token.clientId === ctx.oidc.client?.clientId },
      revocation: { enabled: true, allowedPolicy: (ctx, client, token) => isApiClient(client.clientId) || token.clientId === ctx.oidc.client?.clientId },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource, client) => {
          if (resource !== API_AUDIENCE && resource !== OTHER_AUDIENCE) throw new errors.InvalidTarget()
          const id = client.clientId
          return {
            scope: API_SCOPES,
            audience: resource,
            accessTokenTTL: id.endsWith('-short') ? 1 : 3600,
            accessTokenFormat: id.includes('opaque') ? 'opaque' : 'jwt',
            jwt: { sign: { alg: id.endsWith('-es') ? 'ES256' : 'RS256' } },
          }
        },
      },
    },
  }
}

/** A grant that issues a user-bound opaque token without a browser (for the userinfo endpoint). */
function registerUserGrant(provider: Provider): void {
  provider.registerGrantType(USER_GRANT, async (ctx) => {
    const { client, params } = ctx.oidc
    const account = (params as { account?: unknown }).account
    const accountId = typeof account === 'string' && account.length > 0 ? account : 'alice'
    const grant = new provider.Grant({ clientId: client?.clientId, accountId })
    grant.addOIDCScope('openid profile email')
    const grantId = await grant.save()
    const token = new provider.AccessToken({ accountId, client, grantId, scope: 'openid profile email', gty: USER_GRANT })
    const value = await token.save()
    ctx.body = { access_token: value, token_type: 'Bearer', expires_in: token.expiration, scope: token.scope }
  }, new Set(['account']))
}

async function buildProvider(issuer: string, keys: JWK[]): Promise<Provider> {
  // oidc-provider announces development-only settings with console.info; keep stdout for results.
  const info = console.info
  console.info = () => {}
  try {
    const provider = new Provider(issuer, configuration(keys))
    registerUserGrant(provider)
    return await Promise.resolve(provider)
  } finally {
    console.info = info
  }
}

export async function startEmbeddedIdp(): Promise<EmbeddedIdp> {
  const calls: Record<string, number> = {}
  let handler: (req: IncomingMessage, res: ServerResponse) => unknown = (_req, res) => res.writeHead(503).end()
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://idp').pathname
    calls[path] = (calls[path] ?? 0) + 1
    void handler(req, res)
  })
  server.keepAliveTimeout = 1_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const issuer = `http://127.0.0.1:${port}`
  const keys = [await signingKey('rsa-1', 'RS256'), await signingKey('ec-1', 'ES256')]
  let rotations = 1
  const install = async (): Promise<void> => {
    handler = (await buildProvider(issuer, keys)).callback()
  }
  await install()

  async function tokenRequest(clientId: string, form: Record<string, string>): Promise<TokenResponse> {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${clientId}:${secretOf(clientId)}`).toString('base64')}`,
      },
      body: new URLSearchParams(form).toString(),
    })
    const body = await response.json() as TokenResponse & { error?: string; error_description?: string }
    if (!response.ok) throw new Error(`token endpoint: ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`)
    return body
  }

  async function stop(): Promise<void> {
    if (!server.listening) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }

  return {
    issuer,
    port,
    calls,
    token: (client, options = {}) => tokenRequest(client, {
      grant_type: 'client_credentials',
      scope: options.scope ?? API_SCOPES,
      resource: options.resource ?? API_AUDIENCE,
    }),
    userToken: (accountId) => tokenRequest('web-user', { grant_type: USER_GRANT, account: accountId }),
    async revoke(token) {
      const response = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${API_CLIENT.clientId}:${API_CLIENT.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      })
      if (!response.ok) throw new Error(`revocation endpoint: ${response.status} ${await response.text()}`)
    },
    async rotateSigningKey() {
      rotations++
      const kid = `rsa-${rotations}`
      keys.unshift(await signingKey(kid, 'RS256'))
      await install()
      return kid
    },
    stop,
    async start() {
      if (server.listening) return
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject)
          resolve()
        })
      })
    },
    close: () => stop(),
  }
}
