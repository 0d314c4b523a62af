// Every numeric and default setting of the plugin and tokenAuth(), in one place: its default and
// the range it must fall in. Option checks read their bounds here, and a test holds the README's
// option tables to these values.

export interface IntegerSpec {
  readonly default: number
  readonly min: number
  readonly max: number
  /** What the number counts, for messages: 'ms', 'characters', 'entries'. */
  readonly unit: string
}

const spec = (value: number, min: number, max: number, unit: string): IntegerSpec => Object.freeze({ default: value, min, max, unit })

/** setTimeout's longest delay: a longer one would fire at once. */
export const LONGEST_TIMER = 2 ** 31 - 1

export const INTEGER_OPTIONS = Object.freeze({
  timeout: spec(5_000, 1, 600_000, 'ms'),
  maxTokenLength: spec(8_192, 1, 1_048_576, 'characters'),
  'cache.max': spec(10_000, 1, 10_000_000, 'entries'),
  'cache.maxTtl': spec(300_000, 0, 86_400_000, 'ms'),
  'cache.negativeTtl': spec(0, 0, 3_600_000, 'ms'),
  'cache.negativeMax': spec(1_000, 1, 1_000_000, 'entries'),
  'breaker.threshold': spec(5, 1, 10_000, 'failures'),
  'breaker.cooldown': spec(10_000, 1, 3_600_000, 'ms'),
  /** Required: its default is never used. */
  'revalidate.interval': spec(0, 10, 86_400_000, 'ms'),
  'revalidate.concurrency': spec(8, 1, 1_000, 'checks'),
  'config.auth.authTimeout': spec(5_000, 1, LONGEST_TIMER, 'ms'),
  'config.auth.reauthGrace': spec(10_000, 1, LONGEST_TIMER, 'ms'),
  'issueTicket.ttl': spec(30_000, 1, 600_000, 'ms'),
  'refusalLimit.max': spec(100, 1, 1_000_000, 'refused tokens'),
  'refusalLimit.window': spec(60_000, 1_000, 3_600_000, 'ms'),
})

export type IntegerOption = keyof typeof INTEGER_OPTIONS

/** Defaults that are not numbers. */
export const OTHER_DEFAULTS = Object.freeze({
  realm: 'api',
  allowQuery: false,
  allowBody: false,
  dpop: 'allowed',
  upgradeRefusal: 'http',
  refusalLimit: false,
  'config.auth.onExpire': 'close',
})

/** The option's value, or its default; a TypeError naming `path` when it is not an integer in range. */
export function integerOption(value: unknown, option: IntegerOption, path: string): number {
  const { default: fallback, min, max, unit } = INTEGER_OPTIONS[option]
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const shown = typeof value === 'number' ? String(value) : typeof value
    throw new TypeError(`${path} must be an integer from ${min.toLocaleString('en')} to ${max.toLocaleString('en')} (${unit}), got ${shown}`)
  }
  return value
}
