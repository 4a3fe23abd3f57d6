/**
 * fanout: one orchestration fanning out 10,000 activities (Task.all) and summing their results.
 * Reports seconds from start to completion, activities/s and the peak RSS of the process.
 */
import { performance } from "node:perf_hooks";
import { CallCounter, diagnostics, MB, RssSampler, scaled, startHost, verifyAllCompleted, type Workload } from "../harness.js";
import type { Task } from "../../src/index.js";

export const fanout: Workload = {
  name: "fanout",
  summary: "one orchestration fanning out 10,000 activities and summing the results (s, act/s, peak RSS)",
  warms: true,
  async run({ store, scale, timeoutMs }) {
    const n = scaled(10_000, scale);
    const calls = new CallCounter<number>();
    const bench = await startHost(store, (app) => {
      app.activity("bench_item", {
        handler: (i: number) => {
          calls.hit(i);
          return i;
        },
      });
      app.orchestration("bench_fanout", function* (ctx) {
        const count = ctx.df.getInput<number>();
        const tasks: Task[] = [];
        for (let i = 0; i < count; i++) tasks.push(ctx.df.callActivity("bench_item", i));
        const results = (yield ctx.df.Task.all(tasks)) as number[];
        let sum = 0;
        for (const r of results) sum += r;
        return { count: results.length, sum };
      });
    });
    try {
      const id = "fanout-0";
      const rss = new RssSampler(20);
      const start = performance.now();
      await bench.host.client.startNew("bench_fanout", { instanceId: id, input: n });
      const done = await bench.tap.waitFor(id, timeoutMs).finally(() => rss.stop());
      const { peakBytes, baselineBytes } = rss.stop();
      const seconds = (done.at - start) / 1000;

      await verifyAllCompleted(bench, new Map([[id, { count: n, sum: (n * (n - 1)) / 2 }]]), "fanout");
      calls.exactlyOnce(
        Array.from({ length: n }, (_, i) => i),
        "fanout activities",
      );
      return {
        measurements: [
          { metric: "seconds", value: seconds, unit: "s", better: "lower" },
          { metric: "activities/s", value: n / seconds, unit: "act/s", better: "higher" },
          { metric: "peak RSS", value: peakBytes / MB, unit: "MB", better: "lower" },
          { metric: "RSS growth", value: (peakBytes - baselineBytes) / MB, unit: "MB", better: "lower" },
        ],
        params: { activities: n },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};
