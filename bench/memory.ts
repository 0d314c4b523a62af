// Bytes per cache entry at 10,000 and 100,000 entries: heap after filling the cache through the
// pipeline, minus the heap of the same claims held alone; the difference is what the library adds.
import { randomBytes } from 'node:crypto'
import { createCache, defineProvider, tokenAuth } from '../src/index.js'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')
const heap = (): number => { gc(); gc(); return process.memoryUsage().heapUsed }

// Claims shaped like a typical access token: ~15 claims, a few scopes, some profile.
function claimsFor(i: number): Record<string, unknown> {
  return {
    iss: 'https://issuer.bench.test/', sub: `user-${i}-${randomBytes(6).toString('hex')}`, aud: 'api://bench',
    exp: Math.floor(Date.now() / 1000) + 3600, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url'),
    client_id: 'web-app', scope: 'openid profile orders:read orders:write', name: `User ${i}`, email: `user${i}@example.test`,
    email_verified: true, azp: 'web-app', sid: randomBytes(8).toString('hex'),
  }
}

for (const entries of [10_000, 100_000]) {
  const tokens = Array.from({ length: entries }, () => randomBytes(32).toString('base64url'))
  // The claims alone, as a provider would hand them over.
  let base = heap()
  let held: Array<Record<string, unknown>> | undefined = tokens.map((_, i) => claimsFor(i))
  const claimsBytes = (heap() - base) / entries
  held = undefined
  void held

  base = heap()
  const cache = createCache({ max: entries })
  let i = 0
  const provider = defineProvider({ name: 'memory', getPayload: async () => claimsFor(i++) })
  for (const token of tokens) await tokenAuth(token, provider, { cache })
  const entryBytes = (heap() - base) / entries
  console.log(`${entries.toLocaleString('en')} entries: ${Math.round(entryBytes)} B per entry in all, claims alone ${Math.round(claimsBytes)} B → ${Math.round(entryBytes - claimsBytes)} B added by the cache (target ≤ 1,024)`)
  cache.clear()
}
