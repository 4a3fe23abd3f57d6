import { type Attributes, type Context, context as otelContext, isSpanContextValid, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer, type TracerProvider } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { TraceContext } from "../core/history.js";

export { SpanKind };
export type { Context, Span };

/** Where Perdure's spans go. Default: the global OpenTelemetry API (a no-op until an SDK is registered). */
export interface TelemetryOptions {
  tracerProvider?: TracerProvider;
}

const propagator = new W3CTraceContextPropagator();
type Carrier = Record<string, string>;
const setter = { set: (c: Carrier, k: string, v: string) => void (c[k] = v) };
const getter = { get: (c: Carrier, k: string) => c[k], keys: (c: Carrier) => Object.keys(c) };

/**
 * Perdure's tracing: spans through `@opentelemetry/api`, trace context carried in W3C form with
 * events and messages (so a trace goes on across hosts that share a store). Without an SDK the
 * API hands out non-recording spans and nothing is carried.
 */
export class Telemetry {
  readonly tracer: Tracer;

  constructor(options: TelemetryOptions = {}) {
    // The global tracer is a proxy: an SDK registered after the host was created is still used.
    this.tracer = options.tracerProvider ? options.tracerProvider.getTracer("perdure") : trace.getTracer("perdure");
  }

  /** The context the caller runs in (needs a context manager, which the OpenTelemetry SDK registers). */
  active(): Context {
    return otelContext.active();
  }

  /** The trace context of `ctx` as stored with events and messages; undefined when nothing is traced. */
  carry(ctx: Context): TraceContext | undefined {
    const c: Carrier = {};
    propagator.inject(ctx, c, setter);
    if (!c.traceparent) return undefined;
    return c.tracestate ? { traceparent: c.traceparent, tracestate: c.tracestate } : { traceparent: c.traceparent };
  }

  /** The context a stored trace context continues (the root when there is none). */
  resume(t: TraceContext | Readonly<Record<string, string>> | undefined): Context {
    if (!t || typeof t.traceparent !== "string") return ROOT_CONTEXT;
    const c: Carrier = { traceparent: t.traceparent };
    if (typeof t.tracestate === "string") c.tracestate = t.tracestate;
    return propagator.extract(ROOT_CONTEXT, c, getter);
  }

  start(name: string, parent: Context, kind: SpanKind, attributes: Attributes, startTime?: number): Span {
    return this.tracer.startSpan(name, startTime === undefined ? { kind, attributes } : { kind, attributes, startTime }, parent);
  }

  /** Runs `fn` with `span` as the active span, so what it calls (the client, user code) nests under it. */
  within<T>(span: Span, parent: Context, fn: () => T): T {
    // Without an SDK the span is a no-op with no context to pass on: no context to build either.
    if (!isSpanContextValid(span.spanContext())) return fn();
    return otelContext.with(trace.setSpan(parent, span), fn);
  }

  /** The trace context of `span` as stored with events and messages (undefined: nothing traced). */
  carrySpan(span: Span, parent: Context): TraceContext | undefined {
    if (!isSpanContextValid(span.spanContext())) return undefined;
    return this.carry(trace.setSpan(parent, span));
  }
}

/** Ends a span, as failed when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    // What user code throws may be hostile (a throwing getter, a proxy): describing it must not throw.
    try {
      const message = error instanceof Error ? error.message : typeof error === "string" ? error : "failed";
      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof message === "string" ? message : "failed" });
      if (error instanceof Error) span.recordException(error);
    } catch {
      span.setStatus({ code: SpanStatusCode.ERROR, message: "failed" });
    }
  }
  span.end();
}

export const defaultTelemetry = new Telemetry();

/** The caller's trace context as it is stored with an event or a message (undefined: none). */
export function carryActive(): TraceContext | undefined {
  return defaultTelemetry.carry(otelContext.active());
}

/** The caller's trace context as HTTP headers (`traceparent`, `tracestate`). */
export function traceHeaders(): Record<string, string> {
  const t = carryActive();
  if (!t) return {};
  return t.tracestate ? { traceparent: t.traceparent, tracestate: t.tracestate } : { traceparent: t.traceparent };
}
