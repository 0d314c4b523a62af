// GitHub: opaque OAuth and personal access tokens, validated by calling the REST API's `/user`
// (401 = invalid; a 403 without rate-limit headers, e.g. for an installation token, too). The
// granted scopes come in the X-OAuth-Scopes header (classic tokens). A spent rate limit, primary
// (403 or 429 with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset`) or secondary
// (`Retry-After`), is the API's outage: 503 with Retry-After, never cached as a refusal.
import { recordUserRules } from '../../src/namespace.js'
import type { Claims } from '../../src/claims.js'
import type { Provider } from '../../src/provider.js'
import { assertBaseUrl } from '../discovery.js'
import { userinfoProvider } from '../userinfo.js'
import { checkPresetOptions, PRESET_OPTIONS, type PresetOptions } from './_options.js'

export interface GithubOptions extends PresetOptions {
  /** The REST API base, for GitHub Enterprise Server. Default `https://api.github.com`. */
  apiUrl?: string
  /** How long an answer is trusted, in ms (0 to 86,400,000). Default 60,000. */
  ttl?: number
}

export function github(options: GithubOptions = {}): Provider<Claims> {
  const rules = checkPresetOptions(options, 'github', [...PRESET_OPTIONS, 'apiUrl', 'ttl'])
  const apiUrl = (options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '')
  assertBaseUrl(apiUrl, 'github: apiUrl', '/user is appended to it')
  return recordUserRules(userinfoProvider({
    namespace: rules.namespace,
    endpoint: `${apiUrl}/user`,
    name: options.name ?? 'github',
    ttl: options.ttl,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    validate: options.validate,
    map: options.map,
    headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'fastify-token-auth' },
    toClaims: (user, headers) => {
      const scopes = typeof headers['x-oauth-scopes'] === 'string' ? headers['x-oauth-scopes'].split(',').map((scope) => scope.trim()).filter(Boolean) : []
      const claims: Claims = { sub: String(user.id), preferred_username: user.login, scope: scopes.join(' ') }
      for (const [claim, field] of [['name', 'name'], ['email', 'email'], ['picture', 'avatar_url'], ['profile', 'html_url']] as const) {
        if (typeof user[field] === 'string') claims[claim] = user[field]
      }
      return claims
    },
  }), rules.functions)
}
