/**
 * limit: the physical floor of the store. The same kind of SQLite database the provider uses (a file
 * in the same temp directory, WAL, the same synchronous mode) doing the least a step needs: one
 * committed single-row insert per transaction on one connection, for about 2 s. The engine's
 * sequential step rate is compared against this (PERF.md: at least 50%).
 */
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { check, SkipError, type Workload } from "../harness.js";

const DURATION_MS = 2000;

export const limit: Workload = {
  name: "limit",
  summary: "raw committed single-row inserts per second on the same database (SQLite only)",
  async run({ store, scale }) {
    if (!store.sqlite) throw new SkipError(`no physical floor to measure for the ${store.kind} store`);
    const duration = Math.max(200, Math.round(DURATION_MS * Math.min(1, scale)));
    const db = new Database(`${store.sqlite.file}.limit`);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${store.sqlite.synchronous}`);
      db.exec("CREATE TABLE steps (instance_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (instance_id, seq)) WITHOUT ROWID");
      const insert = db.prepare("INSERT INTO steps (instance_id, seq, event) VALUES (?, ?, ?)");
      const event = JSON.stringify({ type: "TaskCompleted", eventId: -1, timestamp: new Date().toISOString(), taskScheduledId: 0, result: "0" });
      const commit = db.transaction((seq: number) => insert.run("limit-0", seq, event));
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
        params: { durationMs: Math.round(elapsed), commits, synchronous: store.sqlite.synchronous },
      };
    } finally {
      db.close();
    }
  },
};
