/**
 * `npm run bench [-- options]`: runs the PERF.md workloads on the chosen stores, each run in its own
 * child process on a fresh store, then prints medians and appends JSON lines to bench/results/.
 * See bench/README.md.
 */
import { execFileSync, fork } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Baseline, compareMedians, loadBaseline } from "./compare.js";
import { type Measurement, median, STORE_KINDS, type StoreKind } from "./harness.js";
import { runOne, type RunOutcome, type RunSpec } from "./run-one.js";
import { WORKLOADS } from "./workloads/index.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const DEFAULT_WORKLOADS = ["hello5", "sequence", "fanout"];
const DEFAULT_STORES: StoreKind[] = ["memory", "sqlite"];
const DEFAULT_WARMUP = 3;
/**
 * Which engine the runs measure: `npm run bench` loads bench/use-compiled-engine.mjs, so the engine
 * comes from dist/ as an installed Perdure's does; started without it (or with
 * PERDURE_BENCH_ENGINE=source) the runs use the TypeScript sources through tsx.
 */
const ENGINE = process.env.PERDURE_BENCH_ENGINE === "compiled" ? "compiled" : "source";

interface Options {
  workloads: string[];
  stores: StoreKind[];
  runs: number;
  scale: number;
  timeoutMs: number;
  inProcess: boolean;
  /** Measure each durable store's floor (the limit workload) when it is not among the workloads. */
  floor: boolean;
  /** A saved run to compare this one's medians with (flags more than 10 % worse). */
  compare?: { file: string; baseline: Baseline };
  save: boolean;
  /** Runs without and/or with an OpenTelemetry SDK (in-memory exporter) registered. */
  tracing: boolean[];
  /** Untimed passes before each measured run of a throughput workload. */
  warmup: number;
}

const HELP = `Usage: npm run bench -- [options]

  --workload, -w <list>  comma-separated workloads, or "all" (default: ${DEFAULT_WORKLOADS.join(",")})
                         ${WORKLOADS.map((w) => `${w.name}: ${w.summary}`).join("\n                         ")}
  --store, -s <list>     comma-separated stores, or "all" (default: ${DEFAULT_STORES.join(",")})
                         ${STORE_KINDS.join(", ")} (sqlite = fresh temp file per run, WAL, synchronous=NORMAL;
                         sqlite-full = synchronous=FULL; postgres = PERDURE_BENCH_POSTGRES_URL, skipped when unavailable)
  --runs, -r <n>         runs of each workload on each store; the table shows medians (default 3)
  --scale <f>            multiply workload sizes (default 1 = the PERF.md sizes; 0.1 for a quick check)
  --timeout <s>          longest wait for one run's orchestrations (default 120)
  --tracing off|on|both  run with an OpenTelemetry SDK registered (a batch processor into an in-memory
                         exporter): "both" alternates runs without and with it, to show what tracing costs
                         (default off)
  --warmup <n>           untimed passes of a throughput workload (hello5, sequence, fanout, entity), each on
                         a fresh store in the run's process, before the measured one: a warm JIT, as on a
                         host that has been serving (default ${DEFAULT_WARMUP}; 0 measures a cold process)
  --in-process           run everything in this process instead of one child process per run
  --no-save              do not append to bench/results/<date>.jsonl
  --no-floor             do not measure the floor of each durable store (the limit workload, ~2-4 s a
                         store) to show beside its workloads
  --compare <file>       compare the medians with a saved run (a bench/results/*.jsonl file; its newest
                         session for each measurement): a metric more than 10 % worse is flagged and
                         the command exits with status 3
  --help, -h             this text

Example: npm run bench -- --workload hello5,sequence --store memory,sqlite --runs 3`;

function fail(message: string): never {
  console.error(`bench: ${message}\n\n${HELP}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { workloads: DEFAULT_WORKLOADS, stores: DEFAULT_STORES, runs: 3, scale: 1, timeoutMs: 120_000, inProcess: false, save: true, tracing: [false], floor: true, warmup: DEFAULT_WARMUP };
  const args = argv.flatMap((a) => (a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a]));
  const list = (v: string): string[] =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined || v.startsWith("-")) fail(`${flag} needs a value.`);
      return v;
    };
    const number = (min: number): number => {
      const raw = value();
      const n = Number(raw);
      if (!Number.isFinite(n) || n < min) fail(`${flag} must be a number >= ${min}, got '${raw}'.`);
      return n;
    };
    switch (flag) {
      case "--workload":
      case "--workloads":
      case "-w": {
        const names = list(value());
        o.workloads = names.includes("all") ? WORKLOADS.map((w) => w.name) : names;
        for (const n of o.workloads) if (!WORKLOADS.some((w) => w.name === n)) fail(`unknown workload '${n}'. Known: ${WORKLOADS.map((w) => w.name).join(", ")}.`);
        break;
      }
      case "--store":
      case "--stores":
      case "-s": {
        const names = list(value());
        o.stores = (names.includes("all") ? [...STORE_KINDS] : names) as StoreKind[];
        for (const n of o.stores) if (!STORE_KINDS.includes(n)) fail(`unknown store '${n}'. Known: ${STORE_KINDS.join(", ")}.`);
        break;
      }
      case "--tracing": {
        const v = args[++i];
        if (v === "off") o.tracing = [false];
        else if (v === "on") o.tracing = [true];
        else if (v === "both") o.tracing = [false, true];
        else fail(`--tracing takes off, on or both, got '${v ?? ""}'.`);
        break;
      }
      case "--runs":
      case "-r":
        o.runs = Math.floor(number(1));
        break;
      case "--scale":
        o.scale = number(0.001);
        break;
      case "--timeout":
        o.timeoutMs = number(1) * 1000;
        break;
      case "--warmup":
        o.warmup = Math.floor(number(0));
        break;
      case "--in-process":
        o.inProcess = true;
        break;
      case "--no-save":
        o.save = false;
        break;
      case "--no-floor":
        o.floor = false;
        break;
      case "--compare": {
        const file = value();
        try {
          o.compare = { file, baseline: loadBaseline(file) };
        } catch (err) {
          fail(`--compare: ${(err as Error).message}`);
        }
        break;
      }
      case "--help":
      case "-h":
        console.log(HELP);
        process.exit(0);
        break;
      default:
        fail(`unknown option '${flag}'.`);
    }
  }
  if (o.workloads.length === 0 || o.stores.length === 0) fail("nothing to run.");
  return o;
}

function runInChild(spec: RunSpec): Promise<RunOutcome> {
  return new Promise((resolve) => {
    let outcome: RunOutcome | undefined;
    const child = fork(join(BENCH_DIR, "child.ts"), [JSON.stringify(spec)], {
      cwd: ROOT,
      execArgv: ["--import", "tsx", ...(ENGINE === "compiled" ? ["--import", pathToFileURL(join(BENCH_DIR, "use-compiled-engine.mjs")).href] : []), "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    // Backstop for a wedged child: its own waits time out well before this.
    const killer = setTimeout(() => child.kill("SIGKILL"), spec.timeoutMs + 60_000);
    child.on("message", (m) => {
      outcome = m as RunOutcome;
    });
    child.on("exit", (code, signal) => {
      clearTimeout(killer);
      resolve(outcome ?? { kind: "error", message: `The run's process exited (${signal ?? `code ${code}`}) without reporting a result.`, failure: "CRASHED" });
    });
  });
}

// ---- targets (PERF.md, "on this 2-core machine") ----

interface Target {
  workload: string;
  metric: (m: string) => boolean;
  op: ">=" | "<=";
  sqlite: number;
  postgres: number;
  /**
   * SQLite with synchronous=FULL, where PERF.md gives a target of its own (a sequential step: one
   * fsync each) or one that holds whatever the sync mode (ratio, transactions per step). The other
   * SQLite targets are for synchronous=NORMAL, and are not shown beside a sqlite-full run.
   */
  sqliteFull?: number;
  /** The PERF.md sizes the target belongs to (fanout has one for 10,000 and one for 100,000). */
  scale?: number;
}

const TARGETS: Target[] = [
  { workload: "hello5", metric: (m) => m === "orchestrations/s", op: ">=", sqlite: 3000, postgres: 1000 },
  { workload: "sequence", metric: (m) => m.startsWith("ms/step"), op: "<=", sqlite: 0.25, postgres: 2, sqliteFull: 0.6 },
  { workload: "sequence", metric: (m) => m === "last/first ratio", op: "<=", sqlite: 1.2, postgres: 1.2, sqliteFull: 1.2 },
  // 2,001 for 2,000 steps: the start is a write transaction of its own.
  { workload: "sequence", metric: (m) => m === "write tx/step", op: "<=", sqlite: 1.01, postgres: 1.01, sqliteFull: 1.01 },
  { workload: "fanout", metric: (m) => m === "seconds", op: "<=", sqlite: 0.3, postgres: 3, scale: 1 },
  { workload: "fanout", metric: (m) => m === "seconds", op: "<=", sqlite: 4, postgres: 30, scale: 10 },
  { workload: "fanout", metric: (m) => m === "peak RSS", op: "<=", sqlite: 500, postgres: 500, scale: 10 },
  { workload: "latency", metric: (m) => m === "p50", op: "<=", sqlite: 0.3, postgres: 5 },
  { workload: "timers", metric: (m) => m === "lateness p99", op: "<=", sqlite: 20, postgres: 100 },
  { workload: "entity", metric: (m) => m === "one entity ops/s", op: ">=", sqlite: 30_000, postgres: 5000 },
];

function targetFor(workload: string, store: StoreKind, metric: string, scale: number): { op: string; value: number } | undefined {
  const family = store === "postgres" ? "postgres" : store === "sqlite-full" ? "sqliteFull" : store === "sqlite" ? "sqlite" : undefined;
  if (!family) return undefined;
  const t = TARGETS.find((x) => x.workload === workload && x.metric(metric) && (x.scale === undefined || x.scale === scale));
  const value = t?.[family];
  return t && value !== undefined ? { op: t.op, value } : undefined;
}

// ---- output ----

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((cell, c) => (c >= 3 && c <= 4 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd();
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

function gitInfo(): { commit?: string; dirty?: boolean } {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no", "--", "src"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() !== "";
    return { commit, dirty };
  } catch {
    return {};
  }
}

function summaryLine(m: Measurement[]): string {
  return m.map((x) => `${x.metric} ${fmt(x.value)}${x.unit === "x" ? "x" : ` ${x.unit}`}`).join(", ");
}

// ---- main ----

const opts = parseArgs(process.argv.slice(2));
/** The warm-up passes a workload gets: only throughput workloads warm. */
const warmupOf = (workload: string): number => (WORKLOADS.find((w) => w.name === workload)?.warms ? opts.warmup : 0);

const session = new Date().toISOString();
const env = { node: process.version, platform: `${process.platform}/${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "?", memMB: Math.round(totalmem() / 2 ** 20), ...gitInfo() };
const resultsFile = join(BENCH_DIR, "results", `${session.slice(0, 10)}.jsonl`);
if (opts.save) mkdirSync(dirname(resultsFile), { recursive: true });
const record = (line: Record<string, unknown>): void => {
  const warmup = typeof line.workload === "string" ? warmupOf(line.workload) : 0;
  if (opts.save) appendFileSync(resultsFile, `${JSON.stringify({ time: new Date().toISOString(), session, ...line, scale: opts.scale, ...(warmup > 0 ? { warmup } : {}), engine: ENGINE, env })}\n`);
};

console.log(
  `Perdure bench: ${opts.workloads.join(", ")} on ${opts.stores.join(", ")}, ${opts.runs} run(s) each${opts.scale !== 1 ? `, scale ${opts.scale}` : ""}${opts.workloads.some((w) => warmupOf(w) > 0) ? `, ${opts.warmup} warm-up pass(es) before each run of ${opts.workloads.filter((w) => warmupOf(w) > 0).join(", ")}` : ""}${opts.tracing.includes(true) ? `, tracing ${opts.tracing.length > 1 ? "off and on" : "on"}` : ""}` +
    ` (engine ${ENGINE === "compiled" ? "compiled from dist/" : "TypeScript sources through tsx"}, node ${process.version}, ${env.cpus} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}${env.commit ? `, ${env.commit}${env.dirty ? "+dirty" : ""}` : ""})`,
);

interface Collected {
  workload: string;
  store: StoreKind;
  traced: boolean;
  values: Map<string, { unit: string; better: Measurement["better"]; values: number[]; derived?: boolean }>;
  skipped?: string;
  errors: string[];
}
const collected: Collected[] = [];
const failures: string[] = [];

const runSpec = (spec: RunSpec): Promise<RunOutcome> => (opts.inProcess ? runOne(spec) : runInChild(spec));

const storeLabel = (store: StoreKind, traced: boolean): string => `${store}${traced ? " +otel" : ""}`;

for (const workload of opts.workloads) {
  for (const store of opts.stores) {
    const modes = opts.tracing.map((traced) => {
      const c: Collected = { workload, store, traced, values: new Map(), errors: [] };
      collected.push(c);
      return c;
    });
    // With tracing off and on, their runs alternate: drift on a noisy machine hits both alike.
    runs: for (let run = 1; run <= opts.runs; run++) for (const c of modes) {
      if (c.skipped !== undefined) break runs;
      const traced = c.traced;
      const spec: RunSpec = { workload, store, scale: opts.scale, timeoutMs: opts.timeoutMs, tracing: traced, warmup: warmupOf(workload) };
      const label = `${workload} on ${storeLabel(store, traced)}${opts.runs > 1 ? ` run ${run}/${opts.runs}` : ""}`;
      const outcome = await runSpec(spec);
      if (outcome.kind === "skipped") {
        console.log(`  ${label}: skipped (${outcome.reason})`);
        c.skipped = outcome.reason;
        record({ workload, store, tracing: traced, run, skipped: outcome.reason });
        break runs;
      }
      if (outcome.kind === "error") {
        const what = outcome.failure;
        console.error(`\n  ${label}: ${what}\n    ${outcome.message.split("\n").join("\n    ")}\n`);
        c.errors.push(outcome.failure);
        failures.push(`${label}: ${what}: ${outcome.message.split("\n")[0]}`);
        record({ workload, store, tracing: traced, run, failure: outcome.failure, error: outcome.message });
        continue;
      }
      const { result } = outcome;
      const d = result.diagnostics ?? {};
      const health = (d.lockLost ?? 0) + (d.abandoned ?? 0) + (d.engineErrors ?? 0) > 0 ? `  [engine: lockLost ${d.lockLost}, abandoned ${d.abandoned}, errors ${d.engineErrors}]` : "";
      console.log(`  ${label}: ${summaryLine(result.measurements)}  (${(outcome.wallMs / 1000).toFixed(1)} s)${health}`);
      for (const m of result.measurements) {
        const entry = c.values.get(m.metric) ?? { unit: m.unit, better: m.better, values: [] };
        entry.values.push(m.value);
        c.values.set(m.metric, entry);
        record({ workload, store, tracing: traced, run, metric: m.metric, value: m.value, unit: m.unit, params: result.params, diagnostics: result.diagnostics, storeUrl: outcome.storeUrl, wallMs: Math.round(outcome.wallMs) });
      }
    }
  }
}

// Derived: the engine's sequential step rate against the raw commit rate of the same store.
for (const store of opts.stores) {
  const seq = collected.find((c) => c.workload === "sequence" && c.store === store && !c.traced)?.values.get("steps/s");
  const lim = collected.find((c) => c.workload === "limit" && c.store === store && !c.traced);
  const raw = lim?.values.get("commits/s");
  if (lim && seq?.values.length && raw?.values.length) {
    const ratio = median(seq.values) / median(raw.values);
    lim.values.set("engine/raw (sequence steps/s ÷ commits/s)", { unit: "x", better: "higher", values: [ratio], derived: true });
    record({ workload: "limit", store, metric: "engine/raw", value: ratio, unit: "x", derived: "median sequence steps/s / median limit commits/s" });
  }
}

// The floor of each durable store, measured in the same session, shown beside every workload on it:
// how far the engine is from what the database itself can commit.
const floors = new Map<StoreKind, number>();
for (const store of opts.stores) {
  if (store === "memory") continue;
  let c = collected.find((x) => x.workload === "limit" && x.store === store && !x.traced);
  if (!c && opts.floor && opts.workloads.some((w) => w !== "limit")) {
    const outcome = await runSpec({ workload: "limit", store, scale: 1, timeoutMs: opts.timeoutMs, tracing: false });
    if (outcome.kind === "ok") {
      const m = outcome.result.measurements.find((x) => x.metric === "commits/s");
      if (m) {
        c = { workload: "limit", store, traced: false, values: new Map([["commits/s", { unit: m.unit, better: m.better, values: [m.value] }]]), errors: [] };
        console.log(`  floor of ${store}: ${fmt(m.value)} single-row commits/s on one connection`);
        record({ workload: "limit", store, tracing: false, run: 1, metric: m.metric, value: m.value, unit: m.unit, floorFor: opts.workloads });
      }
    } else console.log(`  floor of ${store}: ${outcome.kind === "skipped" ? `skipped (${outcome.reason})` : `failed (${outcome.message.split("\n")[0]})`}`);
  }
  const values = c?.values.get("commits/s")?.values;
  if (values?.length) floors.set(store, median(values));
}

const rows: string[][] = [["workload", "store", "metric", "median", "range", "unit", "runs", "target (PERF.md)", "store floor"]];
const floorOf = (store: StoreKind): string => (floors.has(store) ? `${fmt(floors.get(store)!)} commits/s` : "");
for (const c of collected) {
  if (c.skipped !== undefined && c.values.size === 0) {
    rows.push([c.workload, storeLabel(c.store, c.traced), "skipped", "-", "", "", "0", "", ""]);
    continue;
  }
  if (c.values.size === 0) {
    rows.push([c.workload, storeLabel(c.store, c.traced), [...new Set(c.errors)].join(", "), "-", "", "", "0", "", floorOf(c.store)]);
    continue;
  }
  for (const [metric, v] of c.values) {
    const med = median(v.values);
    const range = v.values.length > 1 ? `${fmt(Math.min(...v.values))}–${fmt(Math.max(...v.values))}` : "";
    const t = c.traced ? undefined : targetFor(c.workload, c.store, metric, opts.scale);
    const met = t ? (t.op === ">=" ? med >= t.value : med <= t.value) : undefined;
    const target = t ? `${t.op} ${fmt(t.value)} ${met ? "ok" : "MISSED"}` : "";
    const runs = v.derived ? "medians" : `${v.values.length}${c.errors.length ? ` (+${c.errors.length} failed)` : ""}`;
    rows.push([c.workload, storeLabel(c.store, c.traced), metric, fmt(med), range, v.unit, runs, target, floorOf(c.store)]);
  }
}
console.log(`\n${table(rows)}\n`);
console.log("Shared 2-core machines are noisy: compare medians from the same session, not absolute figures.");
if (opts.save) console.log(`Results appended to ${relative(process.cwd(), resultsFile) || resultsFile}`);

let worse = 0;
if (opts.compare) {
  const current = collected.flatMap((c) =>
    [...c.values].filter(([, v]) => !v.derived && v.values.length > 0).map(([metric, v]) => ({ workload: c.workload, store: c.store, tracing: c.traced, metric, scale: opts.scale, warmup: warmupOf(c.workload), engine: ENGINE, median: median(v.values), better: v.better })),
  );
  const compared = compareMedians(opts.compare.baseline, current);
  const cmp: string[][] = [["workload", "store", "metric", "before", "now", "change", ""]];
  for (const r of compared) {
    cmp.push([r.key.workload, r.key.store, r.key.metric, fmt(r.before), fmt(r.now), `${r.gain >= 0 ? "+" : ""}${(r.gain * 100).toFixed(1)} %`, r.worse ? "WORSE by more than 10 %" : ""]);
  }
  worse = compared.filter((r) => r.worse).length;
  console.log(`\nAgainst ${opts.compare.file} (change: + is better):\n${compared.length > 0 ? table(cmp) : "nothing in common with this run (same workload, store, tracing, metric, scale and warm-up)"}`);
  if (worse > 0) console.error(`\n${worse} metric(s) more than 10 % worse than ${opts.compare.file}.`);
}

if (failures.length > 0) {
  console.error(`\n${failures.length} run(s) FAILED:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
if (worse > 0) process.exit(3);
