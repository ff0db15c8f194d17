/**
 * OpenTelemetry traces, off unless started: `startTracing()` with OTEL_EXPORTER_OTLP_ENDPOINT (the entry
 * points) or an exporter of the caller's (tests: the SDK's InMemorySpanExporter). Until then every helper
 * here is one boolean check and a direct call: no tracer, no context lookup, and the SDK is never even
 * loaded (it is imported only by startTracing). The entitlement fast path calls none of them.
 *
 * One trace follows a webhook: the request's span, the stripe-events job, the customer-sync job (Stripe
 * calls as its children), the projection write and the feed publish; the trace context travels in job
 * data (`trace`, a W3C traceparent carrier), so a job picked up by another process continues it.
 */
import { context, propagation, trace, SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';

export type TraceCarrier = Record<string, string>;

let enabled = false;
const TRACER_NAME = 'subgate';

export const tracingEnabled = (): boolean => enabled;

export interface TracingHandle {
  forceFlush(): Promise<void>;
  /** Flushes, unregisters everything, and turns the helpers back into direct calls. */
  shutdown(): Promise<void>;
}

/** What an exporter must offer (the SDK's SpanExporter), without importing the SDK's types here. */
export type SpanExporterLike = object;

export async function startTracing(options: { endpoint?: string | undefined; serviceName: string; exporter?: SpanExporterLike }): Promise<TracingHandle | null> {
  if (!options.endpoint && !options.exporter) return null;
  const [sdk, hooks, resources, core] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
  ]);
  let exporter = options.exporter as ConstructorParameters<typeof sdk.SimpleSpanProcessor>[0] | undefined;
  let processor;
  if (exporter) {
    // A caller's exporter (tests) sees each span as it ends.
    processor = new sdk.SimpleSpanProcessor(exporter);
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    exporter = new OTLPTraceExporter({ url: `${options.endpoint!.replace(/\/+$/, '')}/v1/traces` });
    processor = new sdk.BatchSpanProcessor(exporter);
  }
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [processor],
  });
  const contextManager = new hooks.AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  enabled = true;
  return {
    forceFlush: () => provider.forceFlush(),
    async shutdown() {
      enabled = false;
      await provider.shutdown().catch(() => undefined);
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

const KINDS = { server: SpanKind.SERVER, client: SpanKind.CLIENT, consumer: SpanKind.CONSUMER, producer: SpanKind.PRODUCER, internal: SpanKind.INTERNAL } as const;

export interface SpanOptions {
  /** A carrier from job data: the span continues that trace (else the active one, else a new trace). */
  parent?: TraceCarrier | undefined;
  kind?: keyof typeof KINDS;
}

/** Runs `fn` in a span named `name` when tracing is on; else just runs it. */
export function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>, options: SpanOptions = {}): Promise<T> {
  if (!enabled) return fn();
  const parent = options.parent ? propagation.extract(context.active(), options.parent) : context.active();
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind: KINDS[options.kind ?? 'internal'], attributes }, parent, async (span) => {
    try {
      return await fn();
    } catch (err) {
      // BullMQ's DelayedError is how a job is put back (a rate refusal): not a failure of the span's work.
      if ((err as Error)?.name !== 'DelayedError') {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message?.slice(0, 200) ?? 'error' });
      }
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active trace as a carrier for job data, or undefined (tracing off, or no span active). */
export function traceCarrier(): TraceCarrier | undefined {
  if (!enabled) return undefined;
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** `{ trace }` to spread into job data when there is a trace to carry, else `{}`. */
export const traceField = (): { trace?: TraceCarrier } => {
  const carrier = traceCarrier();
  return carrier ? { trace: carrier } : {};
};

/** A job processor whose run is a span continuing the trace its job data carries. */
export function tracedProcessor<J extends { name: string; id?: string | undefined; data: unknown }, Rest extends unknown[], R>(
  queue: string,
  processor: (job: J, ...rest: Rest) => Promise<R>,
): (job: J, ...rest: Rest) => Promise<R> {
  return (job, ...rest) => {
    if (!enabled) return processor(job, ...rest);
    const parent = (job.data as { trace?: TraceCarrier } | null)?.trace;
    return withSpan(
      `${queue} job`,
      { 'messaging.system': 'bullmq', 'messaging.destination.name': queue, 'messaging.message.id': job.id ?? '', 'subgate.job.name': job.name },
      () => processor(job, ...rest),
      { parent, kind: 'consumer' },
    );
  };
}

/** The same object with the named methods each run in a span `<prefix> <method>` (when tracing is on). */
export function tracedMethods<T extends object, K extends keyof T>(target: T, prefix: string, methods: readonly K[], kind: SpanOptions['kind'] = 'client'): T {
  const wrapped: Partial<T> = {};
  for (const method of methods) {
    const original = target[method];
    if (typeof original !== 'function') continue;
    const fn = (original as (...args: unknown[]) => Promise<unknown>).bind(target);
    wrapped[method] = ((...args: unknown[]) => (enabled ? withSpan(`${prefix} ${String(method)}`, {}, () => fn(...args), { kind }) : fn(...args))) as T[K];
  }
  return Object.assign(Object.create(Object.getPrototypeOf(target) as object | null) as T, target, wrapped);
}
