// Starts the real identity provider (oidc-provider on 127.0.0.1) for a test file and stops it after.
import { after, before } from 'node:test'
import { startEmbeddedIdp, type EmbeddedIdp } from '../../examples/embedded-idp.js'

export { API_AUDIENCE, OTHER_AUDIENCE, API_CLIENT, API_CLIENT_POST } from '../../examples/embedded-idp.js'
export type { EmbeddedIdp } from '../../examples/embedded-idp.js'

/** The identity provider of the current test file: started before its tests, closed after. */
export function useIdp(): { readonly idp: EmbeddedIdp } {
  const holder = {} as { idp: EmbeddedIdp }
  before(async () => {
    holder.idp = await startEmbeddedIdp()
  })
  after(() => holder.idp.close())
  return holder
}

/** The JWT's payload, decoded without verification (for assertions). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}

export const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
