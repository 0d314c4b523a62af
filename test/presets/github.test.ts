import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth, { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { github } from '../../providers/presets/github.js'
import { useVirtualTime } from '../helpers/clock.js'

const GOOD = 'gho_16C7e42F292c6912E7710c838347Ae178B4a'
const nowS = (): number => Math.floor(Date.now() / 1000)
let server: Server
let apiUrl: string
const seen: IncomingHttpHeaders[] = []
/** When set, every request gets this answer (a rate limit), the good token included. */
let override: { status: number; headers: OutgoingHttpHeaders; message: string } | undefined

// Headers GitHub sends on every REST answer, with the primary limit's state.
const rateHeaders = (remaining: number): OutgoingHttpHeaders => ({
  'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-used': String(5000 - remaining),
  'x-ratelimit-reset': String(nowS() + 120), 'x-ratelimit-resource': 'core',
})
const json = (status: number, headers: OutgoingHttpHeaders, body: unknown) => ({ status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body })

before(async () => {
  // Plays api.github.com's GET /user: the documented body, X-OAuth-Scopes, 401 "Bad credentials",
  // 403 for an installation token, and its primary and secondary rate limits.
  server = createServer((req, res) => {
    seen.push(req.headers)
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '')
    const answer = override !== undefined
      ? json(override.status, override.headers, { message: override.message, documentation_url: 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api' })
      : req.url === '/user' && token === GOOD
        ? json(200, { ...rateHeaders(4990), 'x-oauth-scopes': 'repo, read:org, user:email', 'x-accepted-oauth-scopes': '' },
          { login: 'octocat', id: 1, node_id: 'MDQ6VXNlcjE=', avatar_url: 'https://github.com/images/error/octocat_happy.gif', html_url: 'https://github.com/octocat', type: 'User', site_admin: false, name: 'monalisa octocat', email: 'octocat@github.com' })
        : token.startsWith('ghs_')
          ? json(403, rateHeaders(4999), { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/users/users#get-the-authenticated-user', status: '403' })
          : json(401, {}, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' })
    res.writeHead(answer.status, answer.headers).end(JSON.stringify(answer.body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => server.close())

test('github: a valid token; id as uid, X-OAuth-Scopes as scopes, profile into info', async () => {
  const auth = await tokenAuth(GOOD, github({ apiUrl })) as Auth
  assert.equal(auth.uid, '1')
  assert.deepEqual(auth.credentials.scopes, ['repo', 'read:org', 'user:email'])
  assert.deepEqual(auth.info, { name: 'monalisa octocat', email: 'octocat@github.com', picture: 'https://github.com/images/error/octocat_happy.gif', profile: 'https://github.com/octocat', preferred_username: 'octocat' })
  assert.equal(seen.at(-1)?.['user-agent'], 'fastify-token-auth', 'GitHub requires a User-Agent')
})

test('github: a revoked or foreign token (401 Bad credentials) is refused', async () => {
  assert.equal((await tokenAuth('gho_revokedOrFromAnotherApp000000000000', github({ apiUrl })) as AuthFailure).status, 401)
})

test('github: an installation token\'s 403 (no spent rate limit) stays a refusal: 401', async () => {
  const failure = await tokenAuth('ghs_16C7e42F292c6912E7710c838347Ae178B4a', github({ apiUrl })) as AuthFailure
  assert.deepEqual([failure.status, failure.errors[0]?.messageKey, failure.errors[0]?.reason], [401, 'invalid_token', 'refused'])
})

describe('github: a rate limit is a 503 with Retry-After, never a refusal, never cached', () => {
  // Each answer is made when its test runs, on virtual Date (standing still): X-RateLimit-Reset is
  // then exactly 120 s ahead, however long the tests before took.
  const limits: Array<[string, () => NonNullable<typeof override>, [number, number]]> = [
    ['primary (403, X-RateLimit-Remaining: 0, X-RateLimit-Reset)', () => ({ status: 403, headers: rateHeaders(0), message: 'API rate limit exceeded for user ID 1.' }), [118, 121]],
    ['primary (429)', () => ({ status: 429, headers: rateHeaders(0), message: 'API rate limit exceeded for user ID 1.' }), [118, 121]],
    ['secondary (403, Retry-After)', () => ({ status: 403, headers: { ...rateHeaders(4000), 'retry-after': '60' }, message: 'You have exceeded a secondary rate limit.' }), [60, 60]],
  ]
  for (const [name, answer, [low, high]] of limits) {
    test(name, async (t) => {
      useVirtualTime(t, { timers: false })
      const limit = answer()
      const app = Fastify()
      await app.register(fastifyTokenAuth, { provider: github({ apiUrl }), cache: { negativeTtl: 60_000 } })
      app.get('/me', { config: { auth: true } }, async (request) => ({ uid: request.auth.uid }))
      await app.ready()
      try {
        override = limit
        const limited = await app.inject({ url: '/me', headers: { authorization: `Bearer ${GOOD}` } })
        assert.equal(limited.statusCode, 503, limited.body)
        assert.equal(limited.json().error, 'provider_unavailable')
        const retryAfter = Number(limited.headers['retry-after'])
        assert.ok(retryAfter >= low && retryAfter <= high, `Retry-After ${retryAfter}`)
        const failure = await tokenAuth(GOOD, github({ apiUrl }), { breaker: false }) as AuthFailure
        assert.equal(failure.errors[0]?.reason, 'rate_limited')
        override = undefined
        // The good token was not remembered as refused.
        assert.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${GOOD}` } })).statusCode, 200)
      } finally {
        override = undefined
        await app.close()
      }
    })
  }
})

test('github: options are checked (unknown names, numbers, apiUrl), and validate and map pass through', async () => {
  assert.throws(() => github({ apiURL: apiUrl } as never), { name: 'TypeError', message: 'github: unknown option "apiURL", did you mean apiUrl?' })
  assert.throws(() => github({ mapping: () => ({}) } as never), /^TypeError: github: unknown option "mapping", did you mean map\?/)
  assert.throws(() => github({ ttl: -5 }), /^TypeError: github: ttl must be an integer from 0/)
  assert.throws(() => github({ apiUrl: 'https://ghe.acme.com/api/v3?x=1' }), /^TypeError: github: apiUrl must not have a query/)
  const provider = github({
    apiUrl,
    validate: (claims) => { if (claims.preferred_username !== 'octocat') throw new Error('unexpected') },
    map: { getUid: (claims) => `github:${String(claims.sub)}` },
  })
  assert.equal((await tokenAuth(GOOD, provider) as Auth).uid, 'github:1')
})
