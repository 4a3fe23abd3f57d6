/**
 * sequence: one orchestration of 2,000 sequential no-op activities. Each activity records when it is
 * called; the step time is the interval between consecutive calls, over the first and the last 200
 * steps. A ratio near 1 means a step does not get slower as the history grows.
 */
import { performance } from "node:perf_hooks";
import { CallCounter, check, diagnostics, median, scaled, startHost, verifyAllCompleted, type Workload } from "../harness.js";

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

export const sequence: Workload = {
  name: "sequence",
  summary: "one orchestration of 2,000 sequential no-op activities (ms per step, first vs last 200)",
  warms: true,
  async run({ store, scale, timeoutMs }) {
    const steps = scaled(2000, scale, 20);
    const window = Math.min(scaled(200, scale, 5), Math.floor(steps / 2));
    const calledAt = new Float64Array(steps);
    const calls = new CallCounter<number>();
    const bench = await startHost(store, (app) => {
      app.activity("bench_step", {
        handler: (i: number) => {
          calledAt[i] = performance.now();
          calls.hit(i);
          return i;
        },
      });
      app.orchestration("bench_sequence", function* (ctx) {
        const total = ctx.df.getInput<number>();
        let sum = 0;
        for (let i = 0; i < total; i++) sum += (yield ctx.df.callActivity("bench_step", i)) as number;
        return { steps: total, sum };
      });
    });
    try {
      const id = "sequence-0";
      const stats = bench.host.provider.stats;
      const writesBefore = stats?.writeTransactions ?? 0;
      const start = performance.now();
      await bench.host.client.startNew("bench_sequence", { instanceId: id, input: steps });
      const done = await bench.tap.waitFor(id, timeoutMs);
      const seconds = (done.at - start) / 1000;
      // Every write transaction from the start to the last commit (the start and the first lock included).
      const writesPerStep = stats ? (stats.writeTransactions - writesBefore) / steps : undefined;

      await verifyAllCompleted(bench, new Map([[id, { steps, sum: (steps * (steps - 1)) / 2 }]]), "sequence");
      calls.exactlyOnce(
        Array.from({ length: steps }, (_, i) => i),
        "sequence activities",
      );
      for (let i = 1; i < steps; i++) check(calledAt[i]! >= calledAt[i - 1]!, () => `sequence: step ${i} ran before step ${i - 1}.`);
      const first = (calledAt[window]! - calledAt[0]!) / window;
      const last = (calledAt[steps - 1]! - calledAt[steps - 1 - window]!) / window;
      // Medians of the single intervals: insensitive to a GC pause or a noisy neighbour (kept in params).
      const intervals = (from: number): number[] => Array.from({ length: window }, (_, k) => calledAt[from + k + 1]! - calledAt[from + k]!);
      const medianFirst = median(intervals(0));
      const medianLast = median(intervals(steps - 1 - window));
      return {
        measurements: [
          { metric: `ms/step first ${window}`, value: first, unit: "ms", better: "lower" },
          { metric: `ms/step last ${window}`, value: last, unit: "ms", better: "lower" },
          { metric: "last/first ratio", value: last / first, unit: "x", better: "lower" },
          { metric: "steps/s", value: steps / seconds, unit: "steps/s", better: "higher" },
          ...(writesPerStep === undefined ? [] : [{ metric: "write tx/step", value: writesPerStep, unit: "tx", better: "lower" as const }]),
        ],
        params: { steps, window, medianStepFirstMs: round3(medianFirst), medianStepLastMs: round3(medianLast), medianRatio: round3(medianLast / medianFirst) },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};
