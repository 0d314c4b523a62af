// Construction-time checks shared by the providers and presets: an unknown option is refused (a
// typo would otherwise turn a check off in silence), a number must lie in its range, an issuer
// must be an identifier RFC 8414 §2 allows. Every message names the option's path.

export { checkKnownOptions } from '../src/known-options.js'

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
