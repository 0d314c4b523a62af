import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { zitadel } from '../../providers/presets/zitadel.js'

const now = (): number => Math.floor(Date.now() / 1000)
const DOMAIN = 'acme-abc123.zitadel.cloud'
let server: Server
let baseUrl: string
const seen: string[] = []
before(async () => {
  // Plays ZITADEL's POST /oauth/v2/introspect (basic auth), answers shaped like its documentation.
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      seen.push(`${req.url} ${req.headers.authorization ?? ''}`)
      const token = new URLSearchParams(body).get('token')
      const answers: Record<string, unknown> = {
        'zitadel-opaque-1': {
          active: true, scope: 'openid profile', client_id: '235246893@orders', token_type: 'Bearer', exp: now() + 43_200, iat: now(), nbf: now(),
          sub: '235246654', aud: ['235246893@orders', '235246001'], iss: `https://${DOMAIN}`, jti: '235247000', username: 'alice@acme.com',
          name: 'Alice Acme', given_name: 'Alice', family_name: 'Acme', email: 'alice@acme.com', email_verified: true,
          'urn:zitadel:iam:org:project:roles': { 'orders.admin': { '235245000': 'acme.zitadel.cloud' }, 'orders.reader': { '235245000': 'acme.zitadel.cloud' } },
          'urn:zitadel:iam:org:project:235246001:roles': { 'orders.admin': { '235245000': 'acme.zitadel.cloud' } },
        },
        'zitadel-other-instance': { active: true, sub: 'x', iss: 'https://other-xyz.zitadel.cloud', aud: ['235246001'], exp: now() + 600 },
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers[token ?? ''] ?? { active: false }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => server.close())

const provider = () => zitadel({ domain: DOMAIN, baseUrl, clientId: '235246893@orders', clientSecret: 'zitadel-secret', projectId: '235246001' })

test('zitadel: an active token; project roles join the scopes; profile (username as preferred_username) into info; basic auth', async () => {
  const auth = await tokenAuth('zitadel-opaque-1', provider()) as Auth
  assert.equal(auth.uid, '235246654')
  assert.deepEqual(auth.credentials.scopes, ['openid', 'profile', 'orders.admin', 'orders.reader'])
  assert.deepEqual(auth.info, { name: 'Alice Acme', given_name: 'Alice', family_name: 'Acme', preferred_username: 'alice@acme.com', email: 'alice@acme.com', email_verified: true })
  assert.match(seen.at(-1)!, /^\/oauth\/v2\/introspect Basic /)
})

test('zitadel: a token of another instance, or inactive: refused', async () => {
  assert.equal((await tokenAuth('zitadel-other-instance', provider()) as AuthFailure).status, 401)
  assert.equal((await tokenAuth('zitadel-unknown', provider()) as AuthFailure).status, 401)
})
