// OpenTelemetry for fastify-token-auth (`fastify-token-auth/otel`), built on the diagnostics
// channels: spans and metrics for validations, provider calls, breaker states and JWKS/discovery
// fetches. `@opentelemetry/api` is an optional peer dependency: only this entry point imports it.
// Attributes carry a token's fingerprint, never the token.
import {
  context, metrics, trace, SpanKind, SpanStatusCode,
  type Attributes, type HrTime, type MeterProvider, type ObservableResult, type TracerProvider,
} from '@opentelemetry/api'
import type { BreakerState } from './breaker.js'
import {
  channels,
  type BreakerMessage, type DiagnosticsChannel, type FetchMessage, type ProviderCallMessage, type RevalidationMessage, type ValidationMessage,
} from './diagnostics.js'

export interface InstrumentOptions {
  /** Where spans go. Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider
  /** Where metrics go. Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider
}

/** The instrumentation scope of every span and metric. */
export const INSTRUMENTATION_NAME = 'fastify-token-auth'

/** Attribute names of our own (OpenTelemetry semantic conventions where one exists: `error.type`, `http.*`, `url.*`, `server.*`). */
export const ATTRIBUTES = Object.freeze({
  provider: 'token_auth.provider',
  fingerprint: 'token_auth.token.fingerprint',
  outcome: 'token_auth.outcome',
  cache: 'token_auth.cache',
  cacheResult: 'token_auth.cache.result',
  attempt: 'token_auth.attempt',
  breakerState: 'token_auth.breaker.state',
  document: 'token_auth.fetch.document',
})

// Seconds, as the semantic conventions want durations; the HTTP client buckets.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open']
// Answered from the cache; every other result asked (or would have asked) the identity provider.
const CACHED = new Set<string>(['hit', 'negative'])

/** An epoch time in ms with a fraction, as OpenTelemetry's [seconds, nanoseconds]. */
function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000)
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)]
}

/** A span for an operation that just ended and took `durationMs`, under the context active where it was published. */
function endedSpan(tracer: ReturnType<TracerProvider['getTracer']>, name: string, kind: SpanKind, durationMs: number, attributes: Attributes, error: string | undefined): void {
  const end = performance.timeOrigin + performance.now()
  const span = tracer.startSpan(name, { kind, startTime: hrTime(end - durationMs), attributes }, context.active())
  if (error !== undefined) {
    span.setAttribute('error.type', error)
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end(hrTime(end))
}

/** The outage a failure key stands for (a refused token is an answer, not an error of the operation). */
const outage = (outcome: string): string | undefined => (outcome === 'provider_unavailable' ? outcome : undefined)

function checkOptions(options: unknown): InstrumentOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('instrument: options must be an object')
  for (const name of Object.keys(options)) {
    if (name !== 'tracerProvider' && name !== 'meterProvider') throw new TypeError(`instrument: unknown option "${name}"`)
  }
  const { tracerProvider, meterProvider } = options as InstrumentOptions
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== 'function') throw new TypeError('instrument: tracerProvider must have getTracer()')
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== 'function') throw new TypeError('instrument: meterProvider must have getMeter()')
  return { tracerProvider, meterProvider }
}

/**
 * Starts sending this library's spans and metrics to OpenTelemetry; returns the function that
 * stops it. Spans are made when an operation ends, with its real start and end times, as
 * children of the span active where it ran (the request's, with an HTTP instrumentation).
 */
export function instrument(options: InstrumentOptions = {}): () => void {
  const { tracerProvider = trace.getTracerProvider(), meterProvider = metrics.getMeterProvider() } = checkOptions(options)
  const tracer = tracerProvider.getTracer(INSTRUMENTATION_NAME)
  const meter = meterProvider.getMeter(INSTRUMENTATION_NAME)

  const validations = meter.createCounter('token_auth.validations', {
    unit: '{validation}', description: 'Tokens validated, by outcome (accepted or the failure key) and where the answer came from',
  })
  const lookups = meter.createCounter('token_auth.cache.lookups', {
    unit: '{lookup}', description: 'Cache lookups by result (hit: answered from the cache; miss: asked the identity provider)',
  })
  const callDuration = meter.createHistogram('token_auth.provider.call.duration', {
    unit: 's', description: 'Duration of each attempt to validate a token at the identity provider', advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  })
  const fetchDuration = meter.createHistogram('token_auth.fetch.duration', {
    unit: 's', description: 'Duration of each fetch of a JWKS or discovery document', advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  })
  const revalidations = meter.createCounter('token_auth.revalidations', {
    unit: '{token}', description: 'Cached tokens checked again in the background, by outcome',
  })
  const breakerGauge = meter.createObservableGauge('token_auth.breaker.state', {
    unit: '1', description: 'Circuit breaker state per provider: 1 for the current state, 0 for the others',
  })
  const breakers = new Map<string, BreakerState>()
  const observeBreakers = (result: ObservableResult): void => {
    for (const [provider, current] of breakers) {
      for (const state of BREAKER_STATES) result.observe(state === current ? 1 : 0, { [ATTRIBUTES.provider]: provider, [ATTRIBUTES.breakerState]: state })
    }
  }
  breakerGauge.addCallback(observeBreakers)

  const onValidation = ({ provider, token, outcome, cache, durationMs }: ValidationMessage): void => {
    validations.add(1, { [ATTRIBUTES.provider]: provider, [ATTRIBUTES.outcome]: outcome, [ATTRIBUTES.cache]: cache })
    lookups.add(1, { [ATTRIBUTES.provider]: provider, [ATTRIBUTES.cacheResult]: CACHED.has(cache) ? 'hit' : 'miss' })
    endedSpan(tracer, 'token_auth.validate', SpanKind.INTERNAL, durationMs, {
      [ATTRIBUTES.provider]: provider, [ATTRIBUTES.fingerprint]: token, [ATTRIBUTES.outcome]: outcome, [ATTRIBUTES.cache]: cache,
    }, outage(outcome))
  }
  const onProviderCall = ({ provider, token, attempt, outcome, durationMs }: ProviderCallMessage): void => {
    if (!breakers.has(provider)) breakers.set(provider, 'closed')
    const error = outage(outcome)
    const attributes: Attributes = { [ATTRIBUTES.provider]: provider, [ATTRIBUTES.outcome]: outcome, [ATTRIBUTES.attempt]: attempt }
    callDuration.record(durationMs / 1000, error === undefined ? attributes : { ...attributes, 'error.type': error })
    endedSpan(tracer, 'token_auth.provider_call', SpanKind.INTERNAL, durationMs, { ...attributes, [ATTRIBUTES.fingerprint]: token }, error)
  }
  const onBreaker = ({ provider, to }: BreakerMessage): void => {
    breakers.set(provider, to)
  }
  const onRevalidation = ({ provider, outcome }: RevalidationMessage): void => {
    revalidations.add(1, { [ATTRIBUTES.provider]: provider, [ATTRIBUTES.outcome]: outcome })
  }
  const onFetch = ({ what, url, status, error, durationMs }: FetchMessage): void => {
    const where = new URL(url)
    const failure = error ?? (status !== undefined && status >= 400 ? String(status) : undefined)
    const attributes: Attributes = {
      [ATTRIBUTES.document]: what, 'http.request.method': 'GET',
      'server.address': where.hostname, 'server.port': Number(where.port || (where.protocol === 'https:' ? 443 : 80)),
      ...(status === undefined ? {} : { 'http.response.status_code': status }),
      ...(failure === undefined ? {} : { 'error.type': failure }),
    }
    fetchDuration.record(durationMs / 1000, attributes)
    endedSpan(tracer, 'token_auth.fetch', SpanKind.INTERNAL, durationMs, { ...attributes, 'url.full': url }, failure)
  }

  const subscriptions: Array<() => void> = []
  // Telemetry must never break a request: a listener that throws would surface as an uncaught
  // exception from diagnostics_channel, so each one swallows its own errors.
  const listen = <M>(channel: DiagnosticsChannel<M>, listener: (message: M) => void): void => {
    const guarded = (message: M): void => {
      try {
        listener(message)
      } catch {
        // dropped: a span or a data point is lost, never a request
      }
    }
    channel.subscribe(guarded)
    subscriptions.push(() => channel.unsubscribe(guarded))
  }
  listen(channels.validation, onValidation)
  listen(channels.providerCall, onProviderCall)
  listen(channels.breaker, onBreaker)
  listen(channels.revalidation, onRevalidation)
  listen(channels.fetch, onFetch)

  let active = true
  return function uninstrument(): void {
    if (!active) return
    active = false
    for (const unsubscribe of subscriptions) unsubscribe()
    breakerGauge.removeCallback(observeBreakers)
  }
}
