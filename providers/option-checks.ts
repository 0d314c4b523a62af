// Construction-time checks shared by the providers and presets: an unknown option is refused (a
// typo would otherwise turn a check off in silence), a number must lie in its range, an issuer
// must be an identifier RFC 8414 §2 allows. Every message names the option's path.

/** How far apart two names may be for one to be offered as the other's spelling. */
const TYPO_DISTANCE = 2

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

/**
 * Refuses any member of `options` not in `known`, with a TypeError that names it and offers the
 * likely intended one: from `renamed` (an old name: `{ mapping: 'toClaims' }`), else the closest
 * known name.
 */
export function checkKnownOptions(options: object, known: readonly string[], path: string, renamed: Readonly<Record<string, string>> = {}): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    const suggestion = Object.hasOwn(renamed, name)
      ? renamed[name]
      : known.map((candidate) => [candidate, distance(name.toLowerCase(), candidate.toLowerCase())] as const)
        .filter(([, d]) => d <= TYPO_DISTANCE).sort((a, b) => a[1] - b[1])[0]?.[0]
    throw new TypeError(`${path}: unknown option "${name}"${suggestion === undefined ? '' : `, did you mean ${suggestion}?`}`)
  }
}

/** An optional integer option within [min, max], or a TypeError naming it and its unit. */
export function checkInteger(value: unknown, path: string, min: number, max: number, unit = ''): void {
  if (value === undefined) return
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max)) {
    throw new TypeError(`${path} must be an integer from ${min.toLocaleString('en')} to ${max.toLocaleString('en')}${unit === '' ? '' : ` (${unit})`}, got ${typeof value === 'number' ? String(value) : typeof value}`)
  }
}

/** An optional number option within [min, max] (fractions allowed), or a TypeError naming it. */
export function checkNumber(value: unknown, path: string, min: number, max: number, unit = ''): void {
  if (value === undefined) return
  if (!(typeof value === 'number' && value >= min && value <= max)) {
    throw new TypeError(`${path} must be a number from ${min} to ${max}${unit === '' ? '' : ` (${unit})`}, got ${typeof value === 'number' ? String(value) : typeof value}`)
  }
}

/** An optional function option, or a TypeError naming it. */
export function checkFunction(value: unknown, path: string): void {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`${path} must be a function`)
}

/** The ranges of the options every HTTP-backed provider shares. */
export const RANGES = Object.freeze({
  /** One call's deadline, in ms: up to 10 minutes. */
  timeout: [1, 600_000],
  /** How long an answer is trusted, in ms: up to a day (the cache's maxTtl and exp cap it too). */
  ttl: [0, 86_400_000],
  /** Largest answer read, in bytes: 1 KiB to 64 MiB. */
  maxBytes: [1024, 64 * 1024 * 1024],
  /** Clock skew allowed, in seconds: up to 10 minutes. */
  clockTolerance: [0, 600],
} as const)

/** Checks the shared numeric options that are present. */
export function checkCommonNumbers(options: Partial<Record<keyof typeof RANGES, unknown>>, path: string): void {
  checkInteger(options.timeout, `${path}: timeout`, ...RANGES.timeout, 'ms')
  checkInteger(options.ttl, `${path}: ttl`, ...RANGES.ttl, 'ms')
  checkInteger(options.maxBytes, `${path}: maxBytes`, ...RANGES.maxBytes, 'bytes')
  checkNumber(options.clockTolerance, `${path}: clockTolerance`, ...RANGES.clockTolerance, 's')
}
