// The inspect report as text for a terminal: the token as decoded (marked unverified), what it was
// checked against, the verdict, then the hints. `--json` prints the report itself instead. What a
// token says is shown, never obeyed: control characters come out as visible escapes.
import { humanDuration, isoTime } from './diagnose.js'
import type { InspectReport } from './inspect-token.js'

// C0 and C1 controls, DEL, line and paragraph separators, and bidirectional overrides and marks:
// in a forged token's claims they could clear the screen, forge a line ("ACCEPTED"), write the
// clipboard (OSC 52), ring the bell or reorder what is shown.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
// JSON.stringify escapes C0 controls itself; the others stay raw in its output.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

const hex = (char: string, width: number): string => char.charCodeAt(0).toString(16).padStart(width, '0')

/** The text with every control character written as a visible escape (`\x1b`, `\u202e`). */
export function visible(text: string): string {
  return text.replace(UNSAFE, (char) => (char.charCodeAt(0) < 0x100 ? `\\x${hex(char, 2)}` : `\\u${hex(char, 4)}`))
}

/** The report as JSON for scripts, with no raw control character a terminal would act on. */
export function formatJson(report: InspectReport): string {
  return `${JSON.stringify(report, null, 2).replace(UNSAFE_IN_JSON, (char) => `\\u${hex(char, 4)}`)}\n`
}

const TIME_CLAIMS = new Set(['exp', 'nbf', 'iat', 'auth_time'])
const HEADER_MEMBERS = ['alg', 'kid', 'typ'] as const

function show(value: unknown): string {
  if (typeof value === 'string') return value
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(', ')
  return JSON.stringify(value)
}

function showTime(seconds: number, nowSeconds: number): string {
  const relative = seconds >= nowSeconds ? `in ${humanDuration(seconds - nowSeconds)}` : `${humanDuration(nowSeconds - seconds)} ago`
  return `${isoTime(seconds)} (${relative})`
}

/** A claim's value for a person: times as dates with how long ago or ahead. */
function showClaim(name: string, value: unknown, nowSeconds: number): string {
  return TIME_CLAIMS.has(name) && typeof value === 'number' ? showTime(value, nowSeconds) : show(value)
}

function rows(entries: Array<[string, string]>, indent: string): string[] {
  const width = Math.max(0, ...entries.map(([name]) => name.length))
  return entries.map(([name, value]) => `${indent}${name.padEnd(width)}  ${value}`)
}

function tokenLines(report: InspectReport, nowSeconds: number): string[] {
  const { token } = report
  const kind = token.format === 'jwt' ? 'JWT' : token.format === 'jwe' ? 'encrypted JWT (JWE)' : 'opaque (not a JWT)'
  const lines = [`Token     ${kind}, ${token.length} characters, log fingerprint ${token.logFingerprint}`]
  if (token.header !== undefined) {
    const header = HEADER_MEMBERS.filter((name) => token.header![name] !== undefined).map((name) => `${name} ${show(token.header![name])}`)
    lines.push(`Header    ${header.join(' · ') || '(no alg, kid or typ)'}`)
  }
  if (token.claims !== undefined) {
    lines.push('Claims    (decoded, not verified)')
    const entries = Object.entries(token.claims).map(([name, value]): [string, string] => [name, showClaim(name, value, nowSeconds)])
    lines.push(...rows(entries, '  '))
  }
  return lines
}

function checkedLine(report: InspectReport): string {
  const { checked } = report
  const endpoint = checked.method === 'jwt' ? 'the JWKS' : `the ${checked.method} endpoint`
  const where = checked.endpoint === undefined ? `${endpoint} of the issuer (discovery failed)` : `${endpoint} at ${checked.endpoint}`
  const against = checked.method === 'jwt' ? `JWT signature with ${where}` : where
  const parts = [`issuer ${checked.issuer}`, `audience ${checked.audience === null ? '(not checked)' : checked.audience.join(', ')}`]
  if (checked.scopes.length > 0) parts.push(`scopes ${checked.scopes.join(' ')}`)
  return `Checked   ${against}; ${parts.join('; ')}`
}

function verdictLines(report: InspectReport, nowSeconds: number): string[] {
  const lines: string[] = []
  const { auth, failure } = report
  if (report.verdict === 'accepted' && auth !== undefined) {
    lines.push(`ACCEPTED  what request.auth holds on a route:`)
    const entries: Array<[string, string]> = [
      ['uid', auth.uid],
      ['provider', auth.provider],
      ['scopes', auth.credentials.scopes.join(' ') || '(none)'],
    ]
    if (auth.credentials.expiresAt !== undefined) entries.push(['expiresAt', showTime(auth.credentials.expiresAt, nowSeconds)])
    for (const [name, value] of Object.entries(auth.credentials.other)) entries.push([name, showClaim(name, value, nowSeconds)])
    for (const [name, value] of Object.entries(auth.info)) entries.push([`info.${name}`, show(value)])
    lines.push(...rows(entries, '  '))
  } else if (failure !== undefined) {
    lines.push(`${report.verdict.toUpperCase().padEnd(9)} ${failure.key} (${failure.status}): ${failure.message}`)
    if (failure.detail !== undefined) lines.push(`  detail  ${failure.detail}`)
  }
  return lines
}

export function formatReport(report: InspectReport, nowSeconds = Date.now() / 1000): string {
  const lines = [...tokenLines(report, nowSeconds), checkedLine(report), '', ...verdictLines(report, nowSeconds)]
  if (report.hints.length > 0) lines.push('', 'Why, and what fixes it:', ...report.hints.map((hint) => `  - ${hint}`))
  if (report.notes.length > 0) lines.push('', 'Notes:', ...report.notes.map((note) => `  - ${note}`))
  return `${lines.map(visible).join('\n')}\n`
}
