/**
 * The fleet tests' side: real `perdure start` processes (each in its own process group, killed by
 * the test and only by it), a database of each test's own, the effects log the hosts write, and a
 * client host in the test process that starts instances and reads what the store holds.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createApp, type DurableApp } from "../../src/app.js";
import type { HistoryEvent } from "../../src/core/history.js";
import { createHost, type Host } from "../../src/host/host.js";
import { PostgresProvider } from "../../src/providers/postgres/postgres-provider.js";
import { silentLogger } from "../../src/runtime/logger.js";
import { PG_URL } from "../helpers/pg.js";
import { type Effect, FAN_OUT, registerFleet, SEQUENCE } from "./fixtures/fleet-functions.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "perdure.js");
const APP = fileURLToPath(new URL("./fixtures/fleet-app.ts", import.meta.url));
const SKEW = fileURLToPath(new URL("./fixtures/skew-clock.ts", import.meta.url));
/** A loaded 2-core machine may take seconds to start a host that compiles TypeScript. */
const STARTUP_TIMEOUT_MS = 60_000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates a database of the test's own on the server (dropped, with every session on it, at the end). */
export async function ownDatabase(t: TestContext, serverUrl = PG_URL): Promise<string> {
  const name = `perdure_fleet_${process.pid}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  t.after(async () => {
    const c = new pg.Client({ connectionString: serverUrl });
    try {
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } catch {
      // the server is gone (a private cluster already destroyed): nothing to drop
    } finally {
      await c.end().catch(() => undefined);
    }
  });
  return databaseUrl(serverUrl, name);
}

export interface HostSpec {
  /** A, B, C...: the process's name in the effects log and in failure output. */
  run: string;
  store: string;
  effectsFile: string;
  /** More `perdure start` flags. */
  flags?: string[];
  env?: Record<string, string>;
  /** The process's clock runs this far ahead (a preloaded Date). */
  skewMs?: number;
}

/** One `perdure start` process, in its own process group. */
export class FleetHost {
  readonly proc: ChildProcess;
  stdout = "";
  stderr = "";
  url: string | undefined;
  workerId: string | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  constructor(readonly spec: HostSpec) {
    const execArgv = spec.skewMs ? ["--import", "tsx", "--import", SKEW] : [];
    this.proc = spawn(process.execPath, [...execArgv, BIN, "start", APP, "--store", spec.store, "--port", "0", ...(spec.flags ?? [])], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        PERDURE_CLI_FROM_SOURCE: "1",
        PERDURE_FLEET_EFFECTS: spec.effectsFile,
        PERDURE_FLEET_RUN: spec.run,
        PERDURE_FLEET_DB: spec.store,
        ...(spec.skewMs ? { PERDURE_FLEET_SKEW_MS: String(spec.skewMs) } : {}),
        ...spec.env,
      },
    });
    this.proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
      const m = /Perdure host (\S+) running on (\S+)/.exec(this.stdout);
      if (m) {
        this.workerId = m[1];
        this.url = m[2] === "(no" ? undefined : m[2];
      }
    });
    this.proc.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Signals the host's whole process group (the host and anything it started). */
  signal(sig: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      // already gone
    }
  }

  async ready(): Promise<void> {
    await until(`host ${this.spec.run} to start`, STARTUP_TIMEOUT_MS, [this], async () => this.workerId !== undefined);
  }

  /** CPU time (user + system, ms) the process has used so far. */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  }

  describe(): string {
    const tail = (s: string): string => (s.length > 6000 ? `...${s.slice(-6000)}` : s);
    return `host ${this.spec.run} (pid ${this.proc.pid}, exit ${JSON.stringify(this.exit)})\n--- stdout\n${tail(this.stdout)}\n--- stderr\n${tail(this.stderr)}`;
  }
}

/**
 * Polls `probe` until it returns a value; fails with the hosts' output on timeout or when a
 * watched host dies.
 */
export async function until<T>(what: string, timeoutMs: number, watched: FleetHost[], probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    const dead = watched.find((h) => !h.alive);
    if (dead) assert.fail(`waiting for ${what}: host ${dead.spec.run} exited\n${dead.describe()}`);
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}\n${watched.map((h) => h.describe()).join("\n")}`);
    await sleep(50);
  }
}

export interface Fleet {
  dir: string;
  effectsFile: string;
  store: string;
  hosts: FleetHost[];
  /** Starts a host process and waits until it runs. */
  start(run: string, options?: Omit<HostSpec, "run" | "store" | "effectsFile">): Promise<FleetHost>;
  /** A host in the test process without workers: starts instances and reads the store. */
  client: Host;
  provider: PostgresProvider;
  effects(): Effect[];
}

/**
 * A fleet on `store`: the hosts it starts are SIGKILLed (their process groups) at the end of the
 * test whatever happened, and their output is reported when the test fails.
 */
export async function fleet(t: TestContext, store: string): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "perdure-fleet-"));
  const effectsFile = join(dir, "effects.jsonl");
  const hosts: FleetHost[] = [];
  const app: DurableApp = createApp();
  registerFleet(app);
  const provider = new PostgresProvider({ connectionString: store, poolSize: 4, warn: () => undefined });
  const client = createHost({ store: provider, app, port: false, workers: false, logger: silentLogger });
  await client.start();
  t.after(async () => {
    for (const h of hosts) h.signal("SIGKILL");
    await Promise.all(hosts.map((h) => h.exited));
    await client.stop().catch(() => undefined);
    if (process.env.PERDURE_KEEP_FLEET_DIR) t.diagnostic(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    effectsFile,
    store,
    hosts,
    client,
    provider,
    async start(run, options = {}) {
      const h = new FleetHost({ run, store, effectsFile, ...options });
      hosts.push(h);
      await h.ready();
      return h;
    },
    effects: () => readEffects(effectsFile),
  };
}

/**
 * Starts `sequences` sequences (`seq-<i>`, input `s<i>`) at once and then one fan-out (`fan-out`)
 * of `fanOut.n` activities that take `fanOut.ms` each; returns their IDs.
 */
export async function startSequencesAndFanOut(f: Fleet, sequences: number, fanOut: { n: number; ms: number }): Promise<string[]> {
  const ids = Array.from({ length: sequences }, (_, i) => `seq-${i}`);
  await Promise.all(ids.map((id, i) => f.client.client.startNew(SEQUENCE, { instanceId: id, input: `s${i}` })));
  await f.client.client.startNew(FAN_OUT, { instanceId: "fan-out", input: fanOut });
  return [...ids, "fan-out"];
}

export function readEffects(file: string): Effect[] {
  if (!existsSync(file)) return [];
  const out: Effect[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as Effect);
    } catch {
      // a line torn by SIGKILL mid-write
    }
  }
  return out;
}

/** Each scheduled task of the history has exactly one completion or failure; no execution ends twice. */
export function assertRecordedOnce(instanceId: string, history: readonly HistoryEvent[]): void {
  const results = new Map<number, number>();
  for (const e of history) {
    if (e.type === "TaskCompleted" || e.type === "TaskFailed") results.set(e.taskScheduledId, (results.get(e.taskScheduledId) ?? 0) + 1);
  }
  const scheduled = history.filter((e) => e.type === "TaskScheduled").map((e) => e.eventId);
  for (const id of scheduled) assert.equal(results.get(id) ?? 0, 1, `${instanceId}: task ${id} has exactly one recorded result`);
  assert.equal([...results.keys()].filter((id) => !scheduled.includes(id)).length, 0, `${instanceId}: no result without its TaskScheduled`);
  assert.ok(history.filter((e) => e.type === "ExecutionCompleted").length <= 1, `${instanceId}: at most one ExecutionCompleted`);
}

/** Activity executions per process name, from the effects log (begun, whatever happened next). */
export function executionsPerRun(effects: readonly Effect[], fn?: string): Map<string, number> {
  const per = new Map<string, number>();
  for (const e of effects) if (e.phase === "begin" && (!fn || e.fn === fn)) per.set(e.run, (per.get(e.run) ?? 0) + 1);
  return per;
}

/** Reads the `postgres://` URL's database clock (ms). */
export async function databaseNow(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ now: string }>("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now");
    return Number(r.rows[0]!.now);
  } finally {
    await c.end();
  }
}
