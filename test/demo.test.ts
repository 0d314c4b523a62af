// `npm run demo -- --once` as a user runs it: every row of its table, with the right status.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'

const ROOT = resolve(import.meta.dirname, '..')

test('npm run demo -- --once prints every scenario with its real answer', { timeout: 60_000 }, async () => {
  const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'demo', '--', '--once'], { cwd: ROOT, timeout: 55_000 })
  const expected: Array<[string, number, RegExp]> = [
    ['no token', 401, /missing_token/],
    ['JWT access token', 200, /uid web-jwt/],
    ['opaque token, introspected', 200, /uid web-opaque/],
    ['missing scope (orders:write)', 403, /insufficient_scope/],
    ['revoked token', 401, /invalid_token: The access token is not active/],
    ['expired token', 401, /invalid_token: The access token expired/],
    ['WebSocket, ticket + expiring token', 101, /open across [2-9] token renewals/],
    ['identity provider stopped', 503, /provider_unavailable.*Retry-After \d+/],
  ]
  for (const [scenario, status, answer] of expected) {
    const row = stdout.split('\n').find((line) => line.startsWith(scenario))
    assert.ok(row !== undefined, `row "${scenario}" missing from:\n${stdout}`)
    assert.match(row, new RegExp(`\\s${status}\\s`), row)
    assert.match(row, answer, row)
  }
})
