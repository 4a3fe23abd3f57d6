/**
 * Recovery: a host process on a SQLite file is killed with SIGKILL in the middle of a 6-step sequence
 * and of a 200-activity fan-out; a new process on the same file finishes both with the right outputs,
 * and each instance's history records each activity result exactly once (DESIGN.md §3; T1 of the
 * reliability anchors). Activities themselves run at least once: re-executions are counted and
 * reported, never recorded twice.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { createApp } from "../../src/app.js";
import type { HistoryEvent } from "../../src/core/history.js";
import { SqliteProvider } from "../../src/providers/sqlite/sqlite-provider.js";
import { assertReplaysCleanly } from "../helpers/determinism.js";
import {
  type Effect,
  EXPECTED_FAN_OUT_OUTPUT,
  EXPECTED_SEQUENCE_OUTPUT,
  FAN_OUT,
  FAN_OUT_ID,
  FAN_OUT_ITEM,
  FAN_OUT_SIZE,
  registerCrashFunctions,
  SEQUENCE,
  SEQUENCE_ID,
  SEQUENCE_STEP,
  SEQUENCE_STEPS,
} from "./fixtures/crash-functions.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/crash-host.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Generous: a loaded 2-core machine may take seconds just to start a tsx child. */
const STARTUP_TIMEOUT_MS = 30_000;
const PROGRESS_TIMEOUT_MS = 40_000;
const FINISH_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and SIGKILLed at teardown, whatever happened.

const children = new Set<HostProcess>();

after(() => {
  for (const c of children) c.kill("SIGKILL");
});
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

class HostProcess {
  readonly proc: ChildProcess;
  stdout = "";
  stderr = "";
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly run: string,
    args: string[],
  ) {
    this.proc = spawn(process.execPath, ["--import", "tsx", FIXTURE, ...args, "--run", run], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stdout!.setEncoding("utf8").on("data", (d: string) => (this.stdout += d));
    this.proc.stderr!.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        this.exit = { code, signal };
        children.delete(this);
        resolve({ code, signal });
      });
    });
    children.add(this);
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }

  /** Output for failure messages. */
  describe(): string {
    const tail = (s: string): string => (s.length > 4000 ? `...${s.slice(-4000)}` : s);
    return `process ${this.run} (pid ${this.proc.pid}, exit ${JSON.stringify(this.exit)})\n--- stdout\n${tail(this.stdout)}\n--- stderr\n${tail(this.stderr)}`;
  }

  async waitForLine(prefix: string): Promise<void> {
    await until(`process ${this.run} prints '${prefix}'`, STARTUP_TIMEOUT_MS, [this], async () => this.stdout.split("\n").some((l) => l.startsWith(prefix)) || undefined);
  }

  async killHard(): Promise<void> {
    this.kill("SIGKILL");
    const { signal } = await this.exited;
    assert.equal(signal, "SIGKILL", this.describe());
  }

  async stopGracefully(): Promise<void> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a value; fails with the children's output on timeout or if one dies. */
async function until<T>(what: string, timeoutMs: number, watched: HostProcess[], probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    const dead = watched.find((c) => !c.alive);
    if (dead) assert.fail(`waiting for ${what}: the child exited early\n${dead.describe()}`);
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}\n${watched.map((c) => c.describe()).join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the store and the effects log from the test process.

interface Progress {
  status: string | undefined;
  /** Activity results recorded in the history. */
  recorded: number;
}

async function progressOf(provider: SqliteProvider, instanceId: string): Promise<Progress> {
  const instance = await provider.getInstance(instanceId);
  const history = instance ? await provider.getHistory(instanceId) : [];
  return { status: instance?.runtimeStatus, recorded: history.filter((e) => e.type === "TaskCompleted").length };
}

async function snapshot(provider: SqliteProvider): Promise<{ sequence: Progress; fanOut: Progress }> {
  return { sequence: await progressOf(provider, SEQUENCE_ID), fanOut: await progressOf(provider, FAN_OUT_ID) };
}

function readEffects(file: string): Effect[] {
  if (!existsSync(file)) return [];
  const out: Effect[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as Effect);
    } catch {
      // A line torn by SIGKILL mid-write: the activity did begin, but we cannot tell which.
    }
  }
  return out;
}

/**
 * Exactly one TaskScheduled per sequence number 0..n-1 with the expected name, and exactly one
 * TaskCompleted per TaskScheduled (none missing, none twice, none unmatched), no TaskFailed.
 */
function assertExactlyOnce(history: HistoryEvent[], instanceId: string, activity: string, n: number): Map<number, { input: string | undefined; result: string | undefined }> {
  const scheduled = new Map<number, { input: string | undefined; result: string | undefined }>();
  const completions = new Map<number, number>();
  for (const e of history) {
    if (e.type === "TaskScheduled") {
      assert.ok(!scheduled.has(e.eventId), `${instanceId}: TaskScheduled #${e.eventId} recorded twice`);
      assert.equal(e.name, activity, `${instanceId}: TaskScheduled #${e.eventId} names ${activity}`);
      scheduled.set(e.eventId, { input: e.input, result: undefined });
    } else if (e.type === "TaskCompleted") {
      completions.set(e.taskScheduledId, (completions.get(e.taskScheduledId) ?? 0) + 1);
      const s = scheduled.get(e.taskScheduledId);
      assert.ok(s, `${instanceId}: TaskCompleted for #${e.taskScheduledId} comes after its TaskScheduled`);
      s.result = e.result;
    } else {
      assert.notEqual(e.type, "TaskFailed", `${instanceId}: no activity failed (${JSON.stringify(e)})`);
    }
  }
  assert.deepEqual([...scheduled.keys()].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), `${instanceId}: one TaskScheduled per sequence number 0..${n - 1}`);
  const duplicated = [...completions].filter(([, count]) => count > 1);
  assert.deepEqual(duplicated, [], `${instanceId}: activity results recorded more than once ([taskScheduledId, times])`);
  const missing = [...scheduled.keys()].filter((id) => !completions.has(id));
  assert.deepEqual(missing, [], `${instanceId}: activity results never recorded`);
  assert.equal(history.filter((e) => e.type === "ExecutionStarted").length, 1, `${instanceId}: one ExecutionStarted`);
  const completed = history.filter((e) => e.type === "ExecutionCompleted");
  assert.equal(completed.length, 1, `${instanceId}: one ExecutionCompleted`);
  return scheduled;
}

interface Figures {
  kills: { sequenceRecorded: number; fanOutRecorded: number; sequenceBegun: number; fanOutBegun: number }[];
  executions: Record<string, number>;
  reExecutedSequenceSteps: number[];
  reExecutedFanOutItems: number;
  extraExecutions: number;
  reExecutedWithinProcess: Record<string, number>;
  lostLeaseWarnings: number;
}

// ---------------------------------------------------------------------------------------------

/**
 * `once`/`twice`: kills at chosen points (mid-sequence with a step in flight, mid-fan-out), checked to
 * be mid-way. `chaos`: kills at random times (seeded), some landing during start-up, during lease
 * take-over or during a commit; only the end state is checked.
 */
type Plan = { kind: "once" } | { kind: "twice" } | { kind: "chaos"; seed: number; kills: number };

/** Small seeded RNG (mulberry32), so a failing chaos run can be replayed with PERDURE_CRASH_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

async function crashScenario(t: TestContext, plan: Plan): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "perdure-crash-"));
  const db = join(dir, "perdure.db");
  const effectsFile = join(dir, "effects.jsonl");
  const provider = new SqliteProvider({ filename: db });
  const all: HostProcess[] = [];
  t.after(async () => {
    for (const c of all) c.kill("SIGKILL");
    await Promise.all(all.map((c) => c.exited));
    await provider.close();
    if (process.env.PERDURE_KEEP_CRASH_DIR) t.diagnostic(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  const hostProcess = (run: string, extra: string[]): HostProcess => {
    const c = new HostProcess(run, [db, effectsFile, ...extra]);
    all.push(c);
    return c;
  };
  const figures: Figures = { kills: [], executions: {}, reExecutedSequenceSteps: [], reExecutedFanOutItems: 0, extraExecutions: 0, reExecutedWithinProcess: {}, lostLeaseWarnings: 0 };

  /** SIGKILLs the victim, then reads (and records) where the store stands: what it committed last is in the file now. */
  const kill = async (victim: HostProcess): Promise<Awaited<ReturnType<typeof snapshot>>> => {
    await victim.killHard();
    const s = await snapshot(provider);
    const begun = (fn: string): number => new Set(readEffects(effectsFile).filter((e) => e.fn === fn && e.phase === "begin").map((e) => e.key)).size;
    figures.kills.push({ sequenceRecorded: s.sequence.recorded, fanOutRecorded: s.fanOut.recorded, sequenceBegun: begun(SEQUENCE_STEP), fanOutBegun: begun(FAN_OUT_ITEM) });
    return s;
  };
  const killMidway = async (victim: HostProcess, ready: (s: Awaited<ReturnType<typeof snapshot>>) => boolean, what: string): Promise<void> => {
    await until(what, PROGRESS_TIMEOUT_MS, [victim], async () => ready(await snapshot(provider)));
    const s = await kill(victim);
    assert.ok(s.sequence.status !== "Completed" && s.sequence.recorded < SEQUENCE_STEPS, `the sequence is mid-way at kill ${figures.kills.length}: ${JSON.stringify(s.sequence)}`);
    assert.ok(s.fanOut.status !== "Completed" && s.fanOut.recorded < FAN_OUT_SIZE, `the fan-out is mid-way at kill ${figures.kills.length}: ${JSON.stringify(s.fanOut)}`);
  };

  const runName = (n: number): string => String.fromCharCode(65 + n);
  if (plan.kind === "chaos") {
    const random = rng(plan.seed);
    const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    // A starts both instances (it is not killed before they exist), then dies at a random moment.
    const a = hostProcess("A", ["--start"]);
    await a.waitForLine("ready");
    await provider.initialize();
    await a.waitForLine("fan-out-started");
    await pause(random() * 400);
    await kill(a);
    for (let k = 1; k < plan.kills; k++) {
      // Each successor dies 0.1-1.5 s after its spawn: during start-up, while waiting out the dead
      // one's leases, or while working.
      const c = hostProcess(runName(k), []);
      await pause(100 + random() * 1400);
      await kill(c);
    }
  } else {
    // Process A starts both instances. The brakes (items that never finish in A) only guarantee that the
    // kill lands mid-way however slow the machine is; normally the kill comes long before them.
    // Sequence step 2 never finishes in A either, so A dies with a sequence step in flight, not only between steps.
    const a = hostProcess("A", ["--start", "--hold-fan-out-from", "100", "--hold-sequence-from", "2"]);
    await a.waitForLine("ready");
    await provider.initialize();
    const stepInFlight = (s: Awaited<ReturnType<typeof snapshot>>): boolean =>
      readEffects(effectsFile).some((e) => e.fn === SEQUENCE_STEP && e.phase === "begin" && e.key === s.sequence.recorded);
    await killMidway(a, (s) => s.sequence.recorded >= 2 && s.fanOut.recorded >= 30 && stepInFlight(s), "A to record ≥2 sequence steps and ≥30 fan-out items, with the next step running");
    assert.ok(figures.kills[0]!.sequenceBegun > figures.kills[0]!.sequenceRecorded, "A was killed with a sequence step in flight");

    if (plan.kind === "twice") {
      // Process B takes over (after A's leases expire), makes progress of its own on both, and is killed
      // too. Its brakes hold only 4 fan-out items (fewer than its 8 activity slots), so the sequence's
      // re-run step is not starved of a slot.
      const b = hostProcess("B", ["--hold-fan-out-from", String(FAN_OUT_SIZE - 4), "--hold-sequence-from", "5"]);
      const { fanOutRecorded: before, sequenceRecorded: seqBefore } = figures.kills[0]!;
      await killMidway(b, (s) => s.fanOut.recorded >= before + 25 && s.sequence.recorded > seqBefore, `B to record ≥25 more fan-out items (after ${before}) and ≥1 more sequence step (after ${seqBefore})`);
    }
  }

  // The last process must finish both, starting nothing itself.
  const final = hostProcess(runName(all.length), []);
  await until("both instances to finish", FINISH_TIMEOUT_MS, [final], async () => {
    const s = await snapshot(provider);
    for (const p of [s.sequence, s.fanOut]) {
      if (p.status === "Failed" || p.status === "Terminated") assert.fail(`an instance ended ${p.status}: ${JSON.stringify(s)}\n${final.describe()}`);
    }
    return s.sequence.status === "Completed" && s.fanOut.status === "Completed" ? s : undefined;
  });
  await final.waitForLine("ready"); // its SIGTERM handler is in place (a chaos run may be done before it is up)
  await final.stopGracefully();
  assert.equal(final.exit?.code, 0, `the final process stops cleanly\n${final.describe()}`);

  // ---- outputs
  const seq = await provider.getInstance(SEQUENCE_ID);
  const fan = await provider.getInstance(FAN_OUT_ID);
  assert.deepEqual(JSON.parse(seq!.output!), EXPECTED_SEQUENCE_OUTPUT, "the sequence output: six chained step results in order");
  assert.deepEqual(JSON.parse(fan!.output!), EXPECTED_FAN_OUT_OUTPUT, "the fan-out output: Σ 2·i for i < 200");

  // ---- histories: every activity result recorded exactly once, and the right one
  const seqHistory = await provider.getHistory(SEQUENCE_ID);
  const fanHistory = await provider.getHistory(FAN_OUT_ID);
  const seqTasks = assertExactlyOnce(seqHistory, SEQUENCE_ID, SEQUENCE_STEP, SEQUENCE_STEPS);
  const fanTasks = assertExactlyOnce(fanHistory, FAN_OUT_ID, FAN_OUT_ITEM, FAN_OUT_SIZE);
  for (const [id, task] of seqTasks) {
    assert.equal(task.result, JSON.stringify(EXPECTED_SEQUENCE_OUTPUT[id]), `${SEQUENCE_ID}: result of step ${id}`);
  }
  for (const [id, task] of fanTasks) {
    const i = JSON.parse(task.input!) as number;
    assert.equal(i, id, `${FAN_OUT_ID}: item #${id} was called with its index`);
    assert.equal(task.result, JSON.stringify(2 * i), `${FAN_OUT_ID}: result of item ${i}`);
  }

  // ---- replay from scratch reproduces both histories
  const app = createApp();
  registerCrashFunctions(app);
  await assertReplaysCleanly(provider, app.registry, SEQUENCE_ID);
  await assertReplaysCleanly(provider, app.registry, FAN_OUT_ID);
  assert.equal(seq!.name, SEQUENCE);
  assert.equal(fan!.name, FAN_OUT);

  // ---- no work left behind (internal tables, read-only): nothing would run again later
  const raw = new Database(db, { readonly: true, fileMustExist: true });
  try {
    assert.equal(raw.pragma("integrity_check", { simple: true }), "ok", "the database file is intact after the kills");
    const left = (table: string): number => (raw.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    assert.equal(left("activity_tasks"), 0, "no activity task left queued");
    assert.equal(left("messages"), 0, "no message left unconsumed");
    const locked = raw.prepare("SELECT instance_id FROM instances WHERE lock_token IS NOT NULL").all();
    assert.deepEqual(locked, [], "no instance left locked");
  } finally {
    raw.close();
  }

  // ---- effects: what ran where (at least once; re-executions allowed and reported)
  const effects = readEffects(effectsFile);
  const runs = all.map((c) => c.run);
  for (const run of runs) {
    const n = effects.filter((e) => e.run === run && e.phase === "end").length;
    figures.executions[run] = n;
    // A chaos victim may die before it runs anything, and the last victim may have finished everything.
    if (plan.kind !== "chaos" || run === runs[0]) assert.ok(n > 0, `activities ran to completion in process ${run}`);
  }
  const begins = new Map<string, number>();
  for (const e of effects) {
    if (e.phase !== "begin") continue;
    const k = `${e.fn}#${e.key}`;
    begins.set(k, (begins.get(k) ?? 0) + 1);
  }
  for (let i = 0; i < SEQUENCE_STEPS; i++) assert.ok(begins.has(`${SEQUENCE_STEP}#${i}`), `sequence step ${i} ran`);
  for (let i = 0; i < FAN_OUT_SIZE; i++) assert.ok(begins.has(`${FAN_OUT_ITEM}#${i}`), `fan-out item ${i} ran`);
  figures.reExecutedSequenceSteps = [...begins].filter(([k, n]) => k.startsWith(`${SEQUENCE_STEP}#`) && n > 1).map(([k]) => Number(k.split("#")[1]));
  figures.reExecutedFanOutItems = [...begins].filter(([k, n]) => k.startsWith(`${FAN_OUT_ITEM}#`) && n > 1).length;
  figures.extraExecutions = [...begins.values()].reduce((sum, n) => sum + n - 1, 0);
  // Re-executions inside one process (its own lease ran out, e.g. on a starved machine) are allowed too; reported.
  for (const run of runs) {
    const perRun = new Map<string, number>();
    for (const e of effects) if (e.run === run && e.phase === "begin") perRun.set(`${e.fn}#${e.key}`, (perRun.get(`${e.fn}#${e.key}`) ?? 0) + 1);
    figures.reExecutedWithinProcess[run] = [...perRun.values()].filter((n) => n > 1).length;
  }
  figures.lostLeaseWarnings = all.reduce((n, c) => n + (c.stderr.match(/not recorded|not committed/g)?.length ?? 0), 0);
  t.diagnostic(JSON.stringify(figures));
  return figures;
}

test("SIGKILL mid-sequence and mid-fan-out: a new process finishes both, each result recorded once", { timeout: 120_000 }, async (t) => {
  await crashScenario(t, { kind: "once" });
});

test("killed twice (kill, restart, kill, restart): still each result recorded once", { timeout: 150_000 }, async (t) => {
  await crashScenario(t, { kind: "twice" });
});

test("killed at random moments, four times in a row: still each result recorded once", { timeout: 180_000 }, async (t) => {
  const seed = process.env.PERDURE_CRASH_SEED ? Number(process.env.PERDURE_CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.diagnostic(`seed ${seed} (replay with PERDURE_CRASH_SEED=${seed})`);
  await crashScenario(t, { kind: "chaos", seed, kills: 4 });
});
