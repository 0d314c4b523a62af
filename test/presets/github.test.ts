import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { github } from '../../providers/presets/github.js'

let server: Server
let apiUrl: string
const seen: IncomingHttpHeaders[] = []
before(async () => {
  // Plays api.github.com's GET /user: the documented body, X-OAuth-Scopes, 401 "Bad credentials".
  server = createServer((req, res) => {
    seen.push(req.headers)
    if (req.url !== '/user' || req.headers.authorization !== 'Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a') {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }))
      return
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-oauth-scopes': 'repo, read:org, user:email', 'x-accepted-oauth-scopes': '' })
      .end(JSON.stringify({ login: 'octocat', id: 1, node_id: 'MDQ6VXNlcjE=', avatar_url: 'https://github.com/images/error/octocat_happy.gif', html_url: 'https://github.com/octocat', type: 'User', site_admin: false, name: 'monalisa octocat', email: 'octocat@github.com' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => server.close())

test('github: a valid token; id as uid, X-OAuth-Scopes as scopes, profile into info', async () => {
  const auth = await tokenAuth('gho_16C7e42F292c6912E7710c838347Ae178B4a', github({ apiUrl })) as Auth
  assert.equal(auth.uid, '1')
  assert.deepEqual(auth.credentials.scopes, ['repo', 'read:org', 'user:email'])
  assert.deepEqual(auth.info, { name: 'monalisa octocat', email: 'octocat@github.com', picture: 'https://github.com/images/error/octocat_happy.gif', profile: 'https://github.com/octocat', preferred_username: 'octocat' })
  assert.equal(seen.at(-1)?.['user-agent'], 'fastify-token-auth', 'GitHub requires a User-Agent')
})

test('github: a revoked or foreign token (401 Bad credentials) is refused', async () => {
  assert.equal((await tokenAuth('gho_revokedOrFromAnotherApp000000000000', github({ apiUrl })) as AuthFailure).status, 401)
})
