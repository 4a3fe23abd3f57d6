/**
 * The test side of the recovery tests: host processes on a SQLite file (a fixture run as
 * `node --import tsx <fixture> <db> <effects-file> ... --run X`, see fixtures/host-runner.ts), the
 * temporary directory they share with the test process, polling with timeouts, and the checks
 * every crash scenario ends with.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { SqliteProvider } from "../../src/providers/sqlite/sqlite-provider.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Generous: a loaded 2-core machine may take seconds just to start a tsx child. */
const STARTUP_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and SIGKILLed at teardown, whatever happened.

const children = new Set<HostProcess>();

after(() => {
  for (const c of children) c.kill("SIGKILL");
});
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

export class HostProcess {
  readonly proc: ChildProcess;
  stdout = "";
  stderr = "";
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    fixture: string,
    readonly run: string,
    args: string[],
  ) {
    this.proc = spawn(process.execPath, ["--import", "tsx", fixture, ...args, "--run", run], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
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

  /**
   * Stops the last process of a scenario: once its SIGTERM handler is in place (it prints "ready" after
   * installing it; a run may be done before it is up), gracefully, and it must exit with code 0.
   */
  async stopFinal(): Promise<void> {
    await this.waitForLine("ready");
    await this.stopGracefully();
    assert.equal(this.exit?.code, 0, `the final process stops cleanly\n${this.describe()}`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a value; fails with the children's output on timeout, if a watched
 * child dies, or if `failed` reports an error (the entity test's sender's).
 */
export async function until<T>(what: string, timeoutMs: number, watched: HostProcess[], probe: () => Promise<T | undefined | false>, failed: () => unknown = () => undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const error = failed();
    if (error !== undefined) assert.fail(`waiting for ${what}: the sender failed: ${error instanceof Error ? (error.stack ?? error.message) : JSON.stringify(error)}`);
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    const dead = watched.find((c) => !c.alive);
    if (dead) assert.fail(`waiting for ${what}: the child exited early\n${dead.describe()}`);
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}\n${watched.map((c) => c.describe()).join("\n")}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// One scenario's directory: the SQLite file, the effects log, the test process's provider on the
// file, and the host processes on it.

export interface Scenario {
  readonly dir: string;
  readonly db: string;
  readonly effectsFile: string;
  readonly provider: SqliteProvider;
  /** Every host process started so far, in order. */
  readonly all: HostProcess[];
  /** Starts a host process on the file, as `<fixture> <db> <effects-file> ...extra --run <run>`. */
  readonly hostProcess: (run: string, extra: string[]) => HostProcess;
  /**
   * Ends the scenario's figures: fills in `lostLeaseWarnings` (warnings of lost leases, results not
   * recorded or batches not committed, in all the processes' logs), reports them as a diagnostic and
   * returns them.
   */
  readonly report: <F extends { lostLeaseWarnings: number }>(figures: F) => F;
}

/**
 * Makes a scenario's directory (`<tmp>/<prefix>XXXXXX`) for host processes running `fixtures/<fixture>`
 * and, at the end of the test, runs `beforeTeardown`, SIGKILLs every host process, closes the provider
 * and removes the directory (kept, and reported, with PERDURE_KEEP_CRASH_DIR set).
 */
export function scenario(t: TestContext, fixture: string, prefix: string, beforeTeardown: () => Promise<void> = async () => undefined): Scenario {
  const fixturePath = fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const db = join(dir, "perdure.db");
  const effectsFile = join(dir, "effects.jsonl");
  const provider = new SqliteProvider({ filename: db });
  const all: HostProcess[] = [];
  t.after(async () => {
    await beforeTeardown();
    for (const c of all) c.kill("SIGKILL");
    await Promise.all(all.map((c) => c.exited));
    await provider.close();
    if (process.env.PERDURE_KEEP_CRASH_DIR) t.diagnostic(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    db,
    effectsFile,
    provider,
    all,
    hostProcess: (run, extra) => {
      const c = new HostProcess(fixturePath, run, [db, effectsFile, ...extra]);
      all.push(c);
      return c;
    },
    report: (figures) => {
      figures.lostLeaseWarnings = all.reduce((n, c) => n + (c.stderr.match(/not recorded|not committed/g)?.length ?? 0), 0);
      t.diagnostic(JSON.stringify(figures));
      return figures;
    },
  };
}

/** The name of the n-th process of a scenario: A, B, C... */
export const runName = (n: number): string => String.fromCharCode(65 + n);

/** Small seeded RNG (mulberry32), so a failing chaos run can be replayed with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A chaos run's seed: `envVar` if set, else a random one; reported, with how to replay it. */
export function chaosSeed(t: TestContext, envVar: string): number {
  const seed = process.env[envVar] ? Number(process.env[envVar]) : Math.floor(Math.random() * 2 ** 31);
  t.diagnostic(`seed ${seed} (replay with ${envVar}=${seed})`);
  return seed;
}

// ---------------------------------------------------------------------------------------------
// Reading the effects log and the store's internal tables from the test process.

/** The lines of an effects log (JSON lines appended by the host processes). */
export function readEffects<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const out: T[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // A line torn by SIGKILL mid-write: the activity or operation did begin, but we cannot tell which.
    }
  }
  return out;
}

/**
 * No work left behind (internal tables, read-only): nothing would run again later. The file is intact,
 * each of `emptyTables` (table → what its rows would be) is empty, no instance is locked, and `more`
 * holds (the scenario's own checks on the file).
 */
export function assertNothingLeftBehind(db: string, emptyTables: Record<string, string>, more: (raw: Database.Database) => void = () => undefined): void {
  const raw = new Database(db, { readonly: true, fileMustExist: true });
  try {
    assert.equal(raw.pragma("integrity_check", { simple: true }), "ok", "the database file is intact after the kills");
    const left = (table: string): number => (raw.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    for (const [table, message] of Object.entries(emptyTables)) assert.equal(left(table), 0, message);
    const locked = raw.prepare("SELECT instance_id FROM instances WHERE lock_token IS NOT NULL").all();
    assert.deepEqual(locked, [], "no instance left locked");
    more(raw);
  } finally {
    raw.close();
  }
}
