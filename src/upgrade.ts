// Where a WebSocket upgrade may carry its credential besides the Authorization header: a
// connection ticket (`?ticket=`), or the Sec-WebSocket-Protocol list (`bearer, <token>`, for
// browsers). The token is taken out of the protocol list, so the server never echoes it. Only a
// real upgrade to a WebSocket route may use them; anything else is an ordinary request with
// ordinary credentials. "Real" is what Node did, not what the headers seem to say: Node's parser
// also upgrades on `Proxy-Connection: upgrade` and does not on `Connection: upgrade\xa0`, so the
// request counts as an upgrade when @fastify/websocket received it from Node's 'upgrade' event.
import type { IncomingHttpHeaders } from 'node:http'
import { checkToken, extractToken, TWO_WAYS, type ExtractFailure, type ExtractOptions } from './extract-token.js'

export type UpgradeCredential =
  /** `from`: the request's Authorization header or query (as for HTTP), or the subprotocol list. */
  | { kind: 'token'; token: string; from: 'request' | 'protocol' }
  | { kind: 'ticket'; ticket: string }
  | { kind: 'none'; failure: ExtractFailure }
  | { kind: 'refused'; failure: ExtractFailure }

export const BAD_TICKET_PARAM = Object.freeze({ key: 'invalid_request' as const, description: 'The ticket parameter must appear once' })

/**
 * Whether Node upgraded this request (it came through its 'upgrade' event, as @fastify/websocket
 * marks with `request.ws` in its onRequest hook, which runs before this plugin's preParsing).
 */
export function isUpgrade(request: { method: string; ws?: unknown }): boolean {
  return request.ws === true && request.method === 'GET'
}

/** Removes `bearer, <token>` from Sec-WebSocket-Protocol; returns the token, if there was one. */
function takeProtocolToken(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['sec-websocket-protocol']
  if (typeof header !== 'string') return undefined
  const protocols = header.split(',').map((protocol) => protocol.trim())
  const marker = protocols.findIndex((protocol) => protocol.toLowerCase() === 'bearer')
  if (marker === -1 || marker + 1 >= protocols.length) return undefined
  const token = protocols[marker + 1]!
  protocols.splice(marker + 1, 1)
  headers['sec-websocket-protocol'] = protocols.join(', ')
  return token
}

/** The one credential of an upgrade request, from any of its carriers; two at once are refused. */
export function upgradeCredential(headers: IncomingHttpHeaders, rawHeaders: readonly string[], query: unknown, options: ExtractOptions): UpgradeCredential {
  const found = extractToken({ authorization: headers.authorization, rawHeaders, query }, options)
  const ticket = query !== null && typeof query === 'object' && Object.hasOwn(query, 'ticket') ? (query as Record<string, unknown>).ticket : undefined
  const protocolToken = takeProtocolToken(headers)
  const carried = (typeof found === 'string' ? 1 : 0) + (ticket === undefined ? 0 : 1) + (protocolToken === undefined ? 0 : 1)
  if (typeof found !== 'string' && found.key === 'invalid_request') return { kind: 'refused', failure: found }
  if (carried > 1) return { kind: 'refused', failure: TWO_WAYS }
  if (typeof found === 'string') return { kind: 'token', token: found, from: 'request' }
  if (ticket !== undefined) {
    return typeof ticket === 'string' && ticket.length > 0 ? { kind: 'ticket', ticket } : { kind: 'refused', failure: BAD_TICKET_PARAM }
  }
  if (protocolToken !== undefined) {
    const checked = checkToken(protocolToken, options.maxTokenLength)
    return typeof checked === 'string' ? { kind: 'token', token: checked, from: 'protocol' } : { kind: 'refused', failure: checked }
  }
  return { kind: 'none', failure: found }
}
