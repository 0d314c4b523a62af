// The WebSocket doors, for @fastify/websocket: the upgrade (Authorization header, subprotocol token
// or connection ticket, all through the engine), then the socket's life (first-message auth,
// in-band re-auth, expiry, revocation) in SocketSessions, whose tokens go through the same engine.
// Registration order with @fastify/websocket does not matter: sockets are taken in hand on its
// server's 'connection' event, which it emits just before it calls the route's handler.
import type { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { buildFailure, type Auth, type AuthFailure } from './auth.js'
import type { Facts } from './binding.js'
import type { Engine } from './engine.js'
import type { ExtractOptions } from './extract-token.js'
import { HttpFacts, socketFacts } from './http-facts.js'
import type { RouteRule } from './route-rule.js'
import { upgradeCredential } from './upgrade.js'
import { SocketSessions, type AuthSocket } from './websocket.js'

/** What an authenticated upgrade hands to the socket once it opens. */
interface UpgradeState {
  rule: RouteRule
  facts: Facts
  /** The cache key of the token (or the ticket's token): how revocation finds the socket. */
  key: string | undefined
  auth: Auth | null
}

export class SocketDoor {
  readonly sessions: SocketSessions
  readonly #engine: Engine
  readonly #extract: ExtractOptions
  readonly #publicUrl: string | undefined
  readonly #upgrades = new WeakMap<IncomingMessage, UpgradeState>()

  constructor(engine: Engine, extract: ExtractOptions, publicUrl: string | undefined, log: FastifyInstance['log']) {
    this.#engine = engine
    this.#extract = extract
    this.#publicUrl = publicUrl
    this.sessions = new SocketSessions({ verify: (token, facts, rule) => engine.check(token, facts, rule), keyOf: (token) => engine.keyOf(token), log })
    engine.onRevocation((message) => {
      if ('key' in message) this.sessions.revoke(message.key)
      else this.sessions.revokeUid(message.uid)
    })
  }

  /**
   * Authenticates an upgrade to a WebSocket route: the Auth, or the failure to answer with.
   * First-message routes open unauthenticated: the socket then asks for the token.
   */
  async authenticate(request: FastifyRequest, rule: RouteRule): Promise<Auth | AuthFailure> {
    const facts = socketFacts(request)
    if (rule.socket.firstMessage) {
      this.#upgrades.set(request.raw, { rule, facts, key: undefined, auth: null })
      return this.#engine.missing
    }
    const engine = this.#engine
    const credential = upgradeCredential(request.headers, request.raw.rawHeaders, request.query, this.#extract)
    let result: Auth | AuthFailure
    let key: string | undefined
    switch (credential.kind) {
      case 'none':
        return engine.missing
      case 'refused':
        return buildFailure(engine.provider.name, credential.failure.key, credential.failure.description)
      case 'ticket':
        ({ result, key } = await engine.redeemTicket(credential.ticket, rule.url, new HttpFacts(request, this.#publicUrl, false), rule))
        break
      case 'token':
        result = await engine.authenticate(credential.token, new HttpFacts(request, this.#publicUrl, credential.from === 'request'), rule)
        key = engine.keyOf(credential.token)
        break
    }
    if ('uid' in result) this.#upgrades.set(request.raw, { rule, facts, key, auth: result })
    return result
  }

  /** Takes sockets in hand as @fastify/websocket opens them. */
  listen(server: EventEmitter | undefined): void {
    server?.on('connection', (socket: AuthSocket, raw: IncomingMessage) => {
      const state = this.#upgrades.get(raw)
      if (state === undefined) return
      this.#upgrades.delete(raw)
      this.sessions.attach(socket, state.rule.socket, state.facts, state.auth, state.key)
    })
  }

  close(): void {
    this.sessions.close()
  }
}
