import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { hydra } from '../../providers/presets/hydra.js'

const now = (): number => Math.floor(Date.now() / 1000)
let server: Server
let adminUrl: string
const requests: Array<{ url: string; authorization: string | undefined; body: string }> = []
// Plays Hydra v2's admin POST /admin/oauth2/introspect, with answers shaped like Hydra's.
const answers: Record<string, unknown> = {
  'ory_at_valid': { active: true, scope: 'orders.read offline', client_id: 'web', sub: 'alice', exp: now() + 3600, iat: now(), nbf: now(), aud: ['orders'], iss: 'https://auth.acme.com/', token_type: 'Bearer', token_use: 'access_token', ext: {} },
  'ory_rt_refresh': { active: true, scope: 'orders.read offline', client_id: 'web', sub: 'alice', exp: now() + 3600, iat: now(), iss: 'https://auth.acme.com/', token_use: 'refresh_token' },
  'ory_at_otherissuer': { active: true, client_id: 'web', sub: 'alice', exp: now() + 3600, iss: 'https://auth.other.com/', token_use: 'access_token' },
}
before(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      requests.push({ url: req.url ?? '', authorization: req.headers.authorization, body })
      const token = new URLSearchParams(body).get('token') ?? ''
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers[token] ?? { active: false }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  adminUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => server.close())

test('hydra: an active access token; scopes and uid; no client credentials sent to the admin API', async () => {
  const auth = await tokenAuth('ory_at_valid', hydra({ adminUrl, issuer: 'https://auth.acme.com/' })) as Auth
  assert.equal(auth.uid, 'alice')
  assert.deepEqual(auth.credentials.scopes, ['orders.read', 'offline'])
  assert.equal(requests.at(-1)?.url, '/admin/oauth2/introspect')
  assert.equal(requests.at(-1)?.authorization, undefined)
  assert.ok(!requests.at(-1)!.body.includes('client_secret'))
})

test('hydra: a refresh token, an inactive token, another issuer: refused', async () => {
  const provider = hydra({ adminUrl, issuer: 'https://auth.acme.com/' })
  for (const token of ['ory_rt_refresh', 'ory_at_unknown', 'ory_at_otherissuer']) {
    assert.equal((await tokenAuth(token, provider) as AuthFailure).status, 401, token)
  }
})
