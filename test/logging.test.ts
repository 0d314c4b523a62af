import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth, { defineProvider, InvalidTokenError, logSerializers, ProviderUnavailableError } from '../src/index.js'
import { NOW_S } from './helpers/app.js'

/** Every line a logger wrote, for scanning. */
function captureLogs(): { stream: Writable; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line.length > 0))
      callback()
    },
  })
  return { stream, lines }
}

const TOKENS = {
  valid: 'valid-secret-token.AAAA1111',
  invalid: 'invalid-secret-token.BBBB2222',
  quoted: 'quoted-secret-token.CCCC3333',
  down: 'down-secret-token.DDDD4444',
  buggy: 'buggy-secret-token.EEEE5555',
  hang: 'hang-secret-token.FFFF6666',
  query: 'query-secret-token.GGGG7777',
}

// A provider that does everything a careless adapter might: quote the token in errors and causes.
const provider = defineProvider({
  name: 'careless',
  getPayload: (token, ctx) => {
    switch (token) {
      case TOKENS.valid: case TOKENS.query: return Promise.resolve({ sub: 'alice', exp: NOW_S() + 60 })
      case TOKENS.invalid: return Promise.reject(new InvalidTokenError())
      case TOKENS.quoted: return Promise.reject(new InvalidTokenError(`token ${token} is revoked`, { detail: `revoked: ${token}` }))
      case TOKENS.down: return Promise.reject(new ProviderUnavailableError('down', { cause: new Error(`POST failed for ${token}`) }))
      case TOKENS.buggy: return Promise.reject(new TypeError(`cannot read ${token}`))
      default: return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error(`aborted ${token}`))))
    }
  },
})

describe('no raw token in any log line, at trace level', () => {
  test('header tokens: accepted, rejected, quoted in errors, outage, provider bug, timeout', async () => {
    const { stream, lines } = captureLogs()
    const app = Fastify({ logger: { level: 'trace', stream } })
    await app.register(fastifyTokenAuth, { provider, timeout: 100, cache: { negativeTtl: 1000 } })
    app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
    const statuses: Record<string, number> = {}
    for (const [name, token] of Object.entries(TOKENS)) {
      if (name === 'query') continue
      statuses[name] = (await app.inject({ url: '/x', headers: { authorization: `Bearer ${token}` } })).statusCode
    }
    await app.close()
    assert.deepEqual(statuses, { valid: 200, invalid: 401, quoted: 401, down: 503, buggy: 503, hang: 503 })
    assert.ok(lines.length > 20, `expected a verbose log, got ${lines.length} lines`)
    assert.ok(lines.some((line) => line.includes('identity provider unavailable')), 'the outage is logged')
    assert.ok(lines.some((line) => line.includes('token rejected')), 'rejections are logged')
    for (const token of Object.values(TOKENS)) {
      for (const line of lines) assert.ok(!line.includes(token), `token leaked into: ${line}`)
    }
  })

  test('a quoted token never reaches the response either', async () => {
    const app = Fastify()
    await app.register(fastifyTokenAuth, { provider })
    app.get('/x', { config: { auth: true } }, async () => 'x')
    const response = await app.inject({ url: '/x', headers: { authorization: `Bearer ${TOKENS.quoted}` } })
    assert.equal(response.statusCode, 401)
    assert.ok(!response.body.includes(TOKENS.quoted))
    assert.ok(!String(response.headers['www-authenticate']).includes(TOKENS.quoted))
    await app.close()
  })

  test('query tokens with allowQuery and logSerializers', async () => {
    const { stream, lines } = captureLogs()
    const app = Fastify({ logger: { level: 'trace', stream, serializers: logSerializers } })
    await app.register(fastifyTokenAuth, { provider, allowQuery: true })
    app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
    const response = await app.inject({ url: `/x?page=2&access_token=${TOKENS.query}` })
    assert.equal(response.statusCode, 200)
    await app.close()
    assert.ok(lines.some((line) => line.includes('access_token=[redacted]')), 'the URL is logged, redacted')
    for (const line of lines) assert.ok(!line.includes(TOKENS.query), `token leaked into: ${line}`)
  })
})
