// The inspect report as text for a terminal: the token as decoded (marked unverified), what it was
// checked against, the verdict, then the hints. `--json` prints the report itself instead.
import { humanDuration, isoTime } from './diagnose.js'
import type { InspectReport } from './inspect-token.js'

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
  return `${lines.join('\n')}\n`
}
