// Route rules users of the peers expect (issue 17): any-of scopes beside all-of (403
// insufficient_scope), claims equal to or including values and a check of yours (401
// invalid_token, as express-oauth2-jwt-bearer answers), on config.auth, requireAuth() and verify(),
// and at the WebSocket doors too.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyWebsocket from '@fastify/websocket'
import fastifyTokenAuth, { type AuthFailure } from '../src/index.js'
import { testProvider } from '../providers/test.js'
import { connect } from './helpers/ws.js'
import { captureLogs } from './helpers/logs.js'

const exp = (): number => Math.floor(Date.now() / 1000) + 3600
const TOKENS = {
  reader: 'reader-token.1',
  writer: 'writer-token.1',
  nobody: 'nobody-token.1',
  acmeAdmin: 'acme-admin-token.1',
  otherTenant: 'other-tenant-token.1',
}
let app: FastifyInstance
let base: string
let checked = 0

before(async () => {
  const provider = testProvider({ tokens: {
    [TOKENS.reader]: { sub: 'r', scope: 'orders:read', exp: exp(), tenant: 'acme', roles: ['viewer'], level: 1, verified: true },
    [TOKENS.writer]: { sub: 'w', scope: 'orders:write', exp: exp(), tenant: 'acme', roles: 'editor viewer', level: 2, verified: true },
    [TOKENS.nobody]: { sub: 'n', scope: 'profile', exp: exp(), tenant: 'acme', roles: [], level: 0, verified: false },
    [TOKENS.acmeAdmin]: { sub: 'a', scope: 'orders:read', exp: exp(), tenant: 'acme', roles: ['admin', 'viewer'], level: 9, verified: true },
    [TOKENS.otherTenant]: { sub: 'o', scope: 'orders:read', exp: exp(), tenant: 'globex', roles: ['admin'], level: 9, verified: true },
  } })
  app = Fastify()
  await app.register(fastifyWebsocket)
  await app.register(fastifyTokenAuth, { provider })
  const uid = async (request: { auth: { uid: string } }) => ({ uid: request.auth.uid })
  app.get('/any', { config: { auth: { anyScopes: ['orders:read', 'orders:write'] } } }, uid)
  app.get('/any-require', { preHandler: app.requireAuth({ anyScopes: ['orders:read', 'orders:write'] }) }, uid)
  app.get('/claims', { config: { auth: { claims: { tenant: 'acme', verified: true, level: { equals: 9 }, roles: { includes: ['admin'] } } } } }, uid)
  app.get('/roles', { config: { auth: { claims: { roles: { includes: ['editor', 'viewer'] } } } } }, uid)
  app.get('/check', { config: { auth: { check: async (auth) => { checked++; return auth.extra.rawInfo.level === 9 } } } }, uid)
  app.get('/check-throws', { config: { auth: { check: () => { throw new Error('a bug in the check') } } } }, uid)
  app.get('/both', { config: { auth: { scopes: ['orders:read'], claims: { tenant: 'acme' } } } }, uid)
  app.post('/verify', { config: { auth: false } }, async (request) => {
    const { token } = request.body as { token: string }
    return app.tokenAuth.verify(token, { anyScopes: ['orders:write'], claims: { tenant: 'acme' } })
  })
  app.get('/ws', { websocket: true, config: { auth: { claims: { tenant: 'acme' }, check: (auth) => auth.extra.rawInfo.level === 9 } } }, (socket) => { socket.on('message', () => socket.send('ok')) })
  app.get('/ws-first', { websocket: true, config: { auth: { firstMessage: true, anyScopes: ['orders:write'] } } }, (socket) => { socket.on('message', () => socket.send('ok')) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `127.0.0.1:${(app.server.address() as { port: number }).port}`
})
after(() => app.close())

const get = (url: string, token: string) => app.inject({ url, headers: { authorization: `Bearer ${token}` } })

describe('any-of scopes', () => {
  for (const path of ['/any', '/any-require']) {
    test(`${path}: one of them passes; none is a 403 naming them`, async () => {
      assert.equal((await get(path, TOKENS.reader)).statusCode, 200)
      assert.equal((await get(path, TOKENS.writer)).statusCode, 200)
      const refused = await get(path, TOKENS.nobody)
      assert.equal(refused.statusCode, 403)
      assert.equal(refused.json().error, 'insufficient_scope')
      assert.match(String(refused.headers['www-authenticate']), /error="insufficient_scope".*scope="orders:read orders:write"/)
    })
  }
})

describe('claim rules', () => {
  test('every claim equal (string, boolean, { equals: number }) and including (array): 200', async () => {
    assert.deepEqual((await get('/claims', TOKENS.acmeAdmin)).json(), { uid: 'a' })
  })

  test('one claim off: 401 invalid_token naming the claim, with the challenge', async () => {
    for (const [token, claim] of [[TOKENS.otherTenant, 'tenant'], [TOKENS.reader, 'level'], [TOKENS.nobody, 'verified']] as const) {
      const refused = await get('/claims', token)
      assert.equal(refused.statusCode, 401)
      assert.equal(refused.json().error_description, `Unexpected '${claim}' value`)
      assert.match(String(refused.headers['www-authenticate']), /^Bearer realm="api", error="invalid_token"/)
    }
  })

  test('includes: an array or a space-separated claim must hold every value', async () => {
    assert.equal((await get('/roles', TOKENS.writer)).statusCode, 200, '"editor viewer"')
    assert.equal((await get('/roles', TOKENS.reader)).statusCode, 401, '["viewer"] lacks editor')
  })

  test('scopes are checked before claims: a missing scope is a 403 even when a claim is off too', async () => {
    assert.equal((await get('/both', TOKENS.nobody)).statusCode, 403)
    assert.equal((await get('/both', TOKENS.otherTenant)).statusCode, 401)
    assert.equal((await get('/both', TOKENS.reader)).statusCode, 200)
  })
})

describe('a check of yours', () => {
  test('awaited: true passes, false is a 401; it runs on every request, cache hit or not', async () => {
    const before = checked
    assert.equal((await get('/check', TOKENS.acmeAdmin)).statusCode, 200)
    assert.equal((await get('/check', TOKENS.acmeAdmin)).statusCode, 200)
    assert.equal((await get('/check', TOKENS.reader)).statusCode, 401)
    assert.equal(checked - before, 3)
  })

  test('a check that throws refuses that request alone with a 401', async () => {
    const refused = await get('/check-throws', TOKENS.acmeAdmin)
    assert.equal(refused.statusCode, 401)
    assert.equal(refused.json().error, 'invalid_token')
    assert.equal((await get('/claims', TOKENS.acmeAdmin)).statusCode, 200, 'other routes go on')
  })
})

describe('the same rules at the other doors', () => {
  test('verify() with anyScopes and claims', async () => {
    const verify = async (token: string) => (await app.inject({ method: 'POST', url: '/verify', payload: { token } })).json<AuthFailure & { uid?: string }>()
    assert.equal((await verify(TOKENS.writer)).uid, 'w')
    assert.equal((await verify(TOKENS.reader)).errors[0]?.messageKey, 'insufficient_scope')
  })

  test('the upgrade: claims and an async check, 401 when either fails', async () => {
    const open = connect(`ws://${base}/ws`, { headers: { authorization: `Bearer ${TOKENS.acmeAdmin}` } })
    await open.opened
    open.ws.close()
    for (const token of [TOKENS.otherTenant, TOKENS.reader]) {
      const client = connect(`ws://${base}/ws`, { headers: { authorization: `Bearer ${token}` } })
      await assert.rejects(client.opened)
      assert.equal((await client.refused)?.status, 401)
    }
  })

  test('first-message auth: any-of scopes, 4403 without one', async () => {
    const client = connect(`ws://${base}/ws-first`)
    await client.opened
    client.ws.send(JSON.stringify({ type: 'auth', token: TOKENS.reader }))
    assert.equal((await client.closed).code, 4403)
  })
})

describe('bad rules fail at registration', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['anyScopes empty', { anyScopes: [] }, /anyScopes must name at least one scope/],
    ['anyScopes not strings', { anyScopes: [1] }, /anyScopes must be an array of non-empty strings/],
    ['a claim rule of another shape', { claims: { roles: { contains: ['a'] } } }, /claims\.roles must be/],
    ['includes empty', { claims: { roles: { includes: [] } } }, /claims\.roles must be/],
    ['claims not an object', { claims: ['tenant'] }, /claims must be an object/],
    ['check not a function', { check: true }, /check must be a function/],
  ]
  test('requireAuth() refuses the socket-only keys of config.auth (they mean nothing in a preHandler)', async () => {
    const local = Fastify()
    await local.register(fastifyTokenAuth, { provider: testProvider({ tokens: {} }) })
    for (const key of ['firstMessage', 'onExpire', 'authTimeout', 'reauthGrace', 'upgradeRefusal']) {
      assert.throws(() => local.requireAuth({ scopes: ['a'], [key]: true }), new RegExp(`requireAuth\\(\\): unknown key "${key}"`))
    }
    await local.close()
  })

  test('a check whose error quotes the token: the log keeps the error, not the token', async () => {
    const { stream, lines } = captureLogs()
    const token = 'quoted-secret-token.0123456789abcdef'
    const local = Fastify({ logger: { level: 'error', stream } })
    await local.register(fastifyTokenAuth, { provider: testProvider({ tokens: { [token]: { sub: 'q', exp: exp() } } }) })
    local.get('/x', { config: { auth: { check: (auth) => { throw new Error(`nope for ${auth.credentials.token}`) } } } }, async () => 'x')
    assert.equal((await local.inject({ url: '/x', headers: { authorization: `Bearer ${token}` } })).statusCode, 401)
    const logged = lines.join('')
    assert.match(logged, /the route's check threw/)
    assert.match(logged, /nope for/, 'the error is told')
    assert.doesNotMatch(logged, /0123456789abcdef/, 'the token is not')
    await local.close()
  })

  for (const [name, auth, message] of cases) {
    test(name, async () => {
      const local = Fastify()
      await local.register(fastifyTokenAuth, { provider: testProvider({ tokens: {} }) })
      assert.throws(() => local.get('/x', { config: { auth: auth as never } }, async () => 'x'), message)
      assert.throws(() => local.requireAuth(auth), message)
      await local.close()
    })
  }
})
