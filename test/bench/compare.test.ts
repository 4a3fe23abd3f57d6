/**
 * `npm run bench -- --compare <file>`: a saved run's medians against this run's; a metric more
 * than 10 % worse is flagged and the command exits with status 3.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { compareMedians, readBaseline } from "../../bench/compare.js";

const line = (session: string, metric: string, value: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ time: session, session, workload: "hello5", store: "memory", tracing: false, run: 1, metric, value, unit: "x", scale: 1, ...extra });

describe("bench --compare", () => {
  const dir = mkdtempSync(join(tmpdir(), "perdure-bench-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("takes the median of the newest session that measured each metric, and ignores what is not a measurement", () => {
    const text = [
      line("s1", "orchestrations/s", 100),
      line("s1", "orchestrations/s", 300),
      line("s1", "seconds", 2),
      line("s2", "orchestrations/s", 1000),
      line("s2", "orchestrations/s", 2000),
      line("s2", "orchestrations/s", 1500),
      // A warm process (3 untimed passes first) is a different measurement from a cold one.
      line("s2", "orchestrations/s", 9000, { warmup: 3 }),
      // So is the compiled engine against the TypeScript sources (lines without `engine` ran the sources).
      line("s2", "orchestrations/s", 12000, { warmup: 3, engine: "compiled" }),
      JSON.stringify({ session: "s2", workload: "hello5", store: "memory", run: 2, failure: "TIMED OUT" }),
      JSON.stringify({ session: "s2", workload: "limit", store: "memory", metric: "engine/raw", value: 1, derived: "x" }),
      "",
    ].join("\n");
    const b = readBaseline(text, "saved.jsonl");
    assert.equal(b.sessions, 2);
    const cmp = compareMedians(b, [
      { workload: "hello5", store: "memory", tracing: false, metric: "orchestrations/s", scale: 1, median: 1340, better: "higher" },
      { workload: "hello5", store: "memory", tracing: false, metric: "seconds", scale: 1, median: 2.2, better: "lower" },
      { workload: "hello5", store: "memory", tracing: false, metric: "seconds", scale: 0.1, median: 9, better: "lower" },
      { workload: "hello5", store: "memory", tracing: true, metric: "orchestrations/s", scale: 1, median: 1, better: "higher" },
      { workload: "hello5", store: "memory", tracing: false, metric: "orchestrations/s", scale: 1, warmup: 3, median: 9500, better: "higher" },
      { workload: "hello5", store: "memory", tracing: false, metric: "orchestrations/s", scale: 1, warmup: 2, median: 1, better: "higher" },
      { workload: "hello5", store: "memory", tracing: false, metric: "orchestrations/s", scale: 1, warmup: 3, engine: "compiled", median: 10000, better: "higher" },
    ]);
    // 1340 against 1500: 10.7 % worse. 2.2 s against 2 s: exactly 10 % slower, not more.
    assert.deepEqual(
      cmp.map((c) => [c.key.metric, c.before, c.now, Math.round(c.gain * 1000) / 1000, c.worse]),
      [
        ["orchestrations/s", 1500, 1340, -0.107, true],
        ["seconds", 2, 2.2, -0.1, false],
        ["orchestrations/s", 9000, 9500, 0.056, false],
        ["orchestrations/s", 12000, 10000, -0.167, true],
      ],
    );
  });

  it("refuses a file that is not a saved run, saying what to pass", () => {
    assert.throws(() => readBaseline("not json\n", "x.jsonl"), /^Error: x\.jsonl:1 is not a JSON line of a saved bench run; pass a file that npm run bench wrote/);
    assert.throws(() => readBaseline(`${JSON.stringify({ session: "s", workload: "w", store: "memory", skipped: "no server" })}\n`, "y.jsonl"), /y\.jsonl holds no measurements/);
  });

  it("flags a workload more than 10 % worse than the saved run and exits 3; passes against a slower one", { timeout: 120_000 }, () => {
    const run = (saved: number): { status: number | null; out: string } => {
      const file = join(dir, `saved-${saved}.jsonl`);
      // Saved by a run with the default warm-up (3 passes), as the run here does; a cold line beside it is not compared.
      writeFileSync(file, `${line("saved", "orchestrations/s", saved, { scale: 0.02, warmup: 3 })}\n${line("saved", "seconds", 1e-9, { scale: 0.02 })}\n`);
      const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "-w", "hello5", "-s", "memory", "--runs", "1", "--scale", "0.02", "--no-save", "--compare", file], { encoding: "utf8" });
      return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
    };
    const faster = run(1e9);
    assert.equal(faster.status, 3, faster.out);
    assert.match(faster.out, /hello5\s+memory\s+orchestrations\/s\s+1,000,000,000\s+[\d,.]+\s+-\d+\.\d % +WORSE by more than 10 %/);
    assert.match(faster.out, /1 metric\(s\) more than 10 % worse than /);
    const slower = run(1);
    assert.equal(slower.status, 0, slower.out);
    assert.doesNotMatch(slower.out, /WORSE/);
    const bad = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--compare", join(dir, "missing.jsonl")], { encoding: "utf8" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--compare: cannot read .*missing\.jsonl .*pass a file that npm run bench wrote/);
  });
});
