// `npm run bench`: every server variant in its own process, driven by autocannon from this
// process on 127.0.0.1, variants interleaved round by round. The headline is the server's CPU
// time per request (user + system of its process, every thread), with throughput beside it; medians
// of the rounds, as ratios to a bare Fastify route and to @fastify/jwt measured in the same run.
// Uncached variants send distinct tokens from a pre-minted pool (a client population), so that
// each request costs a verification; the single-token rows say "one token".
// `-- --quick` is a smoke run of the main rows (a few minutes).
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { makeFixtures, saveFixtures, type Algorithm, type Fixtures } from './fixtures.js'

const quick = process.argv.includes('--quick')
const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? undefined : process.argv[at + 1]
}
const ROUNDS = Number(flag('rounds') ?? (quick ? 3 : 5))
/** Warm-up by request count: autocannon's durations are whole seconds. */
const WARMUP_REQUESTS = quick ? 1_000 : 5_000
const DURATION_S = Number(flag('duration') ?? (quick ? 2 : 5))
/** Distinct tokens per algorithm for the uncached rows. */
const POOL_SIZE = Number(flag('tokens') ?? 4_000)
/** Opaque tokens live in the embedded IdP's memory, which keeps 1,000 entries (room for the burst token and a few more). */
const OPAQUE_POOL_MAX = 900
/** `--only "name;name"` (names contain commas): a subset; the bare route and the @fastify/jwt rows they compare with always run. */
const ONLY = flag('only')?.split(';').map((name) => name.trim())
const CONNECTIONS = 64

type TokenSource = { one: Algorithm } | { pool: Algorithm } | 'mix' | 'opaque-one' | 'opaque-pool'
interface Variant {
  name: string
  /** The server process: `bare`, `noop-hook`, `fastify-jwt:<alg>`, `jose-prehandler`, `ours:<alg|introspection>:<cached|uncached>`. */
  server: string
  tokens: TokenSource
  /** The @fastify/jwt row its CPU ratio is taken against. Default: @fastify/jwt RS256. */
  peer?: string
  quick: boolean
  idp?: boolean
}

const BARE = 'bare Fastify route'
const PEER = (alg: Algorithm): string => `@fastify/jwt ${alg} (distinct tokens, every request verified)`
const PEER_MIX = '@fastify/jwt, Zipf mix of 1,000 tokens'

const VARIANTS: Variant[] = [
  { name: BARE, server: 'bare', tokens: { one: 'RS256' }, quick: true },
  { name: 'bare + a no-op onRequest hook (the floor of any auth hook)', server: 'noop-hook', tokens: { one: 'RS256' }, quick: true },
  { name: 'bare + a no-op preParsing hook (the phase this plugin runs in)', server: 'noop-preparsing', tokens: { one: 'RS256' }, quick: false },
  { name: 'bare + SHA-256 key and lru-cache hit in preParsing (the floor of a caching hook)', server: 'minimal-cache', tokens: { one: 'RS256' }, quick: false },
  { name: 'ours, cache hit (one token)', server: 'ours:RS256:cached', tokens: { one: 'RS256' }, quick: true },
  { name: 'bare + crypto.verify RS256 in preParsing (the floor of a verifying hook, distinct tokens)', server: 'floor-verify', tokens: { pool: 'RS256' }, peer: PEER('RS256'), quick: false },
  ...(['RS256', 'ES256', 'EdDSA'] as const).flatMap((alg): Variant[] => [
    { name: `ours, cache: false, ${alg} (distinct tokens)`, server: `ours:${alg}:uncached`, tokens: { pool: alg }, peer: PEER(alg), quick: true },
    { name: PEER(alg), server: `fastify-jwt:${alg}`, tokens: { pool: alg }, peer: PEER(alg), quick: true },
  ]),
  { name: 'ours, default configuration, Zipf mix of 1,000 tokens', server: 'ours:RS256:cached', tokens: 'mix', peer: PEER_MIX, quick: true },
  { name: PEER_MIX, server: 'fastify-jwt:RS256', tokens: 'mix', peer: PEER_MIX, quick: true },
  { name: 'jose RS256 preHandler (distinct tokens)', server: 'jose-prehandler', tokens: { pool: 'RS256' }, quick: false },
  { name: 'ours, cache: false, RS256, one token on 64 connections', server: 'ours:RS256:uncached', tokens: { one: 'RS256' }, quick: false },
  { name: 'ours introspection, cache hit (one token)', server: 'ours:introspection:cached', tokens: 'opaque-one', quick: false, idp: true },
  { name: 'ours introspection, cache: false (distinct tokens)', server: 'ours:introspection:uncached', tokens: 'opaque-pool', quick: false, idp: true },
]

function child(script: string, args: string[]): Promise<{ process: ChildProcess; first: Record<string, unknown> }> {
  const process = fork(script, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    process.once('message', (first) => resolve({ process, first: first as Record<string, unknown> }))
    process.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)))
  })
}

function ask<T>(process: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve) => {
    process.once('message', (answer) => resolve(answer as T))
    process.send(message as Parameters<ChildProcess['send']>[0])
  })
}

/** Zipf-like reuse (s = 1.1) over the 1,000 tokens: a few are hot, most are rare. */
function zipfPicker(tokens: string[]): () => string {
  const weights = tokens.map((_, k) => 1 / (k + 1) ** 1.1)
  const total = weights.reduce((sum, weight) => sum + weight, 0)
  const cumulative: number[] = []
  let running = 0
  for (const weight of weights) cumulative.push((running += weight / total))
  return () => {
    const r = Math.random()
    let low = 0
    let high = cumulative.length - 1
    while (low < high) {
      const mid = (low + high) >> 1
      if (cumulative[mid]! < r) low = mid + 1
      else high = mid
    }
    return tokens[low]!
  }
}

/** The next token for each request: one, round-robin over a pool, or Zipf over the mix. */
function pickerFor(fixtures: Fixtures, source: TokenSource): string | (() => string) {
  if (source === 'mix') return zipfPicker(fixtures.mix)
  if (source === 'opaque-one') return fixtures.opaque!
  const pool = source === 'opaque-pool' ? fixtures.opaquePool! : 'pool' in source ? fixtures.pools[source.pool] : undefined
  if (pool === undefined) return (source as { one: Algorithm }).one === 'ES256' ? fixtures.es256 : fixtures.rs256
  let next = Math.floor(Math.random() * pool.length)
  return () => pool[next++ % pool.length]!
}

function load(port: number, token: string | (() => string), run: { duration: number } | { amount: number }, connections = CONNECTIONS): Promise<autocannon.Result> {
  const url = `http://127.0.0.1:${port}/orders`
  if (typeof token === 'string') return autocannon({ url, connections, ...run, headers: { authorization: `Bearer ${token}` } })
  return autocannon({
    url, connections, ...run,
    requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${token()}` } }) }],
  })
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** 1,000 concurrent requests with one token the server has never seen: how many provider calls it caused. */
async function coldBurst(port: number, token: string, calls: () => Promise<number>): Promise<{ calls: number; p99: number; errors: number }> {
  const before = await calls()
  const result = await load(port, token, { amount: 1000 }, 1000)
  return { calls: (await calls()) - before, p99: result.latency.p99, errors: result.non2xx + result.errors }
}

interface Run { rps: number; p50: number; p99: number; errors: number; cpuPerRequest: number }

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fta-bench-'))
  const fixturesPath = join(dir, 'fixtures.json')
  const minted = performance.now()
  const fixtures = makeFixtures(POOL_SIZE)
  const variants = VARIANTS.filter((variant) => ONLY !== undefined
    ? ONLY.includes(variant.name) || variant.name === BARE || VARIANTS.some((other) => ONLY.includes(other.name) && (other.peer ?? PEER('RS256')) === variant.name)
    : !quick || variant.quick)
  let idp: ChildProcess | undefined
  if (variants.some((variant) => variant.idp === true)) {
    const started = await child(new URL('./idp.ts', import.meta.url).pathname, [])
    idp = started.process
    fixtures.idpIssuer = started.first.issuer as string
    fixtures.idpClient = started.first.client as Fixtures['idpClient']
    // oidc-provider's in-memory adapter keeps its newest 1,000 entries: a larger pool would have
    // its first tokens forgotten (401s). The single token is minted last, so it is never evicted.
    fixtures.opaquePool = (await ask<{ tokens: string[] }>(idp, { op: 'pool', count: Math.min(POOL_SIZE, OPAQUE_POOL_MAX) })).tokens
    fixtures.opaque = (await ask<{ token: string }>(idp, { op: 'token' })).token
  }
  saveFixtures(fixturesPath, fixtures)
  console.log(`fixtures: ${POOL_SIZE.toLocaleString('en')} distinct tokens per algorithm, minted in ${((performance.now() - minted) / 1000).toFixed(1)} s`)
  const servers = new Map<string, { process: ChildProcess; port: number }>()
  const names = [...new Set(variants.map((variant) => variant.server))]
  const started = await Promise.all(names.map((name) => child(new URL('./server.ts', import.meta.url).pathname, [name, fixturesPath])))
  names.forEach((name, i) => servers.set(name, { process: started[i]!.process, port: started[i]!.first.port as number }))
  const results = new Map<string, Run[]>()
  console.log(`fastify-token-auth benchmark: ${variants.length} variants, ${ROUNDS} interleaved rounds of ${DURATION_S} s (after ${WARMUP_REQUESTS.toLocaleString('en')} warm-up requests), ${CONNECTIONS} connections`)
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round in another order, so that no variant always follows the same neighbour.
    const order = round % 2 === 1 ? variants : [...variants].reverse()
    for (const variant of order) {
      const { port, process: server } = servers.get(variant.server)!
      const token = pickerFor(fixtures, variant.tokens)
      await load(port, token, { amount: WARMUP_REQUESTS })
      const cpuBefore = (await ask<{ cpu: number }>(server, 'cpu')).cpu
      const result = await load(port, token, { duration: DURATION_S })
      const cpuPerRequest = ((await ask<{ cpu: number }>(server, 'cpu')).cpu - cpuBefore) / Math.max(1, result.requests.total)
      const list = results.get(variant.name) ?? []
      list.push({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.non2xx + result.errors, cpuPerRequest })
      results.set(variant.name, list)
    }
    process.stdout.write(`round ${round}/${ROUNDS} done\n`)
  }
  const summary = variants.map((variant) => {
    const runs = results.get(variant.name)!
    return {
      variant, rps: median(runs.map((run) => run.rps)), p50: median(runs.map((run) => run.p50)), p99: median(runs.map((run) => run.p99)),
      cpu: median(runs.map((run) => run.cpuPerRequest)), errors: runs.reduce((sum, run) => sum + run.errors, 0),
      spread: runs.map((run) => run.cpuPerRequest.toFixed(0)),
    }
  })
  const row = (name: string) => summary.find((entry) => entry.variant.name === name)
  const bare = row(BARE)!
  const ratio = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(2))
  console.log('')
  console.log('Server CPU per request (user + system of the server process, every thread, µs; median of the rounds) is the')
  console.log('headline: on a shared machine it is much steadier than throughput. CPU ratios are other CPU / this CPU')
  console.log('(higher is better: 2.00 = half the CPU); "× @fastify/jwt" compares with the @fastify/jwt row of the same algorithm.')
  console.log('')
  console.log('| variant | server CPU µs/req | CPU × bare | CPU × @fastify/jwt | req/s | req/s × bare | req/s × @fastify/jwt | p50 ms | p99 ms | non-2xx | CPU µs/req per round |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
  for (const entry of summary) {
    const peer = row(entry.variant.peer ?? PEER('RS256'))
    console.log(`| ${entry.variant.name} | ${entry.cpu.toFixed(1)} | ${ratio(bare.cpu / entry.cpu)} | ${ratio(peer && peer.cpu / entry.cpu)} | ${Math.round(entry.rps).toLocaleString('en')} | ${ratio(entry.rps / bare.rps)} | ${ratio(peer && entry.rps / peer.rps)} | ${entry.p50} | ${entry.p99} | ${entry.errors} | ${entry.spread.join(', ')} |`)
    if (entry.errors > 0) process.exitCode = 1
  }
  console.log('')
  // The cold path: 1,000 concurrent requests with one fresh token share one validation.
  const jwtServer = servers.get('ours:RS256:cached')
  if (jwtServer !== undefined) {
    const burst = await coldBurst(jwtServer.port, fixtures.burst, async () => (await ask<{ calls: number }>(jwtServer.process, 'calls')).calls)
    console.log(`cold burst: 1,000 concurrent requests with one fresh RS256 token → ${burst.calls} provider call(s) (${burst.calls === 1 ? 'exactly one: OK' : 'expected exactly one: FAILED'}), p99 ${burst.p99} ms, non-2xx ${burst.errors}`)
    if (burst.calls !== 1 || burst.errors > 0) process.exitCode = 1
  }
  if (idp !== undefined && servers.has('ours:introspection:cached')) {
    const { token } = await ask<{ token: string }>(idp, { op: 'token' })
    const burst = await coldBurst(servers.get('ours:introspection:cached')!.port, token, async () => (await ask<{ calls: number }>(idp, { op: 'calls' })).calls)
    console.log(`cold burst: 1,000 concurrent requests with one fresh opaque token → ${burst.calls} introspection call(s) at the identity provider (${burst.calls === 1 ? 'exactly one: OK' : 'expected exactly one: FAILED'}), p99 ${burst.p99} ms, non-2xx ${burst.errors}`)
    if (burst.calls !== 1 || burst.errors > 0) process.exitCode = 1
  }
  for (const { process: server } of servers.values()) server.send('stop')
  idp?.send({ op: 'stop' })
  rmSync(dir, { recursive: true, force: true })
}

await main()
