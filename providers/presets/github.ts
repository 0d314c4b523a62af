// GitHub: opaque OAuth and personal access tokens, validated by calling the REST API's `/user`
// (401 = invalid). The granted scopes come in the X-OAuth-Scopes header (classic tokens).
import type { Dispatcher } from 'undici'
import type { Provider } from '../../src/provider.js'
import type { Claims } from '../../src/claims.js'
import { userinfoProvider } from '../userinfo.js'

export interface GithubOptions {
  /** The REST API base, for GitHub Enterprise Server. Default `https://api.github.com`. */
  apiUrl?: string
  /** How long an answer is trusted, in ms. Default 60,000. */
  ttl?: number
  name?: string
  timeout?: number
  dispatcher?: Dispatcher
}

export function github(options: GithubOptions = {}): Provider<Claims> {
  const apiUrl = (options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '')
  return userinfoProvider({
    endpoint: `${apiUrl}/user`,
    name: options.name ?? 'github',
    ttl: options.ttl,
    timeout: options.timeout,
    dispatcher: options.dispatcher,
    headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'fastify-token-auth' },
    mapping: (user, headers) => {
      const scopes = typeof headers['x-oauth-scopes'] === 'string' ? headers['x-oauth-scopes'].split(',').map((scope) => scope.trim()).filter(Boolean) : []
      const claims: Claims = { sub: String(user.id), preferred_username: user.login, scope: scopes.join(' ') }
      for (const [claim, field] of [['name', 'name'], ['email', 'email'], ['picture', 'avatar_url'], ['profile', 'html_url']] as const) {
        if (typeof user[field] === 'string') claims[claim] = user[field]
      }
      return claims
    },
  })
}
