/**
 * timers: 1,000 orchestrations each waiting on a 1 s durable timer. Lateness is the orchestration's
 * currentUtcDateTime right after the timer (the time of the step that received TimerFired) minus the
 * timer's fireAt. A negative lateness means a timer fired early: that fails the run.
 */
import { performance } from "node:perf_hooks";
import { check, diagnostics, percentile, scaled, startHost, type Workload } from "../harness.js";

const DELAY_MS = 1000;

interface TimerOutput {
  fireAt: string;
  firedAt: string;
}

export const timers: Workload = {
  name: "timers",
  summary: "1,000 orchestrations each waiting on a 1 s durable timer (p50/p99 lateness ms)",
  // Lateness is how long the host takes to run the steps of timers that fire together, so a cold JIT
  // shows in it: on SQLite p50 12 ms and p99 27 ms in a fresh process, 5 and 15 after warm-up passes.
  warms: true,
  async run({ store, scale, timeoutMs }) {
    const n = scaled(1000, scale);
    const bench = await startHost(store, (app) => {
      app.orchestration("bench_timer", function* (ctx) {
        const fireAt = new Date(ctx.df.currentUtcDateTime.getTime() + DELAY_MS);
        yield ctx.df.createTimer(fireAt);
        return { fireAt: fireAt.toISOString(), firedAt: ctx.df.currentUtcDateTime.toISOString() } satisfies TimerOutput;
      });
    });
    try {
      const ids = Array.from({ length: n }, (_, i) => `timers-${i}`);
      const start = performance.now();
      await Promise.all(ids.map((id) => bench.host.client.startNew("bench_timer", { instanceId: id })));
      const startAllMs = performance.now() - start;
      await bench.tap.waitForCount(n, timeoutMs + DELAY_MS);

      const statuses = await bench.host.client.getStatusBy({ showInput: false });
      check(statuses.length === n, () => `timers: ${statuses.length} instances, expected ${n}.`);
      const lateness: number[] = [];
      const toCommit: number[] = [];
      for (const s of statuses) {
        check(s.runtimeStatus === "Completed", () => `timers: instance '${s.instanceId}' is ${s.runtimeStatus}.${bench.logger.summary()}`);
        const out = s.output as TimerOutput;
        const fireAt = Date.parse(out.fireAt);
        const firedAt = Date.parse(out.firedAt);
        check(Number.isFinite(fireAt) && Number.isFinite(firedAt), () => `timers: instance '${s.instanceId}' returned ${JSON.stringify(out)}.`);
        check(firedAt >= fireAt, () => `timers: instance '${s.instanceId}' resumed ${fireAt - firedAt} ms BEFORE its timer was due (fireAt ${out.fireAt}, resumed ${out.firedAt}).`);
        lateness.push(firedAt - fireAt);
        toCommit.push(bench.tap.completions.get(s.instanceId)!.wallAt - fireAt);
      }
      return {
        measurements: [
          { metric: "lateness p50", value: percentile(lateness, 50), unit: "ms", better: "lower" },
          { metric: "lateness p99", value: percentile(lateness, 99), unit: "ms", better: "lower" },
          { metric: "lateness max", value: Math.max(...lateness), unit: "ms", better: "lower" },
          { metric: "fireAt→commit p99", value: percentile(toCommit, 99), unit: "ms", better: "lower" },
        ],
        params: { orchestrations: n, delayMs: DELAY_MS, startAllMs: Math.round(startAllMs) },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};
