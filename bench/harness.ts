/**
 * Shared pieces of the benchmark workloads: stores on fresh files, a host with a quiet logger, a
 * completion tap on the provider (exact commit times without polling), RSS sampling, statistics and
 * loud correctness checks.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createApp, createHost, type DurableApp, type Host, type HostOptions, providerFromUrl, type StorageProvider } from "../src/index.js";
import pg from "pg";
import { commitInstanceId } from "../src/providers/provider.js";

/** Store kinds the harness knows. `sqlite-full` is SQLite with synchronous=FULL (fsync per commit). */
export const STORE_KINDS = ["memory", "sqlite", "sqlite-full", "postgres"] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface BenchStore {
  kind: StoreKind;
  /** The store URL handed to the host (for the record; never contains secrets for memory/sqlite). */
  url: string;
  /** SQLite only: the database file and the synchronous mode the provider uses. */
  sqlite?: { file: string; synchronous: "NORMAL" | "FULL" };
  /** PostgreSQL only: the server (with credentials) and the run's own schema. */
  postgres?: { url: string; schema: string };
  /** A fresh provider on this store (not initialised; the host does that). */
  provider(): StorageProvider;
  /** Checks the store can be used; throws SkipError when it cannot (no server). */
  ready(): Promise<void>;
  /** Removes what the store left behind. */
  cleanup(): Promise<void> | void;
}

/** A workload cannot run on this store (yet): reported as skipped, not as a failure. */
export class SkipError extends Error {}

/** Thrown when a run produced wrong results: the harness reports it loudly and exits non-zero. */
export class VerificationError extends Error {}

/** Thrown when a run's orchestrations did not finish in time (hung or far too slow). */
export class BenchTimeoutError extends Error {}

/** A fresh store for one run: memory, or SQLite on a new temp file (WAL). */
export function openStore(kind: StoreKind): BenchStore {
  switch (kind) {
    case "memory":
      return { kind, url: "memory:", provider: () => providerFromUrl("memory:"), ready: async () => undefined, cleanup: () => undefined };
    case "sqlite":
    case "sqlite-full": {
      const dir = mkdtempSync(join(tmpdir(), "perdure-bench-"));
      const file = join(dir, "bench.db");
      const synchronous = kind === "sqlite-full" ? "FULL" : "NORMAL";
      const url = `sqlite:${file}${kind === "sqlite-full" ? "?synchronous=full" : ""}`;
      return {
        kind,
        url,
        sqlite: { file, synchronous },
        provider: () => providerFromUrl(url),
        ready: async () => undefined,
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case "postgres": {
      const server = POSTGRES_URL;
      const schema = `bench_${process.pid}_${randomBytes(3).toString("hex")}`;
      const url = new URL(server);
      url.searchParams.set("schema", schema);
      return {
        kind,
        url: url.toString().replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@"),
        postgres: { url: server, schema },
        provider: () => providerFromUrl(url.toString()),
        ready: async () => {
          const client = new pg.Client({ connectionString: server, connectionTimeoutMillis: 3_000 });
          try {
            await client.connect();
          } catch (err) {
            throw new SkipError(`PostgreSQL at ${redact(server)} does not answer (${(err as Error).message}); set PERDURE_BENCH_POSTGRES_URL`);
          } finally {
            await client.end().catch(() => undefined);
          }
        },
        cleanup: async () => {
          const client = new pg.Client({ connectionString: server });
          try {
            await client.connect();
            await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          } catch {
            // Nothing was created, or the server went away: nothing to clean.
          } finally {
            await client.end().catch(() => undefined);
          }
        },
      };
    }
  }
}

/** The PostgreSQL server of the postgres store: each run gets a schema of its own on it. */
export const POSTGRES_URL = process.env.PERDURE_BENCH_POSTGRES_URL ?? process.env.PERDURE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

export const redact = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");

/** Swallows the engine's logging but keeps warnings and errors, so a failed run can show them. */
export class QuietLogger {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  info(): void {}
  warn(message: string): void {
    if (this.warnings.length < 20) this.warnings.push(message);
  }
  error(message: string): void {
    if (this.errors.length < 20) this.errors.push(message);
  }
  summary(): string {
    const lines = [...this.errors.map((e) => `  error: ${e}`), ...this.warnings.map((w) => `  warn: ${w}`)];
    return lines.length ? `\nEngine log:\n${lines.slice(0, 10).join("\n")}` : "";
  }
}

const TERMINAL = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

export interface Completion {
  instanceId: string;
  status: string;
  /** performance.now() just after the terminal step was committed. */
  at: number;
  /** Date.now() at the same moment. */
  wallAt: number;
}

/**
 * Watches the provider's orchestration commits and records when each instance's terminal step was
 * committed. Measuring at the commit (instead of polling status) keeps the harness out of the way.
 */
export class CompletionTap {
  readonly completions = new Map<string, Completion>();
  private waiters: { done: () => boolean; resolve: () => void }[] = [];

  constructor(provider: StorageProvider) {
    const original = provider.completeOrchestrationWorkItems.bind(provider);
    provider.completeOrchestrationWorkItems = async (commits, now) => {
      const results = await original(commits, now);
      const at = performance.now();
      const wallAt = Date.now();
      let any = false;
      commits.forEach((c, i) => {
        const id = commitInstanceId(c);
        if (results[i]?.ok && TERMINAL.has(c.instance.runtimeStatus) && !this.completions.has(id)) {
          this.completions.set(id, { instanceId: id, status: c.instance.runtimeStatus, at, wallAt });
          any = true;
        }
      });
      if (any) this.check();
      return results;
    };
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.done()) return true;
      w.resolve();
      return false;
    });
  }

  private wait(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== finish);
        reject(new BenchTimeoutError(`Timed out after ${timeoutMs} ms waiting for ${what()}.`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ done, resolve: finish });
    });
  }

  /** Resolves once `count` instances have committed a terminal step. */
  waitForCount(count: number, timeoutMs: number): Promise<void> {
    return this.wait(
      () => this.completions.size >= count,
      timeoutMs,
      () => `${count} orchestrations to finish (${this.completions.size} did)`,
    );
  }

  /** Resolves with the completion of one instance. */
  async waitFor(instanceId: string, timeoutMs: number): Promise<Completion> {
    await this.wait(
      () => this.completions.has(instanceId),
      timeoutMs,
      () => `orchestration '${instanceId}' to finish`,
    );
    return this.completions.get(instanceId)!;
  }

  /** The latest commit time among the completions. */
  lastAt(): number {
    let last = -Infinity;
    for (const c of this.completions.values()) last = Math.max(last, c.at);
    return last;
  }
}

export interface BenchHost {
  host: Host;
  tap: CompletionTap;
  logger: QuietLogger;
  app: DurableApp;
  /** Stops the host (drains the worker, closes the store). */
  stop(): Promise<void>;
}

/**
 * A started host on a fresh provider of `store`, without an HTTP listener, with the functions that
 * `register` adds to a fresh app.
 */
export async function startHost(store: BenchStore, register: (app: DurableApp) => void, options: Omit<HostOptions, "store" | "app" | "port" | "logger"> = {}): Promise<BenchHost> {
  const app = createApp();
  register(app);
  const provider = store.provider();
  const tap = new CompletionTap(provider);
  const logger = new QuietLogger();
  const host = createHost({ ...options, store: provider, port: false, app, logger });
  await host.start();
  return { host, tap, logger, app, stop: () => host.stop() };
}

/** Samples process RSS every `everyMs` (and on stop); reports the peak. */
export class RssSampler {
  private peak = process.memoryUsage.rss();
  readonly baseline = this.peak;
  private readonly timer: NodeJS.Timeout;
  constructor(everyMs = 20) {
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  private sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }
  private stopped = false;
  /** Stops sampling (idempotent) and returns the peak and the RSS at construction. */
  stop(): { peakBytes: number; baselineBytes: number } {
    if (!this.stopped) {
      this.sample();
      clearInterval(this.timer);
      this.stopped = true;
    }
    return { peakBytes: this.peak, baselineBytes: this.baseline };
  }
}

export const MB = 1024 * 1024;

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new VerificationError(message());
}

/** Counts activity calls by key; `exactlyOnce` fails loudly on a missing or repeated call. */
export class CallCounter<K> {
  readonly calls = new Map<K, number>();
  total = 0;
  hit(key: K): void {
    this.total++;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }
  exactlyOnce(expected: Iterable<K>, what: string): void {
    let n = 0;
    for (const key of expected) {
      n++;
      const c = this.calls.get(key) ?? 0;
      check(c === 1, () => `${what}: call ${String(key)} ran ${c} times, expected exactly once.`);
    }
    check(this.total === n, () => `${what}: ${this.total} calls, expected exactly ${n}.`);
  }
}

/** Checks through the client that exactly the expected instances exist, all Completed with the expected output. */
export async function verifyAllCompleted(bench: BenchHost, expected: Map<string, unknown>, what: string): Promise<void> {
  const statuses = await bench.host.client.getStatusBy({ showInput: false });
  check(statuses.length === expected.size, () => `${what}: ${statuses.length} instances in the store, expected ${expected.size}.`);
  for (const s of statuses) {
    check(expected.has(s.instanceId), () => `${what}: unexpected instance '${s.instanceId}'.`);
    check(
      s.runtimeStatus === "Completed",
      () => `${what}: instance '${s.instanceId}' is ${s.runtimeStatus}${s.failureDetails ? ` (${s.failureDetails.errorMessage})` : ""}.${bench.logger.summary()}`,
    );
    const want = JSON.stringify(expected.get(s.instanceId));
    const got = JSON.stringify(s.output);
    check(got === want, () => `${what}: instance '${s.instanceId}' returned ${got.slice(0, 200)}, expected ${want.slice(0, 200)}.`);
  }
}

/** Engine counters worth keeping with each result (duplicated or lost work shows up here first). */
export function diagnostics(bench: BenchHost): Record<string, number> {
  const w = bench.host.worker;
  return {
    orchestrationSteps: w.stats.orchestrationSteps,
    activitiesRun: w.stats.activitiesRun,
    lockLost: w.stats.lockLost,
    abandoned: w.stats.abandoned,
    executorCacheHits: w.processor.cache.hits,
    executorCacheMisses: w.processor.cache.misses,
    engineWarnings: bench.logger.warnings.length,
    engineErrors: bench.logger.errors.length,
  };
}

// ---- the workload contract ----

export interface Measurement {
  metric: string;
  value: number;
  unit: string;
  /** Which direction is good, for the table's target column. */
  better: "higher" | "lower";
}

export interface WorkloadResult {
  measurements: Measurement[];
  /** The sizes the run used (after --scale). */
  params: Record<string, number | string>;
  diagnostics?: Record<string, number>;
}

export interface RunContext {
  store: BenchStore;
  /** Multiplies the workload sizes (1 = the PERF.md sizes). */
  scale: number;
  /** Longest wait for one run's orchestrations, ms. */
  timeoutMs: number;
  log(message: string): void;
}

export interface Workload {
  name: string;
  /** One line for --help and the README. */
  summary: string;
  run(ctx: RunContext): Promise<WorkloadResult>;
  /**
   * Measured on a warm process (`--warmup` untimed passes of the same workload, each on a fresh
   * store, run first), as a host that has been serving is: the workloads of PERF.md's table but the
   * floor (`limit`).
   */
  warms?: boolean;
  /**
   * The size of a warm-up pass (a scale), where the PERF.md size runs too few orchestrations to warm
   * the JIT. Default: the run's scale, at most 1.
   */
  warmupScale?: number;
}

export const scaled = (n: number, scale: number, min = 1): number => Math.max(min, Math.round(n * scale));

export function since(start: number): number {
  return performance.now() - start;
}
