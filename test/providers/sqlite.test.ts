import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../../src/providers/sqlite/migrations.js";
import { SqliteProvider } from "../../src/providers/sqlite/sqlite-provider.js";
import { runConformanceSuite } from "./conformance/index.js";
import { LEASE, T0, assertVersionsBackfilled, commitFor, commitOk, create, lockAll, lockOne, type ProviderHandle, writeVersionedInstances } from "./fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "perdure-sqlite-conformance-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const newFile = (): string => join(dir, `store-${process.pid}-${n++}.db`);

/**
 * A provider on its own temp file; `reopen` closes it and opens the same file again, `second` opens
 * another provider on the file, as a second process would.
 */
async function onFile(filename = newFile()): Promise<ProviderHandle & { provider: SqliteProvider; reopen: () => Promise<SqliteProvider> }> {
  let current = new SqliteProvider({ filename });
  await current.initialize();
  return {
    provider: current,
    cleanup: async () => {
      await current.close();
      for (const suffix of ["", "-wal", "-shm"]) rmSync(filename + suffix, { force: true });
    },
    reopen: async () => {
      await current.close();
      current = new SqliteProvider({ filename });
      await current.initialize();
      return current;
    },
    second: async () => new SqliteProvider({ filename }),
    leasesStarts: true,
    leasesReplacingStarts: true,
  };
}

runConformanceSuite("sqlite (temp file)", () => onFile());

runConformanceSuite("sqlite (:memory:)", async () => {
  const provider = new SqliteProvider({ filename: ":memory:" });
  await provider.initialize();
  return { provider, cleanup: () => provider.close(), noSecondReason: "a SQLite ':memory:' database belongs to its one connection: no second handle can share it", leasesStarts: true, leasesReplacingStarts: true };
});

describe("SqliteProvider specifics", () => {
  it("reopening the same file keeps the data, and migration is idempotent", async () => {
    const filename = newFile();
    const a = await onFile(filename);
    try {
      await create(a.provider, "kept", { input: '"v"' });
      await a.provider.initialize();
      const b = await a.reopen();
      await b.initialize();
      const c = await a.reopen();
      assert.equal((await c.getInstance("kept"))?.input, '"v"');
      await c.close();
      const db = new Database(filename, { readonly: true });
      try {
        const rows = db.prepare("SELECT version, description FROM schema_version ORDER BY version").all() as { version: number; description: string }[];
        assert.deepEqual(
          rows,
          MIGRATIONS.map((m) => ({ version: m.version, description: m.description })),
        );
      } finally {
        db.close();
      }
    } finally {
      await a.cleanup();
    }
  });

  it("migrates a version-2 database to contract v2: stored kind, name keys, delivery counts", async () => {
    const filename = newFile();
    const db = new Database(filename);
    db.exec("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    for (const m of MIGRATIONS.filter((x) => x.version <= 2)) {
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)").run(m.version, m.description, T0);
    }
    const row = db.prepare("INSERT INTO instances (instance_id, name, execution_id, runtime_status, created_at, last_updated_at) VALUES (?, ?, ?, ?, ?, ?)");
    row.run("o1", "MyOrch", "e1", "Running", T0, T0);
    row.run("@counter@k", "counter", "", "Running", T0 + 1, T0 + 1);
    const message = db.prepare("INSERT INTO messages (instance_id, execution_id, event_type, event, visible_at) VALUES (?, ?, ?, ?, ?)");
    message.run("o1", "e1", "EventRaised", JSON.stringify({ type: "EventRaised", eventId: -1, timestamp: new Date(T0).toISOString(), name: "go" }), T0);
    message.run("@counter@k", null, "EventRaised", JSON.stringify({ type: "EventRaised", eventId: -1, timestamp: new Date(T0).toISOString(), name: "op" }), T0);
    db.prepare("INSERT INTO activity_tasks (instance_id, execution_id, task_scheduled_id, name, input, visible_at) VALUES (?, ?, ?, ?, ?, ?)").run("o1", "e1", 1, "SendEmail", '"x"', T0);
    db.close();

    const p = new SqliteProvider({ filename });
    await p.initialize();
    try {
      assert.equal((await p.getInstance("o1"))?.kind, "orchestration");
      assert.equal((await p.getInstance("@counter@k"))?.kind, "entity");
      assert.deepEqual((await p.queryInstances({ name: "MYORCH" })).instances.map((r) => r.instanceId), ["o1"]);
      const items = await lockAll(p, T0, { functions: { orchestrations: ["myorch"], entities: ["counter"] } });
      assert.deepEqual(items.map((i) => [i.instanceId, i.dequeueCount, i.messages[0]?.dequeueCount]).sort(), [
        ["@counter@k", 1, 1],
        ["o1", 1, 1],
      ]);
      const [task] = await p.lockActivityWorkItems({ workerId: "w", now: T0, leaseMs: LEASE, max: 10, functions: ["sendemail"] });
      assert.equal(task?.name, "SendEmail");
      assert.equal(task.dequeueCount, 1);
    } finally {
      await p.close();
      for (const suffix of ["", "-wal", "-shm"]) rmSync(filename + suffix, { force: true });
    }
  });

  it("migration 6 reads each instance's version from its ExecutionStarted, in history or still in the inbox", async () => {
    const filename = newFile();
    const before = new SqliteProvider({ filename });
    await before.initialize();
    await writeVersionedInstances(before);
    await before.close();
    // Back to schema 5, with the rows the current code wrote: only the column and its values go.
    const db = new Database(filename);
    db.exec("ALTER TABLE instances DROP COLUMN version; DROP TABLE payloads; DELETE FROM schema_version WHERE version >= 6");
    db.close();
    const p = new SqliteProvider({ filename });
    await p.initialize();
    try {
      await assertVersionsBackfilled(p);
    } finally {
      await p.close();
      for (const suffix of ["", "-wal", "-shm"]) rmSync(filename + suffix, { force: true });
    }
  });

  it("refuses a database whose schema is newer than this code knows (SCHEMA_VERSION_UNSUPPORTED)", async () => {
    const filename = newFile();
    const a = await onFile(filename);
    await create(a.provider, "x");
    await a.provider.close();
    const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    const db = new Database(filename);
    db.prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)").run(latest + 1, "from the future", T0);
    db.close();

    const p = new SqliteProvider({ filename });
    await assert.rejects(p.initialize(), (err: unknown) => {
      assert.equal((err as { code?: unknown }).code, "SCHEMA_VERSION_UNSUPPORTED");
      assert.match((err as Error).message, new RegExp(`version ${latest + 1}`));
      return true;
    });
    // Nothing was changed, and the provider stays unusable rather than half-open.
    await assert.rejects(p.getInstance("x"), (err: unknown) => (err as { code?: unknown }).code === "PROVIDER_NOT_INITIALIZED");
    await assert.rejects(p.initialize(), (err: unknown) => (err as { code?: unknown }).code === "SCHEMA_VERSION_UNSUPPORTED");
    await p.close();
    // The failed initialize left no connection open: switching the journal mode needs the file to itself.
    const sole = new Database(filename);
    try {
      assert.equal(sole.pragma("journal_mode = DELETE", { simple: true }), "delete");
    } finally {
      sole.close();
    }
    const check = new Database(filename, { readonly: true });
    try {
      assert.equal((check.prepare("SELECT MAX(version) AS v FROM schema_version").get() as { v: number }).v, latest + 1);
      assert.equal((check.prepare("SELECT COUNT(*) AS n FROM instances").get() as { n: number }).n, 1);
    } finally {
      check.close();
    }
    rmSync(filename, { force: true });
  });

  it("stores hostile strings literally and leaves the schema intact", async () => {
    const filename = newFile();
    const h = await onFile(filename);
    const p = h.provider;
    try {
      const hostile = ["' OR 1=1 --", "'; DROP TABLE instances; --", "x\"); DELETE FROM messages; --", "100%' OR instance_id LIKE '%"];
      for (const id of hostile) await create(p, id, { name: id, input: JSON.stringify(id) });
      for (const id of hostile) assert.equal((await p.getInstance(id))?.name, id);
      assert.deepEqual((await p.queryInstances({ instanceIdPrefix: "' OR 1=1 --" })).instances.map((r) => r.instanceId), ["' OR 1=1 --"]);
      assert.deepEqual((await p.queryInstances({ instanceIdPrefix: "' OR '1'='1' --" })).instances, []);
      assert.deepEqual((await p.queryInstances({ instanceIdPrefix: "100%" })).instances.map((r) => r.instanceId), ["100%' OR instance_id LIKE '%"]);
      assert.deepEqual(await p.queryInstances({ instanceIdPrefix: "%" }), { instances: [] });
      assert.equal(await p.purgeInstance("' OR 1=1 --"), 1);
      assert.equal((await p.queryInstances({})).instances.length, hostile.length - 1);
      await p.close();
      const db = new Database(filename, { readonly: true });
      try {
        const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
        for (const t of ["activity_tasks", "history", "instances", "messages", "schema_version"]) assert.ok(tables.includes(t), `table ${t} exists`);
        assert.equal((db.prepare("SELECT COUNT(*) AS n FROM instances").get() as { n: number }).n, hostile.length - 1);
        assert.equal((db.prepare("SELECT COUNT(*) AS n FROM messages").get() as { n: number }).n, hostile.length - 1);
      } finally {
        db.close();
      }
    } finally {
      await h.cleanup();
    }
  });

  it("one unreadable row does not stop the lock: the item says what could not be read, the others are handed out as usual", async () => {
    const filename = newFile();
    const h = await onFile(filename);
    const p = h.provider;
    try {
      await create(p, "bad");
      await create(p, "good");
      const first = await lockOne(p, "bad", T0);
      await commitOk(p, commitFor(first, { newHistory: [{ type: "OrchestratorStarted", eventId: -1, timestamp: new Date(T0).toISOString() }] }), T0);
      await create(p, "bad-too");
      const raw = new Database(filename);
      try {
        raw.prepare("UPDATE history SET event = '{not json' WHERE instance_id = 'bad'").run();
        raw.prepare("UPDATE messages SET event = '{not json' WHERE instance_id = 'bad-too'").run();
        raw.prepare("INSERT INTO messages (instance_id, execution_id, event_type, event, visible_at) VALUES ('bad', NULL, 'EventRaised', ?, ?)").run(JSON.stringify({ type: "EventRaised", eventId: -1, timestamp: new Date(T0).toISOString(), name: "e" }), T0);
      } finally {
        raw.close();
      }
      const items = await lockAll(p, T0 + 1);
      const by = new Map(items.map((i) => [i.instanceId, i]));
      assert.deepEqual([...by.keys()].sort(), ["bad", "bad-too", "good"]);
      assert.equal(by.get("good")!.unreadable, undefined);
      assert.match(by.get("bad")!.unreadable ?? "", /could not be read \(the history: /);
      assert.equal(by.get("bad")!.history, undefined);
      assert.equal(by.get("bad")!.messages.length, 1, "the readable message is still handed out");
      assert.match(by.get("bad-too")!.unreadable ?? "", /message \d+: /);
      assert.deepEqual(by.get("bad-too")!.messages, []);
    } finally {
      await h.cleanup();
    }
  });

  it("two providers on one file (two processes) share leases", async () => {
    const filename = newFile();
    const a = await onFile(filename);
    const b = new SqliteProvider({ filename });
    await b.initialize();
    try {
      await create(a.provider, "shared");
      const held = await lockOne(a.provider, "shared", T0);
      assert.deepEqual(await lockAll(b, T0 + 1), [], "the other process sees the lease");
      const taken = await lockOne(b, "shared", T0 + LEASE);
      const [lost] = await a.provider.completeOrchestrationWorkItems([commitFor(held)], T0 + LEASE + 1);
      assert.equal(lost?.ok, false);
      await commitOk(b, commitFor(taken, { status: "Completed" }), T0 + LEASE + 2);
      assert.equal((await a.provider.getInstance("shared"))?.runtimeStatus, "Completed");
    } finally {
      await b.close();
      await a.cleanup();
    }
  });
});

describe("SQLite: processes opening a new store at once", () => {
  const dir = mkdtempSync(join(tmpdir(), "perdure-sqlite-race-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("all of them open it: switching a new file to WAL and migrating it wait for each other", async () => {
    const script = new URL("./open-sqlite.fixture.ts", import.meta.url).pathname;
    const outcomes: string[] = [];
    for (let round = 0; round < 3; round++) {
      const file = join(dir, `race-${round}.db`);
      const startAt = Date.now() + 2_000;
      outcomes.push(
        ...(await Promise.all(
          Array.from({ length: 6 }, () =>
            new Promise<string>((resolve) => {
              const child = spawn(process.execPath, ["--import", "tsx", script, file, String(startAt)], { stdio: ["ignore", "pipe", "inherit"] });
              let out = "";
              child.stdout.on("data", (d: Buffer) => (out += d.toString()));
              child.on("close", () => resolve(out.trim()));
            }),
          ),
        )),
      );
    }
    assert.deepEqual(outcomes.filter((o) => o !== "ok"), [], "every process opened the store");
    assert.equal(outcomes.length, 18);
  });
});
