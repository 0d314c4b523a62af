// `fastify-token-auth inspect` run as a user runs it — a child process — against the real identity
// provider (oidc-provider on loopback): verdicts, hints, exit codes, and no raw token in any output.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { describe, test } from 'node:test'
import Fastify from 'fastify'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import fastifyTokenAuth from '../src/index.js'
import type { InspectReport } from '../src/inspect/inspect-token.js'
import { jwtProvider } from '../providers/jwt.js'
import { API_AUDIENCE, API_CLIENT, OTHER_AUDIENCE, b64url, claimsOf, useIdp } from './helpers/idp.js'
import { useVirtualTime } from './helpers/clock.js'
import { captureLogs } from './helpers/logs.js'

const CLI = resolve(import.meta.dirname, '../src/cli.ts')
const ctx = useIdp()

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...options.env }, timeout: 30_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
    child.stdin!.end(options.stdin ?? '')
  })
}

/** Runs the CLI, and checks that the token appears in none of its output. */
async function inspect(token: string, args: string[], json = false): Promise<Run> {
  const run = await cli(['inspect', token, '--issuer', ctx.idp.issuer, ...args, ...(json ? ['--json'] : [])])
  assert.ok(!run.stdout.includes(token) && !run.stderr.includes(token), 'the raw token is never printed')
  return run
}

/** The --json report, or an assertion that says what the command printed instead. */
function reportOf(run: Run): InspectReport {
  assert.ok(run.stdout.startsWith('{'), `a JSON report (exit ${run.code}, stderr: ${run.stderr})`)
  return JSON.parse(run.stdout) as InspectReport
}

const introspect = ['--introspect', '--client-id', API_CLIENT.clientId, '--client-secret', API_CLIENT.clientSecret]

describe('inspect: JWT access tokens against the JWKS', () => {
  test('accepted: exit 0, the Auth a route would see, the claims decoded', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt')
    const text = await inspect(token, ['--audience', API_AUDIENCE])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /^ACCEPTED/m)
    assert.match(text.stdout, /^ {2}uid +web-jwt$/m)
    assert.match(text.stdout, /^ {2}scopes +orders:read orders:write admin$/m)
    assert.match(text.stdout, /Header +alg RS256 · kid rsa-1/)
    assert.match(text.stdout, /^ {2}expiresAt +\d{4}-\d\d-\d\dT[\d:]+Z \(in 59 min\)$/m)

    const json = await inspect(token, ['--audience', API_AUDIENCE], true)
    const report = reportOf(json)
    assert.equal(json.code, 0)
    assert.equal(report.verdict, 'accepted')
    assert.equal(report.auth!.uid, 'web-jwt')
    assert.equal((report.auth!.credentials as { token?: string }).token, undefined, 'the Auth is shown without the raw token')
    assert.equal(report.token.claims!.aud, API_AUDIENCE)
    assert.equal(report.checked.endpoint, `${ctx.idp.issuer}/jwks`)
  })

  test('without --audience it still verifies, and says the audience was not checked', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt', { resource: OTHER_AUDIENCE })
    const run = await inspect(token, [], true)
    const report = reportOf(run)
    assert.equal(run.code, 0)
    assert.equal(report.checked.audience, null)
    assert.match(report.notes.join('\n'), /audience was not checked .* token aud is api:\/\/billing/)
  })

  test('wrong audience: exit 1, "token aud is X, API expects Y"', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt', { resource: OTHER_AUDIENCE })
    const run = await inspect(token, ['--audience', API_AUDIENCE])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /^REJECTED +invalid_token \(401\): The access token is not meant for this API$/m)
    assert.match(run.stdout, /- token aud is api:\/\/billing, API expects api:\/\/orders$/m)
  })

  test('expired: exit 1, "expired N s ago"', async (t) => {
    // Minted 10 s ago: the identity provider in this process reads the virtual Date; the CLI,
    // another process, the real one.
    const clock = useVirtualTime(t, { timers: false, now: Date.now() - 10_000 })
    const { access_token: token } = await ctx.idp.token('web-jwt-short')
    clock.stop()
    assert.ok((claimsOf(token).exp as number) * 1000 < Date.now() - 5_000)
    const run = await inspect(token, ['--audience', API_AUDIENCE, '--clock-tolerance', '0'], true)
    const report = reportOf(run)
    assert.equal(run.code, 1)
    assert.equal(report.verdict, 'rejected')
    assert.equal(report.failure!.key, 'invalid_token')
    assert.equal(report.failure!.message, 'The access token expired')
    assert.match(report.failure!.detail ?? '', /ERR_JWT_EXPIRED/)
    assert.match(report.hints[0] ?? '', /^expired \d{1,2} s ago \(exp \d{4}-\d\d-\d\dT/)
  })

  test('unknown kid: names the kid, the JWKS URL and the kids it has', async () => {
    const { privateKey } = await generateKeyPair('RS256')
    const now = Math.floor(Date.now() / 1000)
    const token = await new SignJWT({ scope: 'orders:read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'stranger-1' })
      .setIssuer(ctx.idp.issuer).setAudience(API_AUDIENCE).setSubject('mallory').setIssuedAt(now).setExpirationTime(now + 300)
      .sign(privateKey)
    const run = await inspect(token, ['--audience', API_AUDIENCE])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /The access token is signed with an unknown key/)
    assert.ok(run.stdout.includes(`- kid stranger-1 not in JWKS at ${ctx.idp.issuer}/jwks (it has: rsa-1, ec-1)`), run.stdout)
  })

  test('an altered token: the signature does not verify with the key it names', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt', { scope: 'orders:read' })
    const [header, , signature] = token.split('.')
    const altered = `${header}.${Buffer.from(JSON.stringify({ ...claimsOf(token), scope: 'admin' })).toString('base64url')}.${signature}`
    const run = await inspect(altered, ['--audience', API_AUDIENCE])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /The access token signature is invalid/)
    assert.match(run.stdout, /- the signature does not verify with key rsa-1 from http:\/\/127\.0\.0\.1:\d+\/jwks: the token was altered/)
  })

  test('another issuer (an explicit --jwks-uri skips discovery): "token iss is X, API expects Y"', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt')
    const run = await cli(['inspect', token, '--issuer', 'https://login.example.com/', '--jwks-uri', `${ctx.idp.issuer}/jwks`, '--audience', API_AUDIENCE])
    assert.equal(run.code, 1, run.stderr)
    assert.match(run.stdout, /The access token was issued by another issuer/)
    assert.ok(run.stdout.includes(`- token iss is ${ctx.idp.issuer}, API expects https://login.example.com/`), run.stdout)
  })

  test('a required scope the token lacks: insufficient_scope, with the missing scope named', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt', { scope: 'orders:read' })
    const run = await inspect(token, ['--audience', API_AUDIENCE, '--scope', 'orders:read', '--scope', 'orders:write'])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /insufficient_scope \(403\)/)
    assert.match(run.stdout, /token scopes are orders:read; the route needs orders:read, orders:write \(missing: orders:write\)/)
  })

  test('an opaque token checked as a JWT: points at --introspect', async () => {
    const { access_token: token } = await ctx.idp.token('web-opaque')
    const run = await inspect(token, ['--audience', API_AUDIENCE])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /Token +opaque \(not a JWT\)/)
    assert.match(run.stdout, /inspect it with --introspect/)
  })

  test('the log fingerprint is the one the plugin logs for that token', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt', { resource: OTHER_AUDIENCE })
    const { stream, lines } = captureLogs()
    const app = Fastify({ logger: { level: 'debug', stream } })
    await app.register(fastifyTokenAuth, { provider: jwtProvider({ issuer: ctx.idp.issuer, audience: API_AUDIENCE }) })
    app.get('/orders', { config: { auth: true } }, async () => 'orders')
    assert.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })).statusCode, 401)
    await app.close()
    const logged = lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'token rejected')?.tokenAuth?.token
    const report = reportOf(await inspect(token, ['--audience', API_AUDIENCE], true))
    assert.equal(typeof logged, 'string')
    assert.equal(report.token.logFingerprint, logged)
  })

  test('the token from standard input, with a "Bearer " prefix pasted along', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt')
    const run = await cli(['inspect', '-', '--issuer', ctx.idp.issuer, '--audience', API_AUDIENCE, '--json'], { stdin: `Bearer ${token}\n` })
    assert.equal(run.code, 0, run.stderr)
    assert.ok(!run.stdout.includes(token))
    assert.match(reportOf(run).notes[0] ?? '', /"Bearer " prefix was removed/)
  })
})

describe('inspect: opaque tokens through introspection', () => {
  test('active, then revoked at the identity provider: exit 0, then exit 1 with the reason', async () => {
    const { access_token: token } = await ctx.idp.token('web-opaque')
    const before = await inspect(token, [...introspect, '--audience', API_AUDIENCE])
    assert.equal(before.code, 0, before.stdout + before.stderr)
    assert.match(before.stdout, /^Checked +the introspection endpoint at http:\/\/127\.0\.0\.1:\d+\/token\/introspection; /m)
    assert.match(before.stdout, /^ {2}uid +web-opaque$/m)

    await ctx.idp.revoke(token)
    const after = await inspect(token, introspect, true)
    const report = reportOf(after)
    assert.equal(after.code, 1)
    assert.equal(report.failure!.message, 'The access token is not active')
    assert.match(report.hints[0] ?? '', /"active": false: the token was revoked/)
  })

  test('wrong client secret: the identity provider refuses the API, exit 2, never a rejection of the token', async () => {
    const { access_token: token } = await ctx.idp.token('web-opaque')
    const run = await inspect(token, ['--introspect', '--client-id', API_CLIENT.clientId, '--client-secret', 'wrong'], true)
    const report = reportOf(run)
    assert.equal(run.code, 2)
    assert.equal(report.verdict, 'unavailable')
    assert.equal(report.failure!.reason, 'client_auth')
    assert.match(report.hints[0] ?? '', /^the introspection endpoint refused --client-id \/ --client-secret/)
  })

  test('a JWT sent to introspection: oidc-provider answers 400, a refusal of the token (exit 1), and the hint says to check it as a JWT', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt')
    const report = reportOf(await inspect(token, introspect, true))
    assert.equal(report.exitCode, 1)
    assert.deepEqual([report.verdict, report.failure!.key, report.failure!.reason], ['rejected', 'invalid_token', 'refused'])
    assert.match(report.failure!.detail ?? '', /introspection endpoint answered 400 unsupported_token_type/)
    assert.ok(report.hints.some((hint) => /check it as a JWT, without --introspect/.test(hint)), report.hints.join('\n'))
  })

  test('the secret can come from the environment instead of the command line', async () => {
    const { access_token: token } = await ctx.idp.token('web-opaque')
    const run = await cli(['inspect', token, '--issuer', ctx.idp.issuer, '--introspect', '--client-id', API_CLIENT.clientId], { env: { FASTIFY_TOKEN_AUTH_CLIENT_SECRET: API_CLIENT.clientSecret } })
    assert.equal(run.code, 0, run.stdout + run.stderr)
  })
})

describe('inspect: user tokens at the userinfo endpoint', () => {
  test('a user token is accepted with the profile; a client-credentials token is refused with the reason', async () => {
    const { access_token: token } = await ctx.idp.userToken('alice')
    const accepted = reportOf(await inspect(token, ['--userinfo'], true))
    assert.equal(accepted.exitCode, 0, JSON.stringify(accepted))
    assert.equal(accepted.auth!.uid, 'alice')
    assert.equal(accepted.checked.endpoint, `${ctx.idp.issuer}/me`)
    assert.match(accepted.notes.join('\n'), /userinfo does not check the audience/)

    const { access_token: machine } = await ctx.idp.token('web-opaque')
    const refused = reportOf(await inspect(machine, ['--userinfo'], true))
    assert.equal(refused.exitCode, 1)
    assert.equal(refused.failure!.message, 'The access token was refused by the identity provider')
    assert.equal(refused.failure!.reason, 'refused')
    assert.ok(refused.hints.some((hint) => /^the identity provider refused the token at its userinfo endpoint \(userinfo endpoint answered 401 invalid_token\)/.test(hint)), refused.hints.join('\n'))
  })
})

describe('inspect: the identity provider down', () => {
  test('exit 2 for a JWT and for introspection, with the network error', async () => {
    const { access_token: jwt } = await ctx.idp.token('web-jwt')
    const { access_token: opaque } = await ctx.idp.token('web-opaque')
    await ctx.idp.stop()
    try {
      for (const [token, args] of [[jwt, ['--audience', API_AUDIENCE]], [opaque, introspect]] as const) {
        const run = await inspect(token, [...args], true)
        const report = reportOf(run)
        assert.equal(run.code, 2, run.stdout)
        assert.equal(report.verdict, 'unavailable')
        assert.equal(report.failure!.key, 'provider_unavailable')
        assert.equal(report.failure!.status, 503)
        assert.match(report.failure!.detail ?? '', /ECONNREFUSED/)
        assert.match(report.hints[0] ?? '', /never 401/)
      }
      const text = await inspect(opaque, introspect)
      assert.equal(text.code, 2)
      assert.match(text.stdout, /^Checked +the introspection endpoint of the issuer \(discovery failed\); issuer http/m)
    } finally {
      await ctx.idp.start()
    }
  })
})

describe('inspect: an identity provider that accepts connections and never answers', () => {
  test('exit 2 at the --timeout, not a hang', async () => {
    const silent = createServer(() => {})
    await new Promise<void>((ready) => silent.listen(0, '127.0.0.1', ready))
    const { port } = silent.address() as AddressInfo
    try {
      const { access_token: token } = await ctx.idp.token('web-jwt')
      const started = Date.now()
      const run = await cli(['inspect', token, '--issuer', ctx.idp.issuer, '--jwks-uri', `http://127.0.0.1:${port}/jwks`, '--audience', API_AUDIENCE, '--timeout', '500', '--json'])
      const report = reportOf(run)
      assert.equal(run.code, 2)
      assert.equal(report.failure!.key, 'provider_unavailable')
      assert.ok(Date.now() - started < 10_000, 'ended near the deadline')
    } finally {
      silent.closeAllConnections()
      silent.close()
    }
  })
})

describe('inspect: usage', () => {
  test('missing --issuer, an unknown command, a bad number: exit 64 with the usage', async () => {
    for (const args of [['inspect', 'abc'], ['check', 'abc', '--issuer', ctx.idp.issuer], ['inspect', 'abc', '--issuer', ctx.idp.issuer, '--timeout', 'soon']]) {
      const run = await cli(args)
      assert.equal(run.code, 64, args.join(' '))
      assert.match(run.stderr, /Usage: fastify-token-auth inspect/)
    }
  })

  test('an issuer that differs from the discovery document (a trailing slash): exit 64, naming the right one', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt')
    const run = await inspect(token, ['--audience', API_AUDIENCE].concat(['--issuer', `${ctx.idp.issuer}/`]))
    assert.equal(run.code, 64)
    assert.match(run.stderr, new RegExp(`names the issuer "${ctx.idp.issuer}", but "${ctx.idp.issuer}/" is configured`))
  })

  test('without --issuer: refused, never taken from the token, but the claimed one is named', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt')
    const run = await cli(['inspect', token, '--audience', API_AUDIENCE])
    assert.equal(run.code, 64)
    assert.ok(run.stderr.includes(`--issuer is required (the token claims iss ${ctx.idp.issuer}: pass it if that is the issuer your API trusts)`), run.stderr)
    assert.ok(!run.stderr.includes(token))
  })

  test('an opaque token that starts with "-" (one in 64 do) is read as the token wherever it stands', async () => {
    const token = `-${'A'.repeat(20)}-${'b'.repeat(21)}` // 43 characters, like oidc-provider's
    for (const args of [['inspect', token, '--issuer', ctx.idp.issuer, '--json'], ['inspect', '--issuer', ctx.idp.issuer, token, '--json'], ['--json', token, 'inspect', '--issuer', ctx.idp.issuer]]) {
      const run = await cli(args)
      const report = reportOf(run)
      assert.equal(run.code, 1)
      assert.equal(report.token.length, token.length)
      assert.equal(report.token.format, 'opaque')
      assert.ok(!run.stdout.includes(token) && !run.stderr.includes(token))
    }
  })

  test('a short token that starts with "-" is read after "--", and never echoed in the option error', async () => {
    for (const token of ['-short-dash-token', '--Short_dash9token']) {
      const misread = await cli(['inspect', token, '--issuer', ctx.idp.issuer])
      assert.equal(misread.code, 64)
      assert.ok(!misread.stderr.includes(token), misread.stderr)
      assert.match(misread.stderr, /if it is the token, put it last, after "--"/)
      const run = await cli(['inspect', '--issuer', ctx.idp.issuer, '--audience', API_AUDIENCE, '--json', '--', token])
      const report = reportOf(run)
      assert.equal(run.code, 1)
      assert.equal(report.token.length, token.length)
      assert.equal(report.token.format, 'opaque')
    }
    assert.match((await cli(['inspect', '--issuer', ctx.idp.issuer, '--client-secrett', 'x'])).stderr, /unknown option --client-secrett/)
  })

  test('a forgotten "inspect": usage error that does not echo the token in the command\'s place', async () => {
    const { access_token: token } = await ctx.idp.token('web-jwt')
    const run = await cli([token, '--issuer', ctx.idp.issuer])
    assert.equal(run.code, 64)
    assert.match(run.stderr, /unknown command: the command is inspect/)
    assert.ok(!run.stderr.includes(token))
    assert.match((await cli(['inpsect'])).stderr, /unknown command "inpsect": the command is inspect/)
  })

  test('--help: exit 0', async () => {
    const run = await cli(['--help'])
    assert.equal(run.code, 0)
    assert.match(run.stdout, /Exit codes: 0 accepted, 1 rejected, 2 identity provider unavailable/)
  })
})

/** Any control character a terminal acts on (the newlines between lines aside). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/

describe('inspect: what a token (or a misplaced one) cannot make it print', () => {
  test('a token that became an option\'s value (--timeout $UNSET "$TOKEN") is never echoed: the value is said to be invalid', async () => {
    const { access_token: jwt } = await ctx.idp.token('web-jwt')
    const opaque = 'Q2xpZW50U2VjcmV0VG9rZW4tMDEyMzQ1Njc4OWFiY2RlZg'
    const cases: Array<[string[], RegExp]> = [
      [['inspect', '--issuer', ctx.idp.issuer, '--timeout', jwt], /the value of --timeout looks like a token \(not repeated here\)/],
      [['inspect', '--issuer', ctx.idp.issuer, '--timeout', opaque], /the value of --timeout is not a number >= 1 \(not repeated here: it may be the token\)/],
      [['inspect', '--issuer', ctx.idp.issuer, '--clock-tolerance', opaque], /the value of --clock-tolerance is not a number/],
      [['inspect', '--issuer', opaque], /the value of --issuer is not an absolute http\(s\) URL/],
      [['inspect', '--issuer', ctx.idp.issuer, '--jwks-uri', jwt], /the value of --jwks-uri looks like a token/],
      [['inspect', '--issuer', ctx.idp.issuer, '--audience', jwt, '-'], /the value of --audience looks like a token \(not repeated here\)/],
      [['inspect', '--issuer', ctx.idp.issuer, '--scope', jwt, '-'], /the value of --scope looks like a token/],
    ]
    for (const [args, message] of cases) {
      const run = await cli(args, { stdin: jwt })
      assert.equal(run.code, 64, args.join(' '))
      assert.match(run.stderr, message)
      for (const secret of [jwt, opaque]) assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), `echoed: ${run.stderr}`)
    }
  })

  test('claims of a forged token: control characters come out as visible escapes (no clear screen, fake line, OSC 52 or bell)', async () => {
    const claims = {
      iss: `${ctx.idp.issuer}\u009b31m`, sub: '\u001b[2J\u001b[H', aud: API_AUDIENCE,
      name: '\r\nACCEPTED  what request.auth holds on a route:', note: '\u001b]52;c;ZXZpbA==\u0007', flip: 'abc\u202edcba', '\u001b[31mkey': 1,
      exp: Math.floor(Date.now() / 1000) + 600,
    }
    const forged = `${b64url({ alg: 'RS256', kid: 'rsa-1\u001b[8m' })}.${b64url(claims)}.${b64url('not a signature')}`
    const text = await inspect(forged, ['--audience', API_AUDIENCE])
    const json = await inspect(forged, ['--audience', API_AUDIENCE], true)
    for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
      assert.doesNotMatch(output, RAW_CONTROL, 'no raw control character')
    }
    assert.equal(text.code, 1)
    assert.ok(text.stdout.includes('\\x1b[2J\\x1b[H'), text.stdout)
    assert.ok(text.stdout.includes('\\x1b]52;c;ZXZpbA==\\x07'))
    assert.ok(text.stdout.includes('\\x0d\\x0aACCEPTED'))
    assert.ok(text.stdout.includes('abc\\u202edcba'))
    assert.ok(!text.stdout.split('\n').some((line) => line.startsWith('ACCEPTED')), 'no forged verdict line')
    assert.ok(json.stdout.includes('abc\\u202edcba') && json.stdout.includes('\\u009b31m'))
    assert.equal(reportOf(json).token.claims!.note, '\u001b]52;c;ZXZpbA==\u0007', 'the JSON still decodes to the claim')
    // The claimed iss named in a usage error is quoted too.
    const usage = await cli(['inspect', forged])
    assert.equal(usage.code, 64)
    assert.doesNotMatch(usage.stderr, RAW_CONTROL)
    assert.match(usage.stderr, /the token claims iss http:\/\/127\.0\.0\.1:\d+\\x9b31m/)
  })

  test('exp: 1e20 gives a verdict, not "Invalid time value"', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'far', alg: 'ES256', use: 'sig' }] })
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks))
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready))
    try {
      const token = await new SignJWT({ scope: 'orders:read', exp: 1e20 })
        .setProtectedHeader({ alg: 'ES256', kid: 'far' }).setIssuer('https://issuer.example/').setAudience(API_AUDIENCE).setSubject('far-future').setIssuedAt()
        .sign(privateKey)
      const run = await cli(['inspect', token, '--issuer', 'https://issuer.example/', '--jwks-uri', `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, '--audience', API_AUDIENCE])
      assert.ok(run.code === 0 || run.code === 1, `a verdict, not a usage error: ${run.code} ${run.stderr}`)
      assert.match(run.stdout, /^(ACCEPTED|REJECTED) /m)
      assert.match(run.stdout, /exp +100000000000000000000 s after 1970, beyond any calendar date/)
      assert.doesNotMatch(run.stdout + run.stderr, /Invalid time value/)
    } finally {
      server.close()
    }
  })

  test('a userinfo 404 (Glewlwyd, a client-credentials token) is the identity provider refusing the token: exit 1', async () => {
    const server = createServer((_req, res) => res.writeHead(404).end())
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready))
    try {
      const { access_token: token } = await ctx.idp.token('web-opaque')
      const report = reportOf(await inspect(token, ['--userinfo', '--userinfo-endpoint', `http://127.0.0.1:${(server.address() as AddressInfo).port}/userinfo`], true))
      assert.deepEqual([report.exitCode, report.verdict, report.failure!.key, report.failure!.reason], [1, 'rejected', 'invalid_token', 'refused'])
      assert.match(report.hints[0] ?? '', /^the identity provider refused the token at its userinfo endpoint \(userinfo endpoint answered 404\)/)
      assert.ok(!report.hints.some((hint) => /did not give an answer/.test(hint)))
    } finally {
      server.close()
    }
  })
})
