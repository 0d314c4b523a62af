import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test } from 'node:test'
import { tokenAuth, type Auth, type AuthFailure } from '../../src/index.js'
import { googleAccessToken, googleIdToken } from '../../providers/presets/google.js'
import { nowS, startJwtStandIn, type JwtStandIn } from '../helpers/stand-in.js'

const CLIENT = '1234987819200-abc123def456.apps.googleusercontent.com'
let idp: JwtStandIn
let tokeninfo: Server
let tokeninfoUrl: string
const bodies: string[] = []
before(async () => {
  idp = await startJwtStandIn()
  // Plays oauth2.googleapis.com/tokeninfo: strings for numbers, 400 invalid_token for a bad token.
  tokeninfo = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      bodies.push(`${req.method} ${req.url} ${body}`)
      const token = new URLSearchParams(body).get('access_token')
      const known: Record<string, Record<string, string>> = {
        'ya29.a0AfB_mine': { azp: CLIENT, aud: CLIENT, sub: '110169484474386276334', scope: 'openid https://www.googleapis.com/auth/userinfo.email', exp: String(nowS() + 3500), expires_in: '3500', email: 'alice@gmail.com', email_verified: 'true', access_type: 'online' },
        'ya29.a0AfB_otherapp': { azp: 'another-app.apps.googleusercontent.com', aud: 'another-app.apps.googleusercontent.com', sub: '110169484474386276334', scope: 'openid', exp: String(nowS() + 3500), expires_in: '3500' },
      }
      const answer = token === null ? undefined : known[token]
      if (token === 'ya29.ratelimited') res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' }).end(JSON.stringify({ error: 'rate_limit_exceeded' }))
      else if (token === 'ya29.down') res.writeHead(503, { 'content-type': 'text/html' }).end('<html>Service Unavailable</html>')
      else if (answer === undefined) res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_token', error_description: 'Invalid Value' }))
      else res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(answer))
    })
  })
  await new Promise<void>((resolve) => tokeninfo.listen(0, '127.0.0.1', resolve))
  tokeninfoUrl = `http://127.0.0.1:${(tokeninfo.address() as AddressInfo).port}/tokeninfo`
})
after(async () => {
  await idp.close()
  tokeninfo.close()
})

// Shaped after a Google ID token.
const idToken = (extra: Record<string, unknown> = {}) => idp.sign({
  iss: 'https://accounts.google.com', azp: CLIENT, aud: CLIENT, sub: '110169484474386276334', email: 'alice@gmail.com',
  email_verified: true, at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q', name: 'Alice Example', picture: 'https://lh3.googleusercontent.com/a/x',
  given_name: 'Alice', family_name: 'Example', iat: nowS(), exp: nowS() + 3600, ...extra,
})

test('google ID token: valid with either iss spelling; profile into info', async () => {
  const provider = googleIdToken({ clientId: CLIENT, jwksUri: idp.jwksUri })
  const auth = await tokenAuth(idToken(), provider) as Auth
  assert.equal(auth.uid, '110169484474386276334')
  assert.deepEqual(auth.info, { name: 'Alice Example', given_name: 'Alice', family_name: 'Example', picture: 'https://lh3.googleusercontent.com/a/x', email: 'alice@gmail.com', email_verified: true })
  assert.equal((await tokenAuth(idToken({ iss: 'accounts.google.com' }), provider) as Auth).uid, '110169484474386276334')
})

test('google ID token: for another client, or from another issuer: refused', async () => {
  const provider = googleIdToken({ clientId: CLIENT, jwksUri: idp.jwksUri })
  assert.equal((await tokenAuth(idToken({ aud: 'another-app.apps.googleusercontent.com' }), provider) as AuthFailure).status, 401)
  assert.equal((await tokenAuth(idToken({ iss: 'https://accounts.evil.com' }), provider) as AuthFailure).status, 401)
})

test('google access token via tokeninfo (POSTed): scopes, exp and email_verified from strings', async () => {
  const auth = await tokenAuth('ya29.a0AfB_mine', googleAccessToken({ clientId: CLIENT, tokeninfoUrl })) as Auth
  assert.equal(auth.uid, '110169484474386276334')
  assert.deepEqual(auth.credentials.scopes, ['openid', 'https://www.googleapis.com/auth/userinfo.email'])
  assert.equal(typeof auth.credentials.expiresAt, 'number')
  assert.deepEqual(auth.info, { email: 'alice@gmail.com', email_verified: true })
  assert.match(bodies.at(-1)!, /^POST \/tokeninfo access_token=/, 'the token is not in the URL')
})

test('google access token of another app, or invalid: refused', async () => {
  const provider = googleAccessToken({ clientId: CLIENT, tokeninfoUrl })
  assert.equal((await tokenAuth('ya29.a0AfB_otherapp', provider) as AuthFailure).errors[0]?.message, 'The access token is not meant for this API')
  assert.equal((await tokenAuth('ya29.revoked', provider) as AuthFailure).status, 401)
})

test('google tokeninfo: a 400 is about the token (401, reason refused); a 429 or a 5xx is an outage (503)', async () => {
  const provider = googleAccessToken({ clientId: CLIENT, tokeninfoUrl })
  const refused = await tokenAuth('ya29.revoked', provider, { breaker: false }) as AuthFailure
  assert.deepEqual([refused.status, refused.errors[0]?.reason], [401, 'refused'])
  const limited = await tokenAuth('ya29.ratelimited', provider, { breaker: false }) as AuthFailure
  assert.deepEqual([limited.status, limited.errors[0]?.reason, limited.retryAfter], [503, 'rate_limited', 30])
  const down = await tokenAuth('ya29.down', provider, { breaker: false }) as AuthFailure
  assert.deepEqual([down.status, down.errors[0]?.reason], [503, 'status'])
})
