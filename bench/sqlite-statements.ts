/**
 * `node --import tsx bench/sqlite-statements.ts [workload] [warm-up passes]`: where a SQLite run's
 * database time goes, statement by statement. Runs the workload (default hello5) in this process on a
 * fresh SQLite file, after the warm-up passes (default 3), with every prepared statement's run/get/all
 * timed; prints the statements by total time, with their count and mean. The timing itself costs
 * about a microsecond a call, so the run is slower than `npm run bench` says: read the shares.
 */
import Database from "better-sqlite3";
import { runOne } from "./run-one.js";

const workload = process.argv[2] ?? "hello5";
const warmup = Number(process.argv[3] ?? 3);
if (!Number.isInteger(warmup) || warmup < 0) {
  console.error(`usage: node --import tsx bench/sqlite-statements.ts [workload] [warm-up passes >= 0], got '${process.argv[3]}'`);
  process.exit(2);
}

const spec = { workload, store: "sqlite" as const, scale: 1, timeoutMs: 120_000 };
for (let i = 0; i < warmup; i++) {
  const o = await runOne(spec);
  if (o.kind !== "ok") throw new Error(`warm-up pass ${i + 1}: ${o.kind === "error" ? o.message : o.reason}`);
}

// better-sqlite3's Statement class is shared by every database: wrapping its prototype times them all.
const probe = new Database(":memory:");
type Method = (...args: unknown[]) => unknown;
const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<string, Method>;
probe.close();
const stats = new Map<string, { calls: number; us: number }>();
for (const name of ["run", "get", "all"]) {
  const original = proto[name]!;
  proto[name] = function (this: { source: string }, ...args: unknown[]): unknown {
    const began = process.hrtime.bigint();
    try {
      return original.apply(this, args);
    } finally {
      const us = Number(process.hrtime.bigint() - began) / 1000;
      const key = `${name} ${this.source.replace(/\s+/g, " ").slice(0, 100)}`;
      const s = stats.get(key) ?? { calls: 0, us: 0 };
      s.calls++;
      s.us += us;
      stats.set(key, s);
    }
  };
}

const outcome = await runOne(spec);
if (outcome.kind !== "ok") throw new Error(outcome.kind === "error" ? outcome.message : outcome.reason);
const total = [...stats.values()].reduce((n, s) => n + s.us, 0);
console.log(`${workload} on SQLite after ${warmup} warm-up pass(es): ${outcome.result.measurements.map((m) => `${m.metric} ${m.value.toFixed(3)} ${m.unit}`).join(", ")}`);
console.log(`time in statements: ${(total / 1000).toFixed(1)} ms (the whole pass, set-up and checks included)\n`);
console.log(`${"total ms".padStart(9)}  ${"calls".padStart(7)}  ${"mean us".padStart(8)}  statement`);
for (const [key, s] of [...stats].sort((a, b) => b[1].us - a[1].us).slice(0, 30)) {
  console.log(`${(s.us / 1000).toFixed(1).padStart(9)}  ${String(s.calls).padStart(7)}  ${(s.us / s.calls).toFixed(1).padStart(8)}  ${key}`);
}
process.exit(0);
