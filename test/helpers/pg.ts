/**
 * PostgreSQL for tests: the server named by PERDURE_TEST_PG (default the local one), a schema of
 * its own per test, and a loud skip when no server answers — except under CI=true, where a missing
 * server fails the run.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";

export const PG_URL = process.env.PERDURE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

const CHECK = `
const pg = require("pg");
const c = new pg.Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
c.connect().then(() => c.query("SELECT 1")).then(() => { console.log("ok"); return c.end(); }, (e) => { console.log(e.message); process.exit(0); });`;

/**
 * Whether the server answers, for code that declares tests synchronously: asked once per minute
 * (test files run in processes of their own; the answer is cached in a temp file).
 */
export function pgProblemSync(): string | undefined {
  const cache = join(tmpdir(), `perdure-pg-check-${createHash("sha1").update(PG_URL).digest("hex").slice(0, 12)}.json`);
  try {
    const cached = JSON.parse(readFileSync(cache, "utf8")) as { at: number; problem: string | null };
    if (Date.now() - cached.at < 60_000) return cached.problem ?? undefined;
  } catch {
    // no cache yet
  }
  const r = spawnSync(process.execPath, ["-e", CHECK, PG_URL], { encoding: "utf8", timeout: 10_000 });
  const out = (r.stdout ?? "").trim();
  const problem = out === "ok" ? undefined : out || r.error?.message || `exit ${String(r.status)}`;
  try {
    writeFileSync(cache, JSON.stringify({ at: Date.now(), problem: problem ?? null }));
  } catch {
    // the cache is an optimisation
  }
  return problem;
}

let availability: Promise<string | undefined> | undefined;

/** Undefined when the server answers; otherwise why not. */
export function pgProblem(): Promise<string | undefined> {
  availability ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return availability;
}

let warned = false;

/**
 * Declares `body`'s tests when the server answers. Without one they are skipped with a loud message,
 * and under CI=true a failing test says why instead.
 */
export async function withPostgres(title: string, body: () => void): Promise<void> {
  declareWithPostgres(title, await pgProblem(), body);
}

/** withPostgres for code that must declare its tests synchronously. */
export function withPostgresSync(title: string, body: () => void): void {
  declareWithPostgres(title, pgProblemSync(), body);
}

function declareWithPostgres(title: string, problem: string | undefined, body: () => void): void {
  if (problem === undefined) {
    body();
    return;
  }
  const message = `PostgreSQL at ${PG_URL.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")} does not answer (${problem}): ${title} not run. Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set PERDURE_TEST_PG.`;
  if (!warned) {
    warned = true;
    console.error(`\n${"!".repeat(100)}\n!! ${message}\n${"!".repeat(100)}\n`);
  }
  describe(title, () => {
    it("needs PostgreSQL", (t) => {
      if (process.env.CI === "true") throw new Error(`${message} (CI=true: a missing server fails the run)`);
      t.skip(message);
    });
  });
}

const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
const made = new Set<string>();
after(async () => {
  for (const schema of made) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await admin.end().catch(() => undefined);
});

/** A name for a schema of one test's own (created by the provider, dropped by `dropSchema` or at exit). */
export function newSchema(prefix = "t"): string {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
  made.add(name);
  return name;
}

export async function dropSchema(schema: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  made.delete(schema);
}

/** Runs one statement as the test's administrator (for checks that look under the provider). */
export async function adminQuery<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  return admin.query<R>(text, values);
}
