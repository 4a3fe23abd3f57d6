/**
 * hello5 ("HelloCities5"): 1,000 orchestrations started at once, each calling 5 sequential activities
 * that echo their input. Reports the time from the first start to the last completion.
 */
import { performance } from "node:perf_hooks";
import type { DurableApp } from "../../src/index.js";
import { CallCounter, check, diagnostics, scaled, startHost, verifyAllCompleted, type Workload } from "../harness.js";

export const CITIES = ["Tokyo", "Seattle", "London", "Cairo", "Lima"];

/** hello5's functions: `bench_hello5` calls `bench_echo` once per city. */
export function registerHello5(app: DurableApp, onCall: (input: string) => void = () => undefined): void {
  app.activity("bench_echo", {
    handler: (input: string) => {
      onCall(input);
      return input;
    },
  });
  app.orchestration("bench_hello5", function* (ctx) {
    const who = ctx.df.getInput<string>();
    const out: unknown[] = [];
    for (const city of CITIES) out.push(yield ctx.df.callActivity("bench_echo", `${who}:${city}`));
    return out;
  });
}

export const hello5: Workload = {
  name: "hello5",
  summary: "1,000 orchestrations started at once, each 5 sequential echo activities",
  warms: true,
  async run({ store, scale, timeoutMs }) {
    const n = scaled(1000, scale);
    const calls = new CallCounter<string>();
    const bench = await startHost(store, (app) => registerHello5(app, (input) => calls.hit(input)));
    try {
      const expected = new Map<string, unknown>();
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const id = `hello5-${i}`;
        ids.push(id);
        expected.set(id, CITIES.map((c) => `o${i}:${c}`));
      }
      const start = performance.now();
      await Promise.all(ids.map((id, i) => bench.host.client.startNew("bench_hello5", { instanceId: id, input: `o${i}` })));
      const started = performance.now();
      await bench.tap.waitForCount(n, timeoutMs);
      const seconds = (bench.tap.lastAt() - start) / 1000;

      await verifyAllCompleted(bench, expected, "hello5");
      calls.exactlyOnce(
        ids.flatMap((_, i) => CITIES.map((c) => `o${i}:${c}`)),
        "hello5 activities",
      );
      check(bench.tap.completions.size === n, () => `hello5: ${bench.tap.completions.size} completions, expected ${n}.`);
      return {
        measurements: [
          { metric: "seconds", value: seconds, unit: "s", better: "lower" },
          { metric: "orchestrations/s", value: n / seconds, unit: "orch/s", better: "higher" },
          { metric: "activities/s", value: (n * CITIES.length) / seconds, unit: "act/s", better: "higher" },
        ],
        params: { orchestrations: n, activitiesPerOrchestration: CITIES.length, startAllMs: Math.round(started - start) },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};
