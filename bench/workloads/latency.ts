/**
 * latency: 200 single-activity orchestrations, one at a time, on an otherwise idle host. Each sample
 * runs from just before startNew to the commit of the orchestration's final step (seen by the
 * completion tap, so no polling interval is added). A few warm-up runs are not counted.
 */
import { performance } from "node:perf_hooks";
import { CallCounter, diagnostics, percentile, scaled, startHost, verifyAllCompleted, type Workload } from "../harness.js";

const WARMUP = 10;

export const latency: Workload = {
  name: "latency",
  summary: "200 single-activity orchestrations run one at a time (p50/p99 start-to-completion ms)",
  // Its own 10 uncounted runs did not warm the JIT: in a fresh process p50 was 0.55-0.6 ms on SQLite
  // where a host that had served a few thousand orchestrations answered in 0.36 ms. A warm-up pass
  // runs 1,000 (three of them start as many orchestrations as three passes of hello5).
  warms: true,
  warmupScale: 5,
  async run({ store, scale, timeoutMs }) {
    const runs = scaled(200, scale, 10);
    const calls = new CallCounter<number>();
    const bench = await startHost(store, (app) => {
      app.activity("bench_double", {
        handler: (i: number) => {
          calls.hit(i);
          return i * 2;
        },
      });
      app.orchestration("bench_latency", function* (ctx) {
        const doubled: unknown = yield ctx.df.callActivity("bench_double", ctx.df.getInput<number>());
        return doubled;
      });
    });
    try {
      const expected = new Map<string, unknown>();
      const samples: number[] = [];
      for (let i = 0; i < WARMUP + runs; i++) {
        const id = `latency-${i}`;
        expected.set(id, i * 2);
        const start = performance.now();
        await bench.host.client.startNew("bench_latency", { instanceId: id, input: i });
        const done = await bench.tap.waitFor(id, timeoutMs);
        if (i >= WARMUP) samples.push(done.at - start);
      }
      await verifyAllCompleted(bench, expected, "latency");
      calls.exactlyOnce(
        Array.from({ length: WARMUP + runs }, (_, i) => i),
        "latency activities",
      );
      return {
        measurements: [
          { metric: "p50", value: percentile(samples, 50), unit: "ms", better: "lower" },
          { metric: "p99", value: percentile(samples, 99), unit: "ms", better: "lower" },
          { metric: "max", value: Math.max(...samples), unit: "ms", better: "lower" },
        ],
        params: { runs, warmup: WARMUP },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};
