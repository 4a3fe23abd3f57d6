/**
 * concurrent: 10,000 orchestrations running at once. Each calls one activity and then waits for an
 * event; once all 10,000 wait, each gets its event and completes. Reports the seconds until all
 * wait, the total, the process's RSS while all 10,000 wait and its peak: the memory bound of many
 * running orchestrations (the executor cache's count, executorCacheSize, plus the steps in flight).
 */
import { performance } from "node:perf_hooks";
import { CallCounter, check, diagnostics, MB, RssSampler, scaled, startHost, verifyAllCompleted, type Workload } from "../harness.js";

export const concurrent: Workload = {
  name: "concurrent",
  summary: "10,000 orchestrations running at once, each past an activity and waiting for an event (s, RSS while all wait, peak RSS)",
  async run({ store, scale, timeoutMs }) {
    const n = scaled(10_000, scale);
    const calls = new CallCounter<number>();
    const bench = await startHost(store, (app) => {
      app.activity("bench_first", {
        handler: (i: number) => {
          calls.hit(i);
          return i;
        },
      });
      app.orchestration("bench_waiter", function* (ctx) {
        const i = (yield ctx.df.callActivity("bench_first", ctx.df.getInput<number>())) as number;
        const go = (yield ctx.df.waitForExternalEvent("go")) as number;
        return i + go;
      });
    });
    try {
      const ids = Array.from({ length: n }, (_, i) => `concurrent-${i}`);
      const rss = new RssSampler(20);
      const start = performance.now();
      for (let i = 0; i < n; i++) await bench.host.client.startNew("bench_waiter", { instanceId: ids[i]!, input: i });
      // All wait once every activity ran and no step is left: the activities' results are recorded
      // in the step that then waits.
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const backlog = await bench.host.provider.workCounts(Date.now());
        if (calls.total === n && backlog.orchestrations === 0 && backlog.activities === 0 && bench.host.worker.isIdle) break;
        check(Date.now() < deadline, () => `concurrent: ${calls.total} of ${n} activities ran within ${timeoutMs} ms.`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const allWaiting = performance.now();
      const rssWaiting = process.memoryUsage.rss();
      for (const id of ids) await bench.host.client.raiseEvent(id, "go", 1);
      await bench.tap.waitForCount(n, timeoutMs).finally(() => rss.stop());
      const { peakBytes } = rss.stop();
      const seconds = (bench.tap.lastAt() - start) / 1000;

      await verifyAllCompleted(bench, new Map(ids.map((id, i) => [id, i + 1])), "concurrent");
      calls.exactlyOnce(
        ids.map((_, i) => i),
        "concurrent activities",
      );
      return {
        measurements: [
          { metric: "seconds to all waiting", value: (allWaiting - start) / 1000, unit: "s", better: "lower" },
          { metric: "seconds", value: seconds, unit: "s", better: "lower" },
          { metric: "RSS, all waiting", value: rssWaiting / MB, unit: "MB", better: "lower" },
          { metric: "peak RSS", value: peakBytes / MB, unit: "MB", better: "lower" },
        ],
        params: { orchestrations: n, executorCacheSize: 5_000 },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};
