import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import fastifyTokenAuth, { defineProvider, InvalidTokenError, logSerializers, ProviderUnavailableError, redactUrl } from '../src/index.js'
import { mentionsToken, scrub } from '../src/log.js'
import { NOW_S } from './helpers/app.js'
import { captureLogs } from './helpers/logs.js'


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

describe('redaction catches the encoded forms', () => {
  test('redactUrl: percent-encoded and any-case parameter names', () => {
    const cases: Array<[string, string]> = [
      ['/x?%61ccess_token=SECRET&page=2', '/x?%61ccess_token=[redacted]&page=2'],
      ['/x?access%5Ftoken=SECRET', '/x?access%5Ftoken=[redacted]'],
      ['/x?access%5ftoken=SECRET', '/x?access%5ftoken=[redacted]'],
      ['/x?%74icket=SECRET#top', '/x?%74icket=[redacted]#top'],
      ['/x?ACCESS_TOKEN=SECRET', '/x?ACCESS_TOKEN=[redacted]'],
      ['/x?a=1&Ticket=SECRET&access_token=OTHER', '/x?a=1&Ticket=[redacted]&access_token=[redacted]'],
      ['/x?%41%43%43%45%53%53%5F%54%4F%4B%45%4E=SECRET', '/x?%41%43%43%45%53%53%5F%54%4F%4B%45%4E=[redacted]'],
      ['/x?q=access_token%3DSECRET', '/x?q=access_token%3DSECRET'],
      ['/x?my_access_token=kept', '/x?my_access_token=kept'],
    ]
    for (const [url, redacted] of cases) assert.equal(redactUrl(url), redacted, url)
  })

  test('a query token under an encoded name (?%61ccess_token=, access%5Ftoken=) never reaches the access log', async () => {
    const { stream, lines } = captureLogs()
    const app = Fastify({ logger: { level: 'trace', stream, serializers: logSerializers } })
    await app.register(fastifyTokenAuth, { provider, allowQuery: true })
    app.get('/x', { config: { auth: true } }, async (request) => request.auth.uid)
    for (const name of ['%61ccess_token', 'access%5Ftoken', 'access%5ftoken']) {
      const response = await app.inject({ url: `/x?page=2&${name}=${TOKENS.query}` })
      assert.equal(response.statusCode, 200, `${name}: the plugin reads it as access_token`)
    }
    await app.close()
    assert.equal(lines.filter((line) => line.includes('=[redacted]')).length, 3, 'each URL is logged, redacted')
    for (const line of lines) assert.ok(!line.includes(TOKENS.query), `token leaked into: ${line}`)
  })

  test('scrub removes the token percent-encoded (either hex case, partly encoded, + for a space) and base64-decoded', () => {
    const token = 'aB3+x/Yz9=Q.k_~-7'
    const forms = [
      token,
      encodeURIComponent(token),
      encodeURIComponent(token).replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
      new URLSearchParams({ token }).toString().slice('token='.length),
      token.replace('+', '%2B'),
      token.replace('/', '%2f'),
    ]
    for (const form of forms) {
      const text = `introspection failed for token=${form}; try again`
      assert.equal(scrub(text, token), 'introspection failed for token=[token redacted]; try again', form)
      assert.equal(mentionsToken(text, token), true, form)
    }
    // The longest token the plugin accepts (8 KiB), quoted encoded: scrubbed, in linear time, without throwing.
    const longest = `${'A'.repeat(8190)}+/`
    assert.equal(scrub(`x ${encodeURIComponent(longest)} y 100%`, longest), 'x [token redacted] y 100%')
    assert.equal(scrub(`x ${encodeURIComponent('pässwörd-🔑')} y`, 'pässwörd-🔑'), 'x [token redacted] y', 'UTF-8 bytes percent-encoded')
    assert.equal(scrub('a b+c', 'a b'), '[token redacted]+c', 'a space written as +')
    assert.equal(scrub('x a+b y', 'a b'), 'x [token redacted] y')
    // A base64 token that is readable text: a provider quoting it decoded.
    const basic = Buffer.from('svc-account:s3cret-passw0rd').toString('base64')
    assert.equal(scrub(`invalid credentials svc-account:s3cret-passw0rd (${basic})`, basic), 'invalid credentials [token redacted] ([token redacted])')
    const url = Buffer.from('api-key:0123456789abcdef').toString('base64url')
    assert.equal(scrub('unknown api-key:0123456789abcdef', url), 'unknown [token redacted]')
    // Nothing else is touched: other percent-escapes, a random token's binary decoding.
    assert.equal(scrub('100%25 sure, %2F alone', token), '100%25 sure, %2F alone')
    assert.equal(mentionsToken('no token here', token), false)
    assert.equal(mentionsToken('wLNfx8Q0', 'LNfx8Q0wLNfx8Q0wLNfx8Q0wLNfx8Q0w'), false)
  })

  test('a provider error quoting the token percent-encoded or decoded never reaches a log line', async () => {
    const opaque = 'Zm9vYmFyOmJhei1xdXV4LTAxMjM0NTY3ODk+Pw==' // base64 of readable text, with + and =
    const lowerHex = (token: string): string => encodeURIComponent(token).replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase())
    const quoting = defineProvider({
      name: 'quoting',
      getPayload: (token) => Promise.reject(new ProviderUnavailableError('down', {
        cause: new Error(`POST /introspect token=${lowerHex(token)} failed for ${Buffer.from(token, 'base64').toString('utf8')}`),
      })),
    })
    const { stream, lines } = captureLogs()
    const app = Fastify({ logger: { level: 'trace', stream } })
    await app.register(fastifyTokenAuth, { provider: quoting, breaker: false })
    app.get('/x', { config: { auth: true } }, async () => 'x')
    assert.equal((await app.inject({ url: '/x', headers: { authorization: `Bearer ${opaque}` } })).statusCode, 503)
    await app.close()
    const forms = [opaque, encodeURIComponent(opaque), lowerHex(opaque), Buffer.from(opaque, 'base64').toString('utf8')]
    assert.ok(lines.some((line) => line.includes('POST /introspect token=[token redacted]')), 'the cause is logged, scrubbed')
    for (const form of forms) for (const line of lines) assert.ok(!line.includes(form), `${form} leaked into: ${line}`)
  })
})

describe('a token quoted loosely is caught too (the third review)', () => {
  const token = 'mF_9.B5f-4.1JqM/Zx+Ab9/kL=='
  const quotings: Array<[string, string]> = [
    ['JSON with escaped slashes (PHP, some Java encoders)', JSON.stringify({ token }).replace(/\//g, '\\/')],
    ['JSON with \\u escapes', JSON.stringify({ token }).replace(/\+/g, '\\u002b')],
    ['upper-cased', token.toUpperCase()],
    ['as base64url instead of base64', token.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')],
    ['cut short by one character', token.slice(0, -3)],
  ]
  for (const [how, quoted] of quotings) {
    test(`${how}: neither the body, the challenge nor a log line shows it`, async () => {
      const { stream, lines } = captureLogs()
      const app = Fastify({ logger: { level: 'trace', stream } })
      await app.register(fastifyTokenAuth, { provider: defineProvider({ name: 'quoting', getPayload: async () => { throw new InvalidTokenError(`session service: ${quoted} is unknown`) } }) })
      app.get('/orders', { config: { auth: true } }, async () => 'x')
      const response = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })
      await app.close()
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().error_description, 'The access token is invalid', 'the generic description')
      const shown = [response.body, String(response.headers['www-authenticate']), ...lines].join('\n')
      assert.ok(!shown.includes('JqM'), 'no run of the token anywhere')
      assert.ok(mentionsToken(`x ${quoted} y`, token))
    })
  }

  test('a message that quotes nothing of the token passes as it is', async () => {
    assert.equal(mentionsToken('The access token is unknown to the session service', token), false)
  })
})
