/**
 * PostgreSQL for tests: the server named by PERDURE_TEST_PG (default the local one), a schema of
 * its own per test, and a loud skip when no server answers — except under CI=true, where a missing
 * server fails the run.
 */
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import pg from "pg";

export const PG_URL = process.env.PERDURE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

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
  const problem = await pgProblem();
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
