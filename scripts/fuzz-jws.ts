// `npm run fuzz:jws [-- <cases> [<seed>]]`: the differential test of the JWS verifier and claims
// checks against jose, long (default 200,000 cases; JWS_FUZZ_RUNS works too). Prints the tally;
// on a disagreement, fast-check's report with the seed and the shrunk case, and exit code 1.
import { differential } from '../test/helpers/jws-fuzz.js'

const runs = Number(process.argv[2] ?? process.env.JWS_FUZZ_RUNS ?? 200_000)
const seed = process.argv[3] === undefined ? Date.now() | 0 : Number(process.argv[3])
if (!Number.isInteger(runs) || runs < 1) throw new TypeError(`fuzz:jws: the number of cases must be a positive integer, got ${process.argv[2]}`)

console.log(`fuzz:jws: ${runs.toLocaleString('en')} cases, seed ${seed}`)
const started = performance.now()
try {
  const tally = await differential(runs, seed)
  const seconds = (performance.now() - started) / 1000
  console.log(`no disagreement in ${tally.cases.toLocaleString('en')} cases (${seconds.toFixed(0)} s)`)
  console.log(`verdicts (compact JWS and JWT per case): both accepted ${tally.agreedAccepted.toLocaleString('en')}, both refused ${tally.agreedRefused.toLocaleString('en')}`)
  for (const [why, count] of Object.entries(tally.stricter)) {
    console.log(`ours refused by design (${why}): ${count.toLocaleString('en')}, of which jose accepted ${(tally.stricterJoseAccepted[why] ?? 0).toLocaleString('en')}`)
  }
} catch (err) {
  console.error((err as Error).message)
  process.exitCode = 1
}
