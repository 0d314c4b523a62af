// Soak: 1,000,000 random tokens through the pipeline with `max: 10_000`. The heap must stay flat
// (the LRU bounds everything the pipeline keeps), and malformed tokens must never reach the
// provider. Run: npm run bench:soak (node --expose-gc). Prints a table; exits 1 on a violation.
import { randomBytes } from 'node:crypto'
import { createCache, defineProvider, tokenAuth } from '../src/index.js'

const TOTAL = Number(process.env.SOAK_TOKENS ?? 1_000_000)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

let calls = 0
const provider = defineProvider({
  name: 'soak',
  getPayload: async (token) => {
    calls++
    return { sub: `user-${token.slice(0, 6)}`, scope: 'read write', exp: Math.floor(Date.now() / 1000) + 3600, email: 'user@example.test' }
  },
})
const cache = createCache({ max: 10_000, negativeTtl: 5_000 })

function heapMb(): number {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

let malformed = 0
let wellFormed = 0
let rejectedMalformed = 0
const samples: Array<{ after: number; heapMb: number; cacheSize: number }> = []
const started = performance.now()
for (let i = 1; i <= TOTAL; i++) {
  // One token in ten is malformed in one of several ways; the rest are fresh random tokens.
  const random = randomBytes(24).toString('base64url')
  const kind = i % 10
  const token = kind === 0 ? `${random} x` : kind === 5 && i % 20 === 5 ? `${random}\u00e9` : random
  const isMalformed = token !== random
  if (isMalformed) malformed++
  else wellFormed++
  const result = await tokenAuth(token, provider, { cache })
  if (isMalformed && 'errors' in result && result.status === 400) rejectedMalformed++
  if (i === 10_000 || i % 250_000 === 0) samples.push({ after: i, heapMb: heapMb(), cacheSize: cache.size })
}
const seconds = (performance.now() - started) / 1000

console.log(`soak: ${TOTAL.toLocaleString('en')} tokens in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds).toLocaleString('en')}/s), cache max 10,000`)
console.log('after tokens   heap MB   cache entries')
for (const sample of samples) console.log(`${sample.after.toLocaleString('en').padStart(12)}   ${sample.heapMb.toFixed(1).padStart(7)}   ${String(sample.cacheSize).padStart(13)}`)
const first = samples[0]!
const last = samples.at(-1)!
console.log(`heap growth from 10k to ${TOTAL.toLocaleString('en')}: ${(last.heapMb - first.heapMb).toFixed(1)} MB`)
console.log(`provider calls ${calls.toLocaleString('en')} = well-formed ${wellFormed.toLocaleString('en')}; malformed ${malformed.toLocaleString('en')}, all refused with 400: ${rejectedMalformed === malformed}`)

const violations: string[] = []
if (calls !== wellFormed) violations.push('the provider was called for a malformed token')
if (rejectedMalformed !== malformed) violations.push('a malformed token was not refused with 400')
if (last.cacheSize > 10_000) violations.push('the cache outgrew max')
if (last.heapMb - first.heapMb > 20) violations.push('the heap grew by more than 20 MB')
if (violations.length > 0) {
  console.error(`FAILED: ${violations.join('; ')}`)
  process.exit(1)
}
