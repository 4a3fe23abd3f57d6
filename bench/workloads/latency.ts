/**
 * latency: 200 single-activity orchestrations, one at a time, on an otherwise idle host. Each sample
 * runs from just before startNew to the commit of the orchestration's final step (seen by the
 * completion tap, so no polling interval is added). Uncounted runs come first (see uncountedRuns).
 */
import { statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { CallCounter, diagnostics, percentile, scaled, startHost, verifyAllCompleted, type Workload } from "../harness.js";

const WARMUP = 10;
/** A backstop for a WAL that never restarts (it restarts after about 360 runs). */
const MAX_UNCOUNTED = 5_000;

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
      const once = async (i: number): Promise<number> => {
        const id = `latency-${i}`;
        expected.set(id, i * 2);
        const start = performance.now();
        await bench.host.client.startNew("bench_latency", { instanceId: id, input: i });
        return (await bench.tap.waitFor(id, timeoutMs)).at - start;
      };
      const uncounted = uncountedRuns(store.sqlite && `${store.sqlite.file}-wal`);
      let i = 0;
      while (!uncounted.done(i)) await once(i++);
      for (let n = 0; n < runs; n++) samples.push(await once(i++));
      await verifyAllCompleted(bench, expected, "latency");
      calls.exactlyOnce(
        Array.from({ length: i }, (_, k) => k),
        "latency activities",
      );
      return {
        measurements: [
          { metric: "p50", value: percentile(samples, 50), unit: "ms", better: "lower" },
          { metric: "p99", value: percentile(samples, 99), unit: "ms", better: "lower" },
          { metric: "max", value: Math.max(...samples), unit: "ms", better: "lower" },
        ],
        params: { runs, uncounted: i - runs, ...(uncounted.wal ? { wal: uncounted.wal } : {}) },
        diagnostics: diagnostics(bench),
      };
    } finally {
      await bench.stop();
    }
  },
};

/**
 * The runs before the counted ones: 10, and on SQLite as many as it takes for the store's WAL to
 * be checkpointed and start again from its beginning (about 360 runs at 26 pages each against the
 * provider's checkpoint at 10,000 pages).
 *
 * A database file that is new grows its WAL with every commit until the first checkpoint, and
 * writing past the end of a file costs ext4 about twice as much per page as writing over it: p50
 * was 0.34 ms on a new file and 0.23 ms once the WAL had restarted (8 alternating passes in one
 * process). A host that has been serving writes over its WAL; a new file is a cost of the first
 * 40 MB after a start, as the cold JIT is of the first thousands of steps. Other stores, and
 * SQLite on a file system that does not show it, need no more than the 10.
 */
function uncountedRuns(walFile: string | undefined): { done: (runs: number) => boolean; wal?: "growing" | "restarted" } {
  if (!walFile) return { done: (runs) => runs >= WARMUP };
  let lastSize = -1;
  const state: { done: (runs: number) => boolean; wal: "growing" | "restarted" } = {
    wal: "growing",
    done: (runs) => {
      if (runs >= MAX_UNCOUNTED) return true;
      const size = statSync(walFile, { throwIfNoEntry: false })?.size ?? 0;
      // Every commit appends to a growing WAL; a run that leaves it no longer is writing over it.
      if (lastSize > 0 && size <= lastSize) state.wal = "restarted";
      lastSize = size;
      return runs >= WARMUP && state.wal === "restarted";
    },
  };
  return state;
}
