// One validation at the identity provider: under the pipeline's deadline, through the
// provider's circuit breaker, with at most one jittered retry for a fast transient failure when
// it fits the deadline; every error becomes a failure outcome, and nothing here throws.
import { buildFailure, STRATEGY, type CachedAuth } from './auth.js'
import { CircuitBreaker, type BreakerOptions } from './breaker.js'
import type { Outcome } from './cache.js'
import { channels } from './diagnostics.js'
import { InvalidTokenError, isInvalidTokenError, isProviderUnavailableError, ProviderUnavailableError, type FailureKey } from './errors.js'
import { describeError, fingerprint, mentionsToken } from './log.js'
import { freezeDeep } from './store.js'
import type { Logger, Provider, ProviderContext } from './provider.js'

export interface CallSettings {
  /** The overall deadline for one token, in ms (every attempt included). */
  timeout: number
  log: Logger
  /** Circuit breaker options, or false for none. */
  breaker: BreakerOptions | false
}

// One breaker per provider object, shared by every registration and tokenAuth() call that uses it.
const breakers = new WeakMap<object, CircuitBreaker>()

export function breakerOf(provider: Provider<unknown>, options: BreakerOptions | false, log: Logger): CircuitBreaker | undefined {
  if (options === false) return undefined
  let breaker = breakers.get(provider)
  if (breaker === undefined) {
    breaker = new CircuitBreaker(options, (from, to) => {
      const level = to === 'open' ? 'error' : 'warn'
      log[level]({ tokenAuth: { provider: provider.name, breaker: to } }, `identity provider circuit ${to}`)
      if (channels.breaker.hasSubscribers) channels.breaker.publish({ provider: provider.name, from, to })
    })
    breakers.set(provider, breaker)
  }
  return breaker
}

/** The cached Auth a checked payload stands for; frozen when it will be shared (cached, or joined). */
function mapPayload(provider: Provider<unknown>, payload: unknown, shared: boolean): Outcome {
  const uid = provider.getUid(payload)
  if (typeof uid !== 'string' || uid.length === 0) {
    throw new InvalidTokenError('The access token names no subject', { detail: 'getUid returned no string', reason: 'subject' })
  }
  const auth: CachedAuth = {
    uid,
    provider: provider.nameOf?.(payload) ?? provider.name,
    strategy: STRATEGY,
    credentials: provider.getCredentials(payload),
    info: provider.getInfo(payload),
    extra: provider.getExtra(payload),
  }
  // Shared by every request that hits this entry: nobody may change it under the others.
  return { auth: shared ? freezeDeep(auth) : auth, ttl: provider.getTtl(payload) }
}

async function validate(provider: Provider<unknown>, token: string, ctx: ProviderContext, started: PromiseLike<unknown> | undefined): Promise<Outcome> {
  const payload = await (started ?? provider.getPayload(token, ctx))
  if ((await provider.validToken(token, payload, ctx)) !== true) throw new InvalidTokenError()
  return mapPayload(provider, payload, true)
}

/** A signal that never aborts, for checks that wait for nothing. */
const NEVER = new AbortController().signal

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as { then?: unknown } | null)?.then === 'function'

/**
 * A validation that waits for nothing (provider.getPayloadSync): the outcome at once, with no
 * deadline, timer or breaker (no identity provider is asked); `started` when the provider had to
 * start waiting after all; undefined when it cannot answer so. Never throws.
 */
export function validateNow(provider: Provider<unknown>, token: string, key: string, log: Logger, shared: boolean): { outcome: Outcome } | { started: PromiseLike<unknown> } | undefined {
  if (provider.getPayloadSync === undefined) return undefined
  try {
    const payload = provider.getPayloadSync(token)
    if (payload === undefined) return undefined
    if (isThenable(payload)) return { started: payload }
    const valid = provider.validToken(token, payload, { signal: NEVER, log })
    if (isThenable(valid)) {
      // An asynchronous final check: the flight checks again with a deadline.
      valid.then(undefined, () => {})
      return { started: Promise.resolve(payload) }
    }
    if (valid !== true) throw new InvalidTokenError()
    return { outcome: mapPayload(provider, payload, shared) }
  } catch (err) {
    return { outcome: failureOutcome(err, provider, token, key, log) }
  }
}

/** A provider's message, unless it quotes the token in any form: then the generic one (undefined). */
function publicMessage(message: string, token: string): string | undefined {
  return message.length > 0 && !mentionsToken(message, token) ? message : undefined
}

function failureOutcome(err: unknown, provider: Provider<unknown>, token: string, key: string, log: Logger): Outcome {
  const name = provider.name
  const tokenRef = fingerprint(key)
  if (isInvalidTokenError(err)) {
    log.debug({ tokenAuth: { provider: name, token: tokenRef, key: 'invalid_token', err: describeError(err, token) } }, 'token rejected')
    return { failure: Object.freeze(buildFailure(name, 'invalid_token', publicMessage(err.message, token), undefined, err.reason)), cacheable: true }
  }
  if (isProviderUnavailableError(err)) {
    log.warn({ tokenAuth: { provider: name, token: tokenRef, key: 'provider_unavailable', err: describeError(err, token) } }, 'identity provider unavailable')
    // The public text stays generic: which endpoint failed and how is this API's business (the log has it).
    return { failure: buildFailure(name, 'provider_unavailable', undefined, err.retryAfter, err.reason), cacheable: false }
  }
  // Anything else is a bug in the provider or its configuration: fail closed, loudly, and do not remember it.
  log.error({ tokenAuth: { provider: name, token: tokenRef, key: 'provider_unavailable', err: describeError(err, token) } }, 'provider threw an unexpected error')
  return { failure: buildFailure(name, 'provider_unavailable'), cacheable: false }
}

function outcomeKey(outcome: Outcome): 'answered' | FailureKey {
  return 'auth' in outcome ? 'answered' : (outcome.failure.errors[0]?.messageKey ?? 'invalid_token')
}

/**
 * One call's deadline: a timer, and an AbortSignal made only if the provider asks for one (a
 * provider that does no I/O never pays for it). Work raced against it rejects at the deadline
 * with a ProviderUnavailableError, whether or not the provider listens to the signal.
 */
class Deadline {
  readonly ctx: ProviderContext
  #controller: AbortController | undefined
  #expired: ProviderUnavailableError | undefined
  #onExpire: ((err: Error) => void) | undefined
  readonly #timer: NodeJS.Timeout

  constructor(timeout: number, log: Logger) {
    this.#timer = setTimeout(() => {
      this.#expired = new ProviderUnavailableError('The identity provider did not answer in time', {
        cause: new Error(`no answer within ${timeout} ms`), reason: 'timeout',
      })
      this.#controller?.abort(this.#expired)
      this.#onExpire?.(this.#expired)
    }, timeout)
    const signal = (): AbortSignal => this.#signal()
    this.ctx = { get signal() { return signal() }, log }
  }

  #signal(): AbortSignal {
    this.#controller ??= new AbortController()
    if (this.#expired !== undefined && !this.#controller.signal.aborted) this.#controller.abort(this.#expired)
    return this.#controller.signal
  }

  get expired(): boolean {
    return this.#expired !== undefined
  }

  /** `work`'s outcome, or the deadline's rejection if it comes first. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.#expired !== undefined) {
      work.then(undefined, () => {})
      return Promise.reject(this.#expired)
    }
    return new Promise<T>((resolve, reject) => {
      this.#onExpire = reject
      work.then(resolve, reject).finally(() => { this.#onExpire = undefined })
    })
  }

  /** Waits `ms`, or less if the deadline comes first. */
  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#onExpire = undefined; resolve() }, ms)
      this.#onExpire = () => { clearTimeout(timer); resolve() }
    })
  }

  end(): void {
    clearTimeout(this.#timer)
    this.#onExpire = undefined
  }
}

/** Smallest remaining deadline worth a retry, in ms, beyond the jitter itself. */
const RETRY_FLOOR = 100

/**
 * Calls the provider for one token; resolves with an outcome, never rejects. `underWay`: a
 * getPayload already under way (from getPayloadSync), used for the first attempt.
 */
export async function callProvider(provider: Provider<unknown>, token: string, key: string, settings: CallSettings, underWay?: PromiseLike<unknown>): Promise<Outcome> {
  // Handled here, so that a call refused by the breaker leaves no unhandled rejection behind.
  underWay?.then(undefined, () => {})
  const breaker = breakerOf(provider, settings.breaker, settings.log)
  const wait = breaker?.refuse()
  if (wait !== undefined) {
    return { failure: buildFailure(provider.name, 'provider_unavailable', 'The identity provider is unavailable (circuit open)', wait, 'circuit_open'), cacheable: false, breakerOpen: true }
  }
  const started = performance.now()
  const deadline = started + settings.timeout
  const call = new Deadline(settings.timeout, settings.log)
  try {
    for (let attempt = 1; ; attempt++) {
      const attemptStarted = performance.now()
      let outcome: Outcome
      let retryable = false
      try {
        outcome = await call.race(validate(provider, token, call.ctx, attempt === 1 ? underWay : undefined))
      } catch (err) {
        outcome = failureOutcome(err, provider, token, key, settings.log)
        retryable = isProviderUnavailableError(err) && err.retryable && !call.expired
      }
      const transient = 'failure' in outcome && !outcome.cacheable
      if (channels.providerCall.hasSubscribers) {
        channels.providerCall.publish({ provider: provider.name, token: fingerprint(key), attempt, outcome: outcomeKey(outcome), durationMs: performance.now() - attemptStarted })
      }
      if (transient) breaker?.failure()
      else breaker?.success()
      const jitter = 50 + Math.random() * 150
      if (!retryable || attempt > 1 || breaker?.state === 'open' || deadline - performance.now() < jitter + RETRY_FLOOR) return outcome
      await call.pause(jitter)
      if (call.expired) return outcome
    }
  } finally {
    call.end()
  }
}
