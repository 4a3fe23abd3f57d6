/** One run of one workload on one fresh store, in this process. */
import { performance } from "node:perf_hooks";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { BenchTimeoutError, openStore, type RunContext, SkipError, type StoreKind, VerificationError, type Workload, type WorkloadResult } from "./harness.js";
import { WORKLOADS } from "./workloads/index.js";

export interface RunSpec {
  workload: string;
  store: StoreKind;
  scale: number;
  timeoutMs: number;
  /** With an OpenTelemetry SDK registered: spans go through a batch processor into memory. */
  tracing?: boolean;
  /** Untimed passes of the workload (each on a fresh store) before the measured one, for workloads that warm (default 0). */
  warmup?: number;
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
  const tracing = spec.tracing ? registerTracing() : undefined;
  // The JIT compiles the hot path over the first thousands of steps (a cold pass of hello5 runs at a
  // third of the speed of the fourth): what a host that has been serving does is measured after them.
  // Warm-up passes run at the PERF.md size at most: that warms the JIT as well, and a bigger one
  // (fanout --scale 10: 100,000 activities a pass) would leave its heap behind in the peak RSS of
  // the pass that is measured.
  const passes = workload.warms ? (spec.warmup ?? 0) : 0;
  const warmSpec = { ...spec, scale: workload.warmupScale ?? Math.min(spec.scale, 1) };
  for (let pass = 1; pass <= passes; pass++) {
    const warm = await runPass(workload, warmSpec, log, pass === 1);
    if (warm.kind !== "ok") {
      await tracing?.shutdown();
      return warm.kind === "error" ? { ...warm, message: `warm-up pass ${pass}: ${warm.message}` } : warm;
    }
  }
  try {
    return await runPass(workload, spec, log, passes === 0);
  } finally {
    await tracing?.shutdown();
  }
}

/**
 * One pass of a workload on a fresh store. `collect`: a full garbage collection first, for the first
 * pass of a run only: it also shrinks the young generation to its minimum, and a pass that starts
 * from there runs at half the speed of one on a heap sized by the passes before (as a serving host's is).
 */
async function runPass(workload: Workload, spec: RunSpec, log: (m: string) => void, collect: boolean): Promise<RunOutcome> {
  const store = openStore(spec.store);
  activeTracing?.reset();
  if (collect) (globalThis as { gc?: () => void }).gc?.();
  const ctx: RunContext = { store, scale: spec.scale, timeoutMs: spec.timeoutMs, log };
  const t0 = performance.now();
  try {
    await store.ready();
    const result = await workload.run(ctx);
    if (activeTracing) result.params = { ...result.params, spans: await activeTracing.spans() };
    return { kind: "ok", result, wallMs: performance.now() - t0, storeUrl: store.url };
  } catch (err) {
    if (err instanceof SkipError) return { kind: "skipped", reason: err.message };
    const e = err as Error;
    if (err instanceof VerificationError) return { kind: "error", message: e.message, failure: "WRONG RESULT" };
    if (err instanceof BenchTimeoutError) return { kind: "error", message: e.message, failure: "TIMED OUT" };
    return { kind: "error", message: e.stack ?? String(err), failure: "CRASHED" };
  } finally {
    await store.cleanup();
  }
}

/** What an application's OpenTelemetry set-up does: a context manager and a tracer provider, globally. */
/** The registered SDK's exporter, read by the measured pass (a warm-up's spans are dropped first). */
let activeTracing: { spans(): Promise<number>; reset(): void } | undefined;

function registerTracing(): { spans(): Promise<number>; reset(): void; shutdown(): Promise<void> } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  const registered = {
    spans: async () => {
      await provider.forceFlush();
      return exporter.getFinishedSpans().length;
    },
    reset: () => exporter.reset(),
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      activeTracing = undefined;
    },
  };
  activeTracing = registered;
  return registered;
}
