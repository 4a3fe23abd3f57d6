/**
 * limit: the physical floor of the store, measured beside the engine on the same database doing the
 * least a step needs: one committed single-row insert per transaction, for about 2 s.
 * - SQLite: a file in the same temp directory, WAL, the same synchronous mode, one connection.
 * - PostgreSQL: a table in the run's own schema, with 1 connection and then with 16 at once.
 * The engine's sequential step rate is compared against the one-connection figure.
 */
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import pg from "pg";
import { type BenchStore, check, type Measurement, SkipError, type Workload, type WorkloadResult } from "../harness.js";
import { WAL_AUTOCHECKPOINT_PAGES } from "../../src/providers/sqlite/sqlite-provider.js";

const DURATION_MS = 2000;
const EVENT = JSON.stringify({ type: "TaskCompleted", eventId: -1, timestamp: new Date().toISOString(), taskScheduledId: 0, result: "0" });

function sqliteFloor(sqlite: NonNullable<BenchStore["sqlite"]>, duration: number): WorkloadResult {
  const db = new Database(`${sqlite.file}.limit`);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${sqlite.synchronous}`);
    // As the store does (sqlite-provider.ts): the floor is measured with the store's own settings.
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    db.exec("CREATE TABLE steps (instance_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (instance_id, seq)) WITHOUT ROWID");
    const insert = db.prepare("INSERT INTO steps (instance_id, seq, event) VALUES (?, ?, ?)");
    const commit = db.transaction((seq: number) => insert.run("limit-0", seq, EVENT));
    let commits = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < duration) {
      // Check the clock every 16 commits: the loop itself stays cheap next to a commit.
      for (let i = 0; i < 16; i++) commit.immediate(commits++);
      elapsed = performance.now() - start;
    }
    const rows = (db.prepare("SELECT COUNT(*) AS n FROM steps").get() as { n: number }).n;
    check(rows === commits, () => `limit: ${rows} rows after ${commits} commits.`);
    return {
      measurements: [{ metric: "commits/s", value: commits / (elapsed / 1000), unit: "commits/s", better: "higher" }],
      params: { durationMs: Math.round(elapsed), commits, synchronous: sqlite.synchronous },
    };
  } finally {
    db.close();
  }
}

/** Committed single-row inserts per second with `connections` clients inserting at once. */
async function postgresRate(pool: pg.Pool, table: string, connections: number, duration: number): Promise<{ rate: number; commits: number }> {
  let commits = 0;
  const start = performance.now();
  const deadline = start + duration;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = await pool.connect();
      try {
        for (let seq = 0; performance.now() < deadline; seq++) {
          await client.query({ name: "limit-insert", text: `INSERT INTO ${table} (instance_id, seq, event) VALUES ($1, $2, $3)`, values: [`limit-${connections}-${c}`, seq, EVENT] });
          commits++;
        }
      } finally {
        client.release();
      }
    }),
  );
  return { rate: commits / ((performance.now() - start) / 1000), commits };
}

async function postgresFloor(postgres: NonNullable<BenchStore["postgres"]>, duration: number): Promise<WorkloadResult> {
  const pool = new pg.Pool({ connectionString: postgres.url, max: 16 });
  const table = `"${postgres.schema}".limit_steps`;
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS "${postgres.schema}"`);
    await pool.query(`CREATE TABLE ${table} (instance_id text NOT NULL, seq integer NOT NULL, event text NOT NULL, PRIMARY KEY (instance_id, seq))`);
    const one = await postgresRate(pool, table, 1, duration);
    const many = await postgresRate(pool, table, 16, duration);
    const rows = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    check(rows === one.commits + many.commits, () => `limit: ${rows} rows after ${one.commits + many.commits} commits.`);
    const settings = await pool.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'wal_sync_method')");
    const measurements: Measurement[] = [
      { metric: "commits/s", value: one.rate, unit: "commits/s", better: "higher" },
      { metric: "commits/s, 16 connections", value: many.rate, unit: "commits/s", better: "higher" },
    ];
    return { measurements, params: { durationMs: duration, ...Object.fromEntries(settings.rows.map((r) => [r.name, r.setting])) } };
  } finally {
    await pool.end();
  }
}

export const limit: Workload = {
  name: "limit",
  summary: "raw committed single-row inserts per second on the same database (PostgreSQL: 1 and 16 connections)",
  async run({ store, scale }) {
    const duration = Math.max(200, Math.round(DURATION_MS * Math.min(1, scale)));
    if (store.sqlite) return sqliteFloor(store.sqlite, duration);
    if (store.postgres) return postgresFloor(store.postgres, duration);
    throw new SkipError(`no physical floor to measure for the ${store.kind} store`);
  },
};
