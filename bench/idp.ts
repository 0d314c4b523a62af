// The embedded identity provider in its own process for the introspection benchmarks: mints
// opaque tokens and counts introspection calls, on request from the orchestrator.
import { API_CLIENT, startEmbeddedIdp } from '../examples/embedded-idp.js'

const idp = await startEmbeddedIdp()
process.send?.({ issuer: idp.issuer, client: API_CLIENT })
process.on('message', (message: { op: string }) => {
  if (message.op === 'token') void idp.token('web-opaque').then((token) => process.send?.({ token: token.access_token }))
  if (message.op === 'calls') process.send?.({ calls: idp.calls['/token/introspection'] ?? 0 })
  if (message.op === 'stop') void idp.close().then(() => process.exit(0))
})
