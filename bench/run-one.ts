/** One run of one workload on one fresh store, in this process. */
import { performance } from "node:perf_hooks";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { BenchTimeoutError, openStore, type RunContext, SkipError, type StoreKind, VerificationError, type WorkloadResult } from "./harness.js";
import { WORKLOADS } from "./workloads/index.js";

export interface RunSpec {
  workload: string;
  store: StoreKind;
  scale: number;
  timeoutMs: number;
  /** With an OpenTelemetry SDK registered: spans go through a batch processor into memory. */
  tracing?: boolean;
}

export type RunOutcome =
  | { kind: "ok"; result: WorkloadResult; wallMs: number; storeUrl: string }
  | { kind: "skipped"; reason: string }
  | { kind: "error"; message: string; failure: Failure };

/** How a run failed: it computed something wrong, its orchestrations did not finish in time, or it crashed. */
export type Failure = "WRONG RESULT" | "TIMED OUT" | "CRASHED";

export async function runOne(spec: RunSpec, log: (m: string) => void = () => undefined): Promise<RunOutcome> {
  const workload = WORKLOADS.find((w) => w.name === spec.workload);
  if (!workload) return { kind: "error", message: `Unknown workload '${spec.workload}'.`, failure: "CRASHED" };
  const store = openStore(spec.store);
  const tracing = spec.tracing ? registerTracing() : undefined;
  (globalThis as { gc?: () => void }).gc?.();
  const ctx: RunContext = { store, scale: spec.scale, timeoutMs: spec.timeoutMs, log };
  const t0 = performance.now();
  try {
    await store.ready();
    const result = await workload.run(ctx);
    if (tracing) result.params = { ...result.params, spans: await tracing.spans() };
    return { kind: "ok", result, wallMs: performance.now() - t0, storeUrl: store.url };
  } catch (err) {
    if (err instanceof SkipError) return { kind: "skipped", reason: err.message };
    const e = err as Error;
    if (err instanceof VerificationError) return { kind: "error", message: e.message, failure: "WRONG RESULT" };
    if (err instanceof BenchTimeoutError) return { kind: "error", message: e.message, failure: "TIMED OUT" };
    return { kind: "error", message: e.stack ?? String(err), failure: "CRASHED" };
  } finally {
    await store.cleanup();
    await tracing?.shutdown();
  }
}

/** What an application's OpenTelemetry set-up does: a context manager and a tracer provider, globally. */
function registerTracing(): { spans(): Promise<number>; shutdown(): Promise<void> } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return {
    spans: async () => {
      await provider.forceFlush();
      return exporter.getFinishedSpans().length;
    },
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
