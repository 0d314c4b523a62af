// A miss of this instance's LRU in a fleet: the shared store may have the answer already; if not,
// one instance takes a short lock and asks the identity provider while the others wait for its
// answer in the store (or take the lock over when it is released without one).
import type { Outcome } from './cache.js'
import type { PipelineSettings } from './pipeline.js'
import type { Provider } from './provider.js'
import { callProvider } from './provider-call.js'
import type { TokenStore } from './store.js'

const POLL_MS = 20

async function shared(store: TokenStore, key: string): Promise<Outcome | undefined> {
  const entry = await store.get(key)
  const exp = entry?.auth.credentials.expiresAt
  const now = Date.now()
  if (entry === undefined || entry.expiresAt <= now || (exp !== undefined && exp * 1000 <= now)) return undefined
  return { auth: entry.auth, ttl: entry.expiresAt - now, shared: true }
}

export async function callThroughStore(provider: Provider<unknown>, token: string, key: string, settings: PipelineSettings, store: TokenStore): Promise<Outcome> {
  const found = await shared(store, key)
  if (found !== undefined) return found
  const giveUpAt = Date.now() + settings.timeout
  let owner = store.lock === undefined || await store.lock(key, settings.timeout)
  while (!owner && Date.now() < giveUpAt) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    const answered = await shared(store, key)
    if (answered !== undefined) return answered
    // Released without an answer (the token was refused, or the owner failed): our turn.
    owner = await store.lock!(key, settings.timeout)
  }
  // The lock may have come free because the answer just landed (the owner writes it before it
  // unlocks, on one connection): look once more before asking ourselves.
  if (owner && store.lock !== undefined) {
    const landed = await shared(store, key)
    if (landed !== undefined) {
      await store.unlock?.(key)
      return landed
    }
  }
  try {
    const outcome = await callProvider(provider, token, key, settings)
    // Shared before the lock is released, so that no waiter finds the lock free and no answer.
    const ttl = 'auth' in outcome ? settings.cache.clamp(outcome.auth, outcome.ttl) : 0
    if ('auth' in outcome && ttl > 0) await store.set(key, outcome.auth, ttl)
    return outcome
  } finally {
    if (owner) await store.unlock?.(key)
  }
}
