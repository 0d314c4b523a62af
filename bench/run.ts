// `npm run bench`: every server variant in its own process, driven by autocannon from this
// process on 127.0.0.1, variants interleaved round by round, medians reported as ratios to a bare
// Fastify route and to @fastify/jwt measured in the same run. `-- --quick` is a smoke run.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { makeFixtures, saveFixtures, type Fixtures } from './fixtures.js'

const quick = process.argv.includes('--quick')
const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? undefined : process.argv[at + 1]
}
const ROUNDS = Number(flag('rounds') ?? (quick ? 3 : 4))
/** Warm-up by request count: autocannon's durations are whole seconds. */
const WARMUP_REQUESTS = quick ? 1_000 : 5_000
const DURATION_S = Number(flag('duration') ?? (quick ? 1 : 5))
/** `--only "bare Fastify,ours jwt RS256 cached"`: a subset (bare Fastify and @fastify/jwt are always kept for the ratios). */
const ONLY = flag('only')?.split(',').map((name) => name.trim())
const CONNECTIONS = 64

type TokenSource = 'rs256' | 'es256' | 'opaque' | 'mix'
interface Variant { name: string; server: string; tokens: TokenSource; quick: boolean; idp?: boolean }

const VARIANTS: Variant[] = [
  { name: 'bare Fastify', server: 'bare', tokens: 'rs256', quick: true },
  { name: 'bare + a no-op onRequest hook', server: 'noop-hook', tokens: 'rs256', quick: false },
  { name: '@fastify/jwt RS256', server: 'fastify-jwt', tokens: 'rs256', quick: true },
  { name: 'jose RS256 preHandler', server: 'jose-prehandler', tokens: 'rs256', quick: true },
  { name: 'ours jwt RS256 cached', server: 'jwt-rs256:cached', tokens: 'rs256', quick: true },
  { name: 'ours jwt RS256 uncached', server: 'jwt-rs256:uncached', tokens: 'rs256', quick: true },
  { name: 'ours jwt ES256 cached', server: 'jwt-es256:cached', tokens: 'es256', quick: false },
  { name: 'ours jwt ES256 uncached', server: 'jwt-es256:uncached', tokens: 'es256', quick: false },
  { name: 'ours introspection cached', server: 'introspection:cached', tokens: 'opaque', quick: false, idp: true },
  { name: 'ours introspection uncached', server: 'introspection:uncached', tokens: 'opaque', quick: false, idp: true },
  { name: 'ours default, Zipf mix of 1,000', server: 'jwt-rs256:cached', tokens: 'mix', quick: true },
  { name: '@fastify/jwt, Zipf mix of 1,000', server: 'fastify-jwt', tokens: 'mix', quick: false },
]

function child(script: string, args: string[]): Promise<{ process: ChildProcess; first: Record<string, unknown> }> {
  const process = fork(script, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    process.once('message', (first) => resolve({ process, first: first as Record<string, unknown> }))
    process.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)))
  })
}

function serverCpu(server: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    server.once('message', (answer) => resolve((answer as { cpu: number }).cpu))
    server.send('cpu')
  })
}

function ask<T>(process: ChildProcess, op: string): Promise<T> {
  return new Promise((resolve) => {
    process.once('message', (answer) => resolve(answer as T))
    process.send({ op })
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

function load(port: number, fixtures: Fixtures, source: TokenSource, run: { duration: number } | { amount: number }): Promise<autocannon.Result> {
  const url = `http://127.0.0.1:${port}/orders`
  if (source === 'mix') {
    const pick = zipfPicker(fixtures.mix)
    return autocannon({
      url, connections: CONNECTIONS, ...run,
      requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${pick()}` } }) }],
    })
  }
  return autocannon({ url, connections: CONNECTIONS, ...run, headers: { authorization: `Bearer ${fixtures[source]!}` } })
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function coldBurst(port: number, idp: ChildProcess): Promise<{ calls: number; p99: number; errors: number }> {
  const { token } = await ask<{ token: string }>(idp, 'token')
  const before = (await ask<{ calls: number }>(idp, 'calls')).calls
  const result = await autocannon({ url: `http://127.0.0.1:${port}/orders`, connections: 1000, amount: 1000, headers: { authorization: `Bearer ${token}` } })
  const after = (await ask<{ calls: number }>(idp, 'calls')).calls
  return { calls: after - before, p99: result.latency.p99, errors: result.non2xx + result.errors }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fta-bench-'))
  const fixturesPath = join(dir, 'fixtures.json')
  const fixtures = await makeFixtures()
  const variants = VARIANTS.filter((variant) => ONLY !== undefined
    ? ONLY.includes(variant.name) || variant.name === 'bare Fastify' || variant.name === '@fastify/jwt RS256'
    : !quick || variant.quick)
  let idp: ChildProcess | undefined
  if (variants.some((variant) => variant.idp === true)) {
    const started = await child(new URL('./idp.ts', import.meta.url).pathname, [])
    idp = started.process
    fixtures.idpIssuer = started.first.issuer as string
    fixtures.idpClient = started.first.client as Fixtures['idpClient']
    fixtures.opaque = (await ask<{ token: string }>(idp, 'token')).token
  }
  saveFixtures(fixturesPath, fixtures)
  const servers = new Map<string, { process: ChildProcess; port: number }>()
  const names = [...new Set(variants.map((variant) => variant.server))]
  const started = await Promise.all(names.map((name) => child(new URL('./server.ts', import.meta.url).pathname, [name, fixturesPath])))
  names.forEach((name, i) => servers.set(name, { process: started[i]!.process, port: started[i]!.first.port as number }))
  const results = new Map<string, Array<{ rps: number; p50: number; p99: number; errors: number; cpuPerRequest: number }>>()
  console.log(`fastify-token-auth benchmark: ${variants.length} variants, ${ROUNDS} interleaved rounds of ${DURATION_S} s (after ${WARMUP_REQUESTS.toLocaleString('en')} warm-up requests), ${CONNECTIONS} connections`)
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round in another order, so that no variant always follows the same neighbour.
    const order = round % 2 === 1 ? variants : [...variants].reverse()
    for (const variant of order) {
      const { port, process: server } = servers.get(variant.server)!
      await load(port, fixtures, variant.tokens, { amount: WARMUP_REQUESTS })
      const cpuBefore = await serverCpu(server)
      const result = await load(port, fixtures, variant.tokens, { duration: DURATION_S })
      const cpuPerRequest = (await serverCpu(server) - cpuBefore) / Math.max(1, result.requests.total)
      const list = results.get(variant.name) ?? []
      list.push({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.non2xx + result.errors, cpuPerRequest })
      results.set(variant.name, list)
    }
    process.stdout.write(`round ${round}/${ROUNDS} done\n`)
  }
  const summary = variants.map((variant) => {
    const runs = results.get(variant.name)!
    return {
      name: variant.name, rps: median(runs.map((run) => run.rps)), p50: median(runs.map((run) => run.p50)), p99: median(runs.map((run) => run.p99)),
      cpu: median(runs.map((run) => run.cpuPerRequest)), errors: runs.reduce((sum, run) => sum + run.errors, 0), spread: runs.map((run) => Math.round(run.rps)),
    }
  })
  const bareRow = summary.find((row) => row.name === 'bare Fastify')!
  const peerRow = summary.find((row) => row.name === '@fastify/jwt RS256')!
  console.log('')
  console.log('Throughput ratios are medians of interleaved rounds; server CPU per request (user + system, µs) is the steadier')
  console.log('measure of what a variant costs: its ratio to bare is bare CPU / variant CPU (higher is better).')
  console.log('')
  console.log('| variant | req/s (median) | × bare | × @fastify/jwt | p50 ms | p99 ms | server CPU µs/req | CPU × bare | CPU × @fastify/jwt | non-2xx | rounds req/s |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
  for (const row of summary) {
    console.log(`| ${row.name} | ${Math.round(row.rps).toLocaleString('en')} | ${(row.rps / bareRow.rps).toFixed(2)} | ${(row.rps / peerRow.rps).toFixed(2)} | ${row.p50} | ${row.p99} | ${row.cpu.toFixed(1)} | ${(bareRow.cpu / row.cpu).toFixed(2)} | ${(peerRow.cpu / row.cpu).toFixed(2)} | ${row.errors} | ${row.spread.join(', ')} |`)
  }
  if (idp !== undefined && servers.has('introspection:cached')) {
    const burst = await coldBurst(servers.get('introspection:cached')!.port, idp)
    console.log(`\ncold path: 1,000 concurrent requests with one fresh opaque token → ${burst.calls} introspection call(s) at the identity provider, p99 ${burst.p99} ms, non-2xx ${burst.errors}`)
    if (burst.calls !== 1) process.exitCode = 1
  }
  for (const { process: server } of servers.values()) server.send('stop')
  idp?.send({ op: 'stop' })
  rmSync(dir, { recursive: true, force: true })
}

await main()
