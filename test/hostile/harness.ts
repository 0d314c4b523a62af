// The catalogue's harness: a row is one hostile input and what must happen to it: the status,
// the error code, how many times the provider was called, and what the cache holds after. Each
// row runs at one virtual instant (Date stands still at the start of a second; servers and
// sockets are real), so rows about time windows (exp 3 s ago, nbf 6 s ahead) mean exactly that
// however long the machine takes between making the token and checking it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { AnyProvider } from '../../src/index.js'
import { useVirtualTime } from '../helpers/clock.js'
import { rawRequest } from '../helpers/raw-http.js'

export type CacheState = 'none' | 'positive' | 'negative'

export interface Row {
  name: string
  /** An injected request (default GET /x)… */
  request?: InjectOptions
  /** …or a bearer token made when the row runs (it may depend on servers and the clock)… */
  token?: () => string
  /** …or the bytes of a raw request over a real socket (for what inject cannot send). */
  raw?: Buffer | string
  status: number
  /** The `error` of the JSON body; null when the answer is a success. */
  error: string | null
  /** getPayload calls this row caused. */
  calls: number
  cached: CacheState
  /** Prepares the world for this row (what a server answers). */
  setup?: () => void
  /** Extra checks (outbound requests, headers). */
  also?: (response: { headers: Record<string, unknown>; body: string }) => void | Promise<void>
}

/** Wraps a provider so that its validations are counted: getPayload calls, and getPayloadSync calls that answered. */
export function counted<P extends AnyProvider>(provider: P): P & { calls: number } {
  const wrapped = { ...provider, calls: 0 } as P & { calls: number }
  wrapped.getPayload = (token, ctx) => {
    wrapped.calls++
    return provider.getPayload(token, ctx) as ReturnType<P['getPayload']>
  }
  const sync = provider.getPayloadSync?.bind(provider)
  if (sync !== undefined) {
    wrapped.getPayloadSync = (token) => {
      let answered = true
      try {
        const payload = sync(token)
        answered = payload !== undefined
        return payload
      } finally {
        if (answered) wrapped.calls++
      }
    }
  }
  return wrapped
}

export interface Target {
  app: FastifyInstance
  provider: { calls: number }
  /** For raw rows: the listening port. */
  port?: number
}

/** Registers one node:test test per row. `target` is read when the rows run. */
export function catalogue(rows: Row[], target: () => Target): void {
  for (const row of rows) {
    test(row.name, async (t) => {
      useVirtualTime(t, { timers: false })
      row.setup?.()
      const { app, provider, port } = target()
      const cache = app.tokenAuth.cache
      const before = { calls: provider.calls, size: cache.size, rejected: cache.rejectedSize }
      let status: number
      let headers: Record<string, unknown>
      let body: string
      if (row.raw !== undefined) {
        assert.ok(port !== undefined, 'raw rows need a listening app')
        const response = await rawRequest(port, row.raw)
        ;({ status, headers, body } = response)
      } else {
        const request = row.token === undefined ? row.request : bearer(row.token())
        const response = await app.inject({ method: 'GET', url: '/x', ...request })
        status = response.statusCode
        headers = response.headers
        body = response.body
      }
      assert.equal(status, row.status, `status (body ${body})`)
      const error = status === 200 ? null : (JSON.parse(body) as { error?: string }).error ?? null
      assert.equal(error, row.error, 'error code')
      assert.equal(provider.calls - before.calls, row.calls, 'provider calls')
      const cached: CacheState = cache.size > before.size ? 'positive' : cache.rejectedSize > before.rejected ? 'negative' : 'none'
      assert.equal(cached, row.cached, 'cache state')
      await row.also?.({ headers, body })
    })
  }
}

export const bearer = (token: string): InjectOptions => ({ headers: { authorization: `Bearer ${token}` } })
