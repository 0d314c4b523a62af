// The embedded identity provider in its own process for the introspection benchmarks: mints
// opaque tokens (one, or a pool of distinct ones) and counts introspection calls, on request
// from the orchestrator.
import { API_CLIENT, startEmbeddedIdp } from '../examples/embedded-idp.js'

const idp = await startEmbeddedIdp()
process.send?.({ issuer: idp.issuer, client: API_CLIENT })
process.on('message', (message: { op: string; count?: number }) => {
  if (message.op === 'token') void idp.token('web-opaque').then((token) => process.send?.({ token: token.access_token }))
  if (message.op === 'pool') {
    void (async () => {
      const tokens: string[] = []
      for (let i = 0; i < (message.count ?? 0); i++) tokens.push((await idp.token('web-opaque')).access_token)
      process.send?.({ tokens })
    })()
  }
  if (message.op === 'calls') process.send?.({ calls: idp.calls['/token/introspection'] ?? 0 })
  if (message.op === 'stop') void idp.close().then(() => process.exit(0))
})
