/**
 * `--compare <file>`: this run's medians against a saved run's (a bench/results/*.jsonl file), so a
 * change that makes a workload more than 10 % worse is flagged, not left to a reader of two tables.
 */
import { readFileSync } from "node:fs";
import { median } from "./harness.js";

/**
 * Where a measurement comes from: the same workload, store, tracing mode, metric, scale, warm-up
 * passes and engine (a cold process and a warm one are different measurements, and so are the
 * compiled engine and the TypeScript sources through tsx; lines saved before warm-up existed were
 * cold, and lines saved before the bench ran the compiled engine ran the sources).
 */
export function measurementKey(k: { workload: string; store: string; tracing: boolean; metric: string; scale: number; warmup?: number; engine?: string }): string {
  return `${k.workload}\u0000${k.store}\u0000${k.tracing ? "otel" : ""}\u0000${k.metric}\u0000${k.scale}\u0000${k.warmup ?? 0}\u0000${k.engine ?? "source"}`;
}

export interface Baseline {
  /** Median per measurement key, from the newest session in the file that measured it. */
  medians: Map<string, number>;
  sessions: number;
}

/** A saved run's medians. Lines that are not measurements (skips, failures, derived ratios) are ignored. */
export function readBaseline(text: string, file: string): Baseline {
  const bySession = new Map<string, Map<string, number[]>>();
  const order: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: { session?: unknown; workload?: unknown; store?: unknown; tracing?: unknown; metric?: unknown; value?: unknown; scale?: unknown; warmup?: unknown; engine?: unknown; derived?: unknown };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      throw new Error(`${file}:${i + 1} is not a JSON line of a saved bench run; pass a file that npm run bench wrote (bench/results/<date>.jsonl).`);
    }
    if (typeof r.metric !== "string" || typeof r.value !== "number" || r.derived !== undefined) return;
    if (typeof r.session !== "string" || typeof r.workload !== "string" || typeof r.store !== "string") return;
    const key = measurementKey({ workload: r.workload, store: r.store, tracing: r.tracing === true, metric: r.metric, scale: typeof r.scale === "number" ? r.scale : 1, warmup: typeof r.warmup === "number" ? r.warmup : 0, engine: typeof r.engine === "string" ? r.engine : "source" });
    if (!bySession.has(r.session)) {
      bySession.set(r.session, new Map());
      order.push(r.session);
    }
    const values = bySession.get(r.session)!;
    values.set(key, [...(values.get(key) ?? []), r.value]);
  });
  if (order.length === 0) throw new Error(`${file} holds no measurements; pass a file that npm run bench wrote (bench/results/<date>.jsonl).`);
  const medians = new Map<string, number>();
  // Sessions in the file's order: a later one replaces what an earlier one measured.
  for (const session of order) for (const [key, values] of bySession.get(session)!) medians.set(key, median(values));
  return { medians, sessions: order.length };
}

export function loadBaseline(file: string): Baseline {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file} (${(err as Error).message}); pass a file that npm run bench wrote (bench/results/<date>.jsonl).`);
  }
  return readBaseline(text, file);
}

export interface Comparison {
  key: { workload: string; store: string; metric: string };
  before: number;
  now: number;
  /** Relative change in the metric's good direction: +0.05 is 5 % better, -0.2 is 20 % worse. */
  gain: number;
  worse: boolean;
}

/**
 * Each current median against the baseline's: `worse` when it moved the wrong way by more than
 * `threshold` (0.1: 10 %). Metrics without a direction, or absent from the baseline, are left out.
 */
export function compareMedians(
  baseline: Baseline,
  current: readonly { workload: string; store: string; tracing: boolean; metric: string; scale: number; warmup?: number; engine?: string; median: number; better?: "higher" | "lower" }[],
  threshold = 0.1,
): Comparison[] {
  const out: Comparison[] = [];
  for (const c of current) {
    if (!c.better) continue;
    const before = baseline.medians.get(measurementKey(c));
    if (before === undefined || before === 0) continue;
    // "10 % slower" is 10 % more time or 10 % fewer per second; rounding must not make exactly 10 % more.
    const gain = c.better === "higher" ? c.median / before - 1 : 1 - c.median / before;
    out.push({ key: { workload: c.workload, store: c.store, metric: c.metric }, before, now: c.median, gain, worse: gain < -threshold - 1e-9 });
  }
  return out;
}
