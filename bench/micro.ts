// Micro benchmarks of the hot path, per operation (tinybench): extraction, the cache hit (hash +
// lookup), building the request's Auth, the whole synchronous hit, and ticket verification.
import { Bench } from 'tinybench'
import { cacheKey, createCache, defineProvider, extractToken, tokenAuth } from '../src/index.js'
import { withToken } from '../src/auth.js'
import { NO_PROOF } from '../src/binding.js'
import { Engine, NO_RULE } from '../src/engine.js'
import { resolveSettings } from '../src/pipeline.js'
import { Tickets } from '../src/ticket.js'
import { makeFixtures } from './fixtures.js'

const { rs256: token } = await makeFixtures()
const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>
const provider = defineProvider({ name: 'micro', getPayload: async () => claims })
const cache = createCache()
await tokenAuth(token, provider, { cache })
const engine = new Engine({ provider, settings: resolveSettings({ cache }) })
const key = engine.keyOf(token)
const cached = cache.get(key)!
const header = `Bearer ${token}`
const rawHeaders = ['Host', '127.0.0.1', 'Authorization', header, 'Accept', '*/*']
const extractOptions = { maxTokenLength: 8192, allowQuery: false }

const tickets = new Tickets('a-benchmark-ticket-secret-0123456789abcdef')
const auth = withToken(cached, token)
const minted = Array.from({ length: 300_000 }, () => tickets.issue({ auth, namespace: engine.namespace, route: '/ws', key, ttl: 30_000 }))
let next = 0

const bench = new Bench({ time: 1000, warmupTime: 200 })
bench
  .add('extract Bearer from headers (token of ' + token.length + ' chars)', () => { extractToken({ authorization: header, rawHeaders }, extractOptions) })
  .add('cache key: SHA-256 of namespace + token', () => { cacheKey(engine.namespace, token) })
  .add('cache hit: key + LRU lookup + exp check', () => { cache.get(cacheKey(engine.namespace, token)) })
  .add('Auth for the request (withToken)', () => { withToken(cached, token) })
  .add('whole cached path (engine.authenticate, synchronous)', () => { void engine.authenticate(token, NO_PROOF, NO_RULE) })
  .add('ticket verify (HMAC-SHA256, parse)', () => { tickets.verify(minted[next++ % minted.length]!) })

await bench.run()
console.log('| operation | ns/op (mean) | ops/s |')
console.log('| --- | ---: | ---: |')
for (const task of bench.tasks) {
  const result = task.result as { latency?: { mean: number }; throughput?: { mean: number }; mean?: number; hz?: number } | undefined
  const meanMs = result?.latency?.mean ?? result?.mean ?? NaN
  const hz = result?.throughput?.mean ?? result?.hz ?? NaN
  console.log(`| ${task.name} | ${Math.round(meanMs * 1e6).toLocaleString('en')} | ${Math.round(hz).toLocaleString('en')} |`)
}
