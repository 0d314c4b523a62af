#!/usr/bin/env node
// `npx fastify-token-auth inspect <token> --issuer <url> …`: the command line around
// inspectToken(). Exit codes: 0 accepted, 1 rejected, 2 identity provider unavailable, 64 usage.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { decodeToken } from './inspect/decode.js'
import { formatJson, formatReport, visible } from './inspect/format.js'
import { inspectToken, type InspectOptions } from './inspect/inspect-token.js'
import { scrub } from './log.js'
import type { ClientAuthMethod } from '../providers/introspection.js'

const USAGE = `Usage: fastify-token-auth inspect <token | -> --issuer <url> [options]

Decodes the token (without trusting it), validates it with the same provider pipeline as the
plugin, and explains the verdict. Pass "-" (or nothing) to read the token from standard input,
which keeps it out of your shell history. A short token (under 32 characters) that starts with
"-" goes last, after "--"; a longer one is recognised as a token wherever it stands.

Options:
  --issuer <url>                  the issuer your API trusts (required)
  --audience <aud>                your API's audience; repeat for several (JWT: not checked if absent)
  --scope <scope>                 a scope the route requires; repeatable
  --introspect                    check at the introspection endpoint (RFC 7662), not as a local JWT
  --userinfo                      check at the OIDC userinfo endpoint (opaque user tokens)
  --client-id <id>                your API's client at the identity provider (with --introspect)
  --client-secret <secret>        its secret; default: $FASTIFY_TOKEN_AUTH_CLIENT_SECRET
  --client-auth <method>          client_secret_basic (default), client_secret_post or none
  --jwks-uri <url>                the JWKS, when not discovered from the issuer
  --introspection-endpoint <url>  the introspection endpoint, when not discovered
  --userinfo-endpoint <url>       the userinfo endpoint, when not discovered
  --clock-tolerance <seconds>     clock skew allowed on exp/nbf/iat (default 5)
  --timeout <ms>                  deadline of each call to the identity provider (default 5000)
  --json                          print the report as JSON
  -h, --help                      this text

Exit codes: 0 accepted, 1 rejected, 2 identity provider unavailable, 64 wrong usage.
`

const EXIT_USAGE = 64

class UsageError extends Error {}

const CLIENT_AUTH: readonly string[] = ['client_secret_basic', 'client_secret_post', 'none']

// An option whose value went missing (`--timeout $UNSET "$TOKEN"`) takes the next argument, the
// token, as its value: errors about a value never repeat it.
function numberOption(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined
  const number = Number(value)
  if (!Number.isFinite(number) || number < min) throw new UsageError(`the value of --${name} is not a number >= ${min} (not repeated here: it may be the token)`)
  return number
}

function urlOption(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new UsageError(`the value of --${name} is not an absolute http(s) URL (not repeated here: it may be the token)`)
  }
  return value
}

/** A compact JWS or JWE: a JOSE header (base64url JSON) and more segments. */
function isJwtShaped(value: string): boolean {
  const dots = value.split('.').length - 1
  if ((dots !== 2 && dots !== 4) || !TOKEN68.test(value)) return false
  return Buffer.from(value.slice(0, value.indexOf('.')), 'base64url').toString('utf8').trimStart().startsWith('{')
}

/** Refuses a token found in an option's value, which would otherwise reach the report or an error. */
function checkNoTokenInValues(values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    if (name === 'client-secret') continue
    for (const item of ([] as unknown[]).concat(value)) {
      if (typeof item === 'string' && isJwtShaped(item)) {
        throw new UsageError(`the value of --${name} looks like a token (not repeated here): did the option before it lose its value to an unset variable? The token goes last, or on standard input with "-"`)
      }
    }
  }
}

/** Whether an argument could be a token or a secret (not an option's name): error messages never repeat one. */
function isTokenLike(arg: string): boolean {
  return arg.length >= 16 && TOKEN68.test(arg) && !isWordLike(arg.replace(/^--?/, ''))
}

/** An error message for the terminal: no argument that could be a token, no control character. */
function safeMessage(message: string, argv: readonly string[], token: string | undefined): string {
  let safe = token === undefined ? message : scrub(message, token)
  for (const arg of argv) if (isTokenLike(arg)) safe = safe.replaceAll(arg, '[value]')
  return visible(safe)
}

const OPTIONS = {
  issuer: { type: 'string' },
  audience: { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  introspect: { type: 'boolean' },
  userinfo: { type: 'boolean' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'client-auth': { type: 'string' },
  'jwks-uri': { type: 'string' },
  'introspection-endpoint': { type: 'string' },
  'userinfo-endpoint': { type: 'string' },
  'clock-tolerance': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

// Opaque tokens are random base64url and one in 64 starts with "-", which parseArgs would read
// as an option. An argument of token68 characters, at least this long, that names no option of
// ours (the longest is 24 characters) can only be a token, so it is moved after "--".
const DASH_TOKEN_MIN_LENGTH = 32
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/

function isDashToken(arg: string): boolean {
  return arg.startsWith('-') && arg.length >= DASH_TOKEN_MIN_LENGTH && TOKEN68.test(arg)
}

function withDashTokensLast(argv: string[]): string[] {
  const end = argv.indexOf('--')
  const options = end === -1 ? argv : argv.slice(0, end)
  const tokens = options.filter(isDashToken)
  if (tokens.length === 0) return argv
  const rest = end === -1 ? [] : argv.slice(end + 1)
  return [...options.filter((arg) => !isDashToken(arg)), '--', ...tokens, ...rest]
}

/** Errors repeat what was typed only when it looks like a word: a token may stand in its place. */
function isWordLike(text: string): boolean {
  return /^[a-z][a-z-]{0,24}$/.test(text)
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({ args: withDashTokensLast(argv), allowPositionals: true, options: OPTIONS })
  } catch (err) {
    // parseArgs quotes the unknown argument, which may be a short token.
    if ((err as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw err
    const quoted = /Unknown option '([^']*)'/.exec((err as Error).message)?.[1] ?? ''
    const named = isWordLike(quoted.replace(/^--?/, '')) ? ` ${quoted}` : ''
    throw new UsageError(`unknown option${named} (an argument that starts with "-": if it is the token, put it last, after "--")`)
  }
}

function parse(argv: string[]): { token: string | undefined; options: InspectOptions; json: boolean } | 'help' {
  const { values, positionals } = parseOptions(argv)
  if (values.help === true) return 'help'
  checkNoTokenInValues(values)
  const [command, token, ...extra] = positionals
  if (command !== 'inspect') {
    // A forgotten "inspect" leaves the token in the command's place.
    const named = command !== undefined && isWordLike(command) ? ` ${JSON.stringify(command)}` : ''
    throw new UsageError(command === undefined ? 'a command is required: inspect' : `unknown command${named}: the command is inspect`)
  }
  if (extra.length > 0) throw new UsageError('one token at a time')
  if (values.issuer === undefined) {
    // Never taken from the token (anyone can write any iss), but named to help.
    const claimed = token === undefined ? undefined : decodeToken(token).claims?.iss
    throw new UsageError(`--issuer is required${typeof claimed === 'string' ? ` (the token claims iss ${claimed}: pass it if that is the issuer your API trusts)` : ''}`)
  }
  const clientAuth = values['client-auth']
  if (clientAuth !== undefined && !CLIENT_AUTH.includes(clientAuth)) throw new UsageError(`--client-auth must be one of ${CLIENT_AUTH.join(', ')}`)
  const introspect = values.introspect === true
  if (introspect && values.userinfo === true) throw new UsageError('--introspect or --userinfo, not both')
  if (values.userinfo === true && values.audience !== undefined) throw new UsageError('--audience cannot be checked with --userinfo: the userinfo answer carries no audience')
  if (!introspect && (values['client-id'] !== undefined || values['client-secret'] !== undefined)) {
    throw new UsageError('--client-id and --client-secret are for --introspect')
  }
  const options: InspectOptions = {
    issuer: values.issuer,
    audience: values.audience ?? [],
    scopes: (values.scope ?? []).flatMap((scope) => scope.split(/\s+/)).filter((scope) => scope.length > 0),
    method: introspect ? 'introspection' : values.userinfo === true ? 'userinfo' : 'jwt',
  }
  if (introspect) {
    options.clientId = values['client-id']
    options.clientSecret = values['client-secret'] ?? process.env.FASTIFY_TOKEN_AUTH_CLIENT_SECRET
    if (clientAuth !== undefined) options.clientAuth = clientAuth as ClientAuthMethod
  }
  urlOption(values.issuer, 'issuer')
  const jwksUri = urlOption(values['jwks-uri'], 'jwks-uri')
  if (jwksUri !== undefined) options.jwksUri = jwksUri
  const introspectionEndpoint = urlOption(values['introspection-endpoint'], 'introspection-endpoint')
  if (introspectionEndpoint !== undefined) options.introspectionEndpoint = introspectionEndpoint
  const userinfoEndpoint = urlOption(values['userinfo-endpoint'], 'userinfo-endpoint')
  if (userinfoEndpoint !== undefined) options.userinfoEndpoint = userinfoEndpoint
  const clockTolerance = numberOption(values['clock-tolerance'], 'clock-tolerance', 0)
  if (clockTolerance !== undefined) options.clockTolerance = clockTolerance
  const timeout = numberOption(values.timeout, 'timeout', 1)
  if (timeout !== undefined) options.timeout = Math.round(timeout)
  return { token: token === '-' ? undefined : token, options, json: values.json === true }
}

function readToken(): string {
  if (process.stdin.isTTY) throw new UsageError('no token: pass it as an argument, or pipe it to standard input with "-"')
  return readFileSync(0, 'utf8')
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  let token: string | undefined
  try {
    parsed = parse(argv)
    if (parsed === 'help') {
      process.stdout.write(USAGE)
      return 0
    }
    token = (parsed.token ?? readToken()).trim()
    if (token.length === 0) throw new UsageError('the token is empty')
  } catch (err) {
    process.stderr.write(`fastify-token-auth: ${safeMessage((err as Error).message, argv, token)}\n\n${USAGE}`)
    return EXIT_USAGE
  }
  try {
    const report = await inspectToken(token, parsed.options)
    process.stdout.write(parsed.json ? formatJson(report) : formatReport(report))
    return report.exitCode
  } catch (err) {
    // Options no API could run with (an issuer whose discovery names another one, a missing
    // client secret): say so, as the plugin would at registration.
    process.stderr.write(`fastify-token-auth: ${safeMessage((err as Error).message, argv, token)}\n`)
    return EXIT_USAGE
  }
}

const code = await main(process.argv.slice(2))
// Exit once the answer is written out: undici keeps idle connections open for a few seconds.
process.stdout.write('', () => process.exit(code))
