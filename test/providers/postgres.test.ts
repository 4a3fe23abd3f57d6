import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { afterEach, describe, it } from "node:test";
import pg from "pg";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { providerFromUrl, StoreUrlError } from "../../src/host/store-url.js";
import { PG_MIGRATIONS } from "../../src/providers/postgres/migrations.js";
import { PostgresProvider, type PostgresProviderOptions } from "../../src/providers/postgres/postgres-provider.js";
import { SchemaVersionError } from "../../src/providers/schema-version.js";
import { eventually } from "../helpers/hosts.js";
import { adminQuery, dropSchema, newSchema, PG_URL, withPostgres } from "../helpers/pg.js";
import { runConformanceSuite } from "./conformance/index.js";
import {
  T0,
  assertLockLost,
  assertVersionsBackfilled,
  commitFor,
  commitOk,
  commitOne,
  create,
  eventRaised,
  hasCode,
  ids,
  lockActivities,
  lockAll,
  lockOne,
  optimisticFor,
  orchestratorStarted,
  runTo,
  writeVersionedInstances,
} from "./fixtures.js";

const open = (schema: string): PostgresProvider => new PostgresProvider({ connectionString: PG_URL, schema, poolSize: 4 });

await withPostgres("StorageProvider conformance: postgres", () => {
  runConformanceSuite("postgres (a schema per test, pools of 4)", async () => {
    const schema = newSchema("conf");
    let current = open(schema);
    await current.initialize();
    return {
      provider: current,
      cleanup: async () => {
        await current.close();
        await dropSchema(schema);
      },
      reopen: async () => {
        await current.close();
        current = open(schema);
        await current.initialize();
        return current;
      },
      second: async () => open(schema),
      leasesStarts: true,
    };
  });
});

await withPostgres("PostgresProvider specifics", () => {
  describe("PostgresProvider specifics", () => {
    const made: PostgresProvider[] = [];
    const fresh = async (schema = newSchema("pgs"), options: Partial<PostgresProviderOptions> = {}): Promise<PostgresProvider> => {
      const p = new PostgresProvider({ connectionString: PG_URL, schema, poolSize: 4, warn: () => undefined, ...options });
      made.push(p);
      await p.initialize();
      return p;
    };
    afterEach(async () => {
      for (const p of made.splice(0)) await p.close();
    });

    it("ten hosts starting at once on a new schema migrate it once", async () => {
      const schema = newSchema("mig");
      const providers = Array.from({ length: 10 }, () => new PostgresProvider({ connectionString: PG_URL, schema, poolSize: 2, warn: () => undefined }));
      made.push(...providers);
      await Promise.all(providers.map((p) => p.initialize()));
      const rows = await adminQuery<{ version: number; description: string }>(`SELECT version, description FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(
        rows.rows,
        PG_MIGRATIONS.map((m) => ({ version: m.version, description: m.description })),
      );
      await create(providers[3]!, "works");
      assert.equal((await providers[7]!.getInstance("works"))?.runtimeStatus, "Pending");
    });

    it("refuses a schema migrated by a newer Perdure (SCHEMA_VERSION_UNSUPPORTED), and names that are not identifiers", async () => {
      const schema = newSchema("new");
      await fresh(schema);
      await adminQuery(`INSERT INTO "${schema}".schema_version (version, description, applied_at) VALUES ($1, 'from the future', 0)`, [PG_MIGRATIONS.length + 1]);
      const p = new PostgresProvider({ connectionString: PG_URL, schema, warn: () => undefined });
      await assert.rejects(p.initialize(), hasCode("SCHEMA_VERSION_UNSUPPORTED", SchemaVersionError));
      await p.close();
      assert.throws(() => new PostgresProvider({ connectionString: PG_URL, schema: 'x"; DROP TABLE y; --' }), hasCode("INVALID_ARGUMENT", InvalidArgumentError));
    });

    it("migration 4 reads each instance's version from its ExecutionStarted, in history or still in the inbox", async () => {
      const schema = newSchema("mig4");
      await writeVersionedInstances(await fresh(schema));
      for (const p of made.splice(0)) await p.close();
      // Back to schema 3, with the rows the current code wrote: only the column and its values go.
      await adminQuery(`ALTER TABLE "${schema}".instances DROP COLUMN version`);
      await adminQuery(`DROP TABLE "${schema}".payloads`);
      await adminQuery(`DELETE FROM "${schema}".schema_version WHERE version >= 4`);
      await assertVersionsBackfilled(await fresh(schema));
    });

    it("takes the schema and pool size from the store URL, and refuses bad ones", () => {
      const url = new URL(PG_URL);
      url.searchParams.set("schema", "tenant_a");
      url.searchParams.set("pool", "3");
      const p = providerFromUrl(url.toString());
      assert.ok(p instanceof PostgresProvider);
      assert.equal(p.schema, "tenant_a");
      assert.equal((providerFromUrl(PG_URL) as PostgresProvider).schema, "perdure");
      for (const bad of ["postgres://h/db?schema=1x", "postgres://h/db?pool=0", "postgres://h/db?pool=many", "postgres://h", "postgres://h:notaport/db"]) {
        assert.throws(() => providerFromUrl(bad), hasCode("INVALID_STORE_URL", StoreUrlError), bad);
      }
    });

    it("never treats anything as due before the database's clock: a caller whose clock runs ahead fires no timer and takes over no lease early", async () => {
      const p = await fresh();
      const dbNow = await p.storeTime();
      const ahead = dbNow + 10_000;
      await create(p, "timer", { now: dbNow, visibleAt: dbNow + 5_000 });
      assert.deepEqual(await lockAll(p, ahead), [], "a message due in 5 s by the database is not handed to a caller 10 s ahead");
      await create(p, "leased", { now: dbNow });
      const held = await lockOne(p, "leased", dbNow, { leaseMs: 5_000, workerId: "a" });
      assert.deepEqual(ids(await lockAll(p, ahead, { workerId: "b" })), [], "a lease that expires in 5 s by the database is not taken over");
      assert.ok((await commitOne(p, commitFor(held), dbNow + 1)).ok, "the holder still commits");
    });

    it("wakes other processes on new work (LISTEN/NOTIFY), and a restarted listener looks for work again", async () => {
      const schema = newSchema("ntf");
      const p = await fresh(schema);
      const q = await fresh(schema);
      const seen: [string, number][] = [];
      q.onWork((kind, at) => seen.push([kind, at]));
      await create(p, "n1", { now: T0 });
      await eventually(async () => seen.some(([k, at]) => k === "orchestration" && at === T0), 5_000, "q to hear of p's start");
      // Kill q's listening connection: it comes back and announces work to look for.
      seen.length = 0;
      await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()", [`LISTEN "perdure:${schema}"%`]);
      await eventually(async () => seen.length > 0, 10_000, "the listener to reconnect and wake its process");
      seen.length = 0;
      await create(p, "n2", { now: T0 + 1 });
      await eventually(async () => seen.some(([k, at]) => k === "orchestration" && at === T0 + 1), 5_000, "q to hear of p's next start");
    });

    it("rides out lost connections: work goes on over new ones", async () => {
      const schema = newSchema("lost");
      const p = await fresh(schema);
      await create(p, "before");
      await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [`perdure:${schema}`]);
      await create(p, "after");
      const item = await lockOne(p, "after", T0);
      await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [`perdure:${schema}`]);
      await commitOk(p, commitFor(item, { status: "Completed" }), T0 + 1);
      assert.equal((await p.getInstance("after"))?.runtimeStatus, "Completed");
    });

    it("commits many steps in one transaction, each fenced on its own: one refused does not refuse the others", async () => {
      const p = await fresh();
      const n = 40;
      for (let i = 0; i < n; i++) await runTo(p, `g${i}`, "Running", { executionId: `e${i}` });
      const records = await Promise.all(Array.from({ length: n }, (_, i) => p.getInstance(`g${i}`)));
      const commits = records.map((rec, i) => optimisticFor(i === 7 ? { ...rec!, historyLength: 99 } : rec!, { newHistory: [orchestratorStarted(T0 + 1)], instance: { customStatus: `"${i}"` } }));
      const before = p.stats.writeTransactions;
      const results = await p.completeOrchestrationWorkItems(commits, T0 + 1);
      assert.ok(p.stats.writeTransactions - before <= 2, `group commit: ${p.stats.writeTransactions - before} write transactions for ${n} steps`);
      results.forEach((r, i) => (i === 7 ? assertLockLost(r, "the stale step") : assert.ok(r.ok, `step ${i}`)));
      for (let i = 0; i < n; i++) assert.equal((await p.getInstance(`g${i}`))?.customStatus, i === 7 ? undefined : `"${i}"`);
    });

    it("writes a fan-out of thousands of activities in chunks, in the step's one transaction, with the leased ones handed back", async () => {
      const schema = newSchema("bulk");
      const p = await fresh(schema);
      await create(p, "big");
      const item = await lockOne(p, "big", T0);
      const n = 4_500;
      const before = p.stats.writeTransactions;
      const r = await commitOk(
        p,
        {
          ...commitFor(item, { status: "Running", newHistory: [orchestratorStarted(T0 + 1)] }),
          activityTasks: Array.from({ length: n }, (_, i) => ({ instanceId: "big", executionId: item.instance.executionId, taskScheduledId: i, name: "work", input: String(i) })),
          leaseActivities: { workerId: "w", leaseMs: 60_000, max: 10 },
        },
        T0 + 1,
      );
      assert.equal(p.stats.writeTransactions - before, 1, "one transaction");
      assert.deepEqual(
        (r.leasedActivities ?? []).map((a) => a.taskScheduledId),
        Array.from({ length: 10 }, (_, i) => i),
      );
      assert.ok((r.leasedActivities ?? []).every((a) => a.id > 0));
      const rows = await adminQuery<{ n: number; leased: number; distinct: number }>(
        `SELECT count(*)::int AS n, count(lock_token)::int AS leased, count(DISTINCT task_scheduled_id)::int AS distinct FROM "${schema}".activity_tasks`,
      );
      assert.deepEqual(rows.rows[0], { n, leased: 10, distinct: n });
      const free = await lockActivities(p, T0 + 2, { max: 5_000 });
      assert.equal(free.length, n - 10, "every task that was not leased can be taken");
    });

    it("a leased step written in one statement sees a message sent while it waited for the row", async () => {
      const schema = newSchema("race");
      const p = await fresh(schema);
      await create(p, "r1");
      const item = await lockOne(p, "r1", T0);
      const sender = new pg.Client({ connectionString: PG_URL });
      await sender.connect();
      try {
        // What a sender's transaction does to a leased instance: its message, and the row's ready_at.
        await sender.query("BEGIN");
        await sender.query(`INSERT INTO "${schema}".messages (instance_id, execution_id, event_type, event, visible_at) VALUES ('r1', $1, 'EventRaised', $2, $3)`, [
          item.instance.executionId,
          JSON.stringify(eventRaised("late", T0, '"x"')),
          T0,
        ]);
        await sender.query(`UPDATE "${schema}".instances SET ready_at = LEAST(ready_at, $1::bigint) WHERE instance_id = 'r1'`, [T0]);
        // The step's statement starts (its snapshot cannot see the message) and waits for the row.
        const step = commitOk(p, commitFor(item, { status: "Running", newHistory: [orchestratorStarted(T0 + 1)] }), T0 + 1);
        await eventually(async () => {
          const waiting = await adminQuery<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = $1", [`perdure:${schema}`]);
          return waiting.rows[0]!.n > 0;
        });
        await sender.query("COMMIT");
        await step;
      } finally {
        await sender.end();
      }
      const next = await lockOne(p, "r1", T0 + 2);
      assert.deepEqual(
        next.messages.map((m) => m.message.event.type),
        ["EventRaised"],
        "the message sent meanwhile makes the instance ready again",
      );
      assert.equal(next.instance.historyLength, 1);
    });

    it("runs with a least-privilege role: data rights on the schema's tables, no DDL", async () => {
      const schema = newSchema("role");
      await fresh(schema);
      const role = `perdure_app_${randomBytes(3).toString("hex")}`;
      await adminQuery(`CREATE ROLE ${role} LOGIN`);
      try {
        const db = new URL(PG_URL).pathname.slice(1);
        await adminQuery(`GRANT CONNECT ON DATABASE "${db}" TO ${role}`);
        await adminQuery(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
        await adminQuery(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`);
        const url = new URL(PG_URL);
        url.username = role;
        url.password = "";
        const app = new PostgresProvider({ connectionString: url.toString(), schema, poolSize: 2, warn: () => undefined });
        made.push(app);
        await app.initialize();
        await create(app, "r1");
        const item = await lockOne(app, "r1", T0);
        await commitOk(app, commitFor(item, { status: "Completed", activityTasks: [{ instanceId: "r1", executionId: item.instance.executionId, taskScheduledId: 1, name: "a" }] }), T0);
        await app.heartbeat({ workerId: "w", hostname: "h", pid: 1, startedAt: T0 }, T0);
        await assert.rejects(adminQueryAs(url.toString(), `CREATE TABLE "${schema}".x (i int)`), /permission denied/);
        // A schema not migrated yet: the role may not create it, and the error says what to do.
        const unmigrated = new PostgresProvider({ connectionString: url.toString(), schema: newSchema("role_new"), poolSize: 1, warn: () => undefined });
        made.push(unmigrated);
        await assert.rejects(unmigrated.initialize(), (err: Error & { code?: string }) => {
          assert.equal(err.code, "STORE_PERMISSION_DENIED");
          assert.match(err.message, /may not create or migrate the schema 'role_new_\w+'.*least-privilege-role/);
          return true;
        });
      } finally {
        for (const p of made.splice(0)) await p.close();
        await adminQuery(`DROP OWNED BY ${role}`);
        await adminQuery(`DROP ROLE ${role}`);
      }
    });
  });
});

async function adminQueryAs(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}
