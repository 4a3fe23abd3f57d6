/**
 * Large payloads out of their rows (SQLite and PostgreSQL; the memory store keeps them as they are):
 * stored once per instance and content, compressed, with a reference in the row; read back byte for
 * byte wherever they are used; deleted when nothing refers to them any more; a missing one is a
 * loud HISTORY_UNREADABLE, and a status without the input does not need it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import Database from "better-sqlite3";
import { createApp, type DurableApp } from "../../src/app.js";
import { EntityId } from "../../src/core/entity-id.js";
import { createHost, type Host } from "../../src/host/host.js";
import { providerFromUrl } from "../../src/host/store-url.js";
import { silentLogger } from "../../src/runtime/logger.js";
import { assertAllReplayCleanly } from "../helpers/determinism.js";
import { eventually, postgresUrl } from "../helpers/hosts.js";
import { adminQuery, dropSchema, newSchema, withPostgresSync } from "../helpers/pg.js";

/** A compressible JSON document of about `kb` KiB, different for each `seed`. */
function doc(seed: string, kb: number): { seed: string; rows: string[] } {
  const rows: string[] = [];
  for (let i = 0, size = 0; size < kb * 1024; i++) {
    const row = `${seed}:${i}:invoice ${(i * 7919) % 10007} settled in Lisbon on day ${i % 365}`;
    rows.push(row);
    size += row.length + 3;
  }
  return { seed, rows };
}

function register(app: DurableApp): void {
  app.activity("grow", { handler: (d: { seed: string; rows: string[] }) => ({ ...d, rows: [...d.rows, "grown"] }) });
  app.orchestration("childEcho", function* (ctx) {
    return ctx.df.getInput();
  });
  app.entity("box", (ctx) => {
    if (ctx.df.operationName === "set") ctx.df.setState(ctx.df.getInput());
    else if (ctx.df.operationName === "delete") ctx.df.destructOnExit();
    else ctx.df.return(ctx.df.getState());
  });
  app.orchestration("carry", function* (ctx) {
    const input = ctx.df.getInput<{ seed: string; rows: string[] }>();
    const grown = (yield ctx.df.callActivity("grow", input)) as { rows: string[] };
    // Under Durable Functions' 16 KiB limit on custom status, and so under the offload limit: it stays in its row.
    ctx.df.setCustomStatus(doc("status", 12));
    const more = (yield ctx.df.waitForExternalEvent("more")) as { seed: string };
    const child = (yield ctx.df.callSubOrchestrator("childEcho", more)) as { seed: string };
    const box = new EntityId("box", ctx.df.instanceId);
    yield ctx.df.callEntity(box, "set", grown);
    const boxed = (yield ctx.df.callEntity(box, "get")) as { rows: string[] };
    return { input, grown, child, boxedRows: boxed.rows.length };
  });
  app.orchestration("loop", function* (ctx) {
    const { n } = ctx.df.getInput<{ n: number }>();
    const grown = (yield ctx.df.callActivity("grow", doc(`loop-${n}`, 64))) as { rows: string[] };
    if (n < 3) {
      ctx.df.continueAsNew({ n: n + 1, carried: grown });
      return undefined;
    }
    return grown.rows.length;
  });
  app.orchestration("waits", function* (ctx) {
    return yield ctx.df.waitForExternalEvent("go");
  });
  app.activity("throwsNul", { handler: () => { throw new Error("bad \u0000 byte \ud800 alone"); } });
  // A failure whose text JSON allows and a jsonb cast would not, in the history rows the sweep reads.
  app.orchestration("oddFailure", function* (ctx) {
    let caught = "";
    try {
      yield ctx.df.callActivity("throwsNul");
    } catch (err) {
      caught = (err as Error).message;
    }
    const grown = (yield ctx.df.callActivity("grow", doc("odd", 64))) as { rows: string[] };
    return { caught, rows: grown.rows.length };
  });
  // "late" runs on another host only: its input can be taken away before any host runs it.
  app.orchestration("callsLate", function* (ctx) {
    try {
      yield ctx.df.callActivity("late", doc("late", 64));
      return "ran";
    } catch (err) {
      const f = (err as { failureDetails?: { code?: string; errorMessage: string } }).failureDetails;
      return { code: f?.code, message: f?.errorMessage };
    }
  });
  app.orchestration("sendsAway", function* (ctx) {
    ctx.df.sendEvent("nobody", "go", doc("away", 64));
    yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1));
    return "sent";
  });
}

interface Store {
  kind: "sqlite" | "postgres";
  url: string;
  /** Rows of one SQL query against the store. */
  query<R>(sql: string): Promise<R[]>;
  /** The schema-qualified name of a table. */
  table(name: string): string;
  close(): Promise<void>;
}

function sqliteStore(dir: string, n: number): Store {
  const file = join(dir, `p${n}.db`);
  let db: Database.Database | undefined;
  return {
    kind: "sqlite",
    url: `sqlite:${file}`,
    async query<R>(sql: string) {
      db ??= new Database(file);
      const statement = db.prepare(sql);
      if (statement.reader) return statement.all() as R[];
      statement.run();
      return [];
    },
    table: (name) => name,
    async close() {
      db?.close();
    },
  };
}

function postgresStore(): Store {
  const schema = newSchema("po");
  return {
    kind: "postgres",
    url: postgresUrl(schema),
    query: async <R>(sql: string) => (await adminQuery(sql)).rows as R[],
    table: (name) => `"${schema}".${name}`,
    close: () => dropSchema(schema),
  };
}

/** Opens a host on a new store; `offloadBytes` goes into the store URL. */
type Open = (offloadBytes?: string) => Promise<{ host: Host; store: Store }>;

function forSqlStores(body: (open: Open) => void): void {
  const declare = (kind: "sqlite" | "postgres"): void => {
    describe(`large payloads out of their rows [${kind}]`, () => {
      const dir = mkdtempSync(join(tmpdir(), "perdure-payloads-"));
      let opened: { host: Host; store: Store; app: DurableApp }[] = [];
      let n = 0;
      afterEach(async () => {
        const done = opened;
        opened = [];
        try {
          for (const { host, app } of done) await assertAllReplayCleanly(host.provider, app.registry);
        } finally {
          for (const { host, store } of done) {
            await host.stop();
            await store.close();
          }
        }
      });
      after(() => rmSync(dir, { recursive: true, force: true }));
      body(async (offloadBytes) => {
        const store = kind === "sqlite" ? sqliteStore(dir, n++) : postgresStore();
        const app = createApp();
        register(app);
        const url = offloadBytes === undefined ? store.url : `${store.url}${store.url.includes("?") ? "&" : "?"}offloadBytes=${offloadBytes}`;
        const host = createHost({ store: url, port: false, app, pollIntervalMs: 50, logger: silentLogger });
        await host.start();
        opened.push({ host, store, app });
        return { host, store };
      });
    });
  };
  declare("sqlite");
  withPostgresSync("large payloads out of their rows [postgres]", () => declare("postgres"));
}

/** Payload rows per instance: count, bytes of text, bytes stored. */
async function payloadRows(store: Store, instanceId?: string): Promise<{ n: number; bytes: number; stored: number }> {
  const where = instanceId === undefined ? "" : ` WHERE instance_id = '${instanceId.replace(/'/g, "''")}'`;
  const [row] = await store.query<{ n: number | string; bytes: number | string | null; stored: number | string | null }>(
    `SELECT count(*) AS n, sum(bytes) AS bytes, sum(length(data)) AS stored FROM ${store.table("payloads")}${where}`,
  );
  return { n: Number(row!.n), bytes: Number(row!.bytes ?? 0), stored: Number(row!.stored ?? 0) };
}

/** The longest text in any row of the tables that hold payloads inline. */
async function longestRow(store: Store): Promise<number> {
  const history = store.kind === "sqlite" ? "event" : "events";
  const parts = [
    `SELECT max(length(${history})) AS n FROM ${store.table("history")}`,
    `SELECT max(length(event)) FROM ${store.table("messages")}`,
    `SELECT max(length(input)) FROM ${store.table("activity_tasks")}`,
    `SELECT max(length(coalesce(input, '')) + length(coalesce(output, '')) + length(coalesce(custom_status, '')) + length(coalesce(entity_state, ''))) FROM ${store.table("instances")}`,
  ];
  const rows = await store.query<{ n: number | string | null }>(parts.join(" UNION ALL "));
  return Math.max(...rows.map((r) => Number(r.n ?? 0)));
}

forSqlStores((open) => {
  it("stores input, result, event data, child input and entity state apart, compressed, and reads them back exactly", async () => {
    const { host, store } = await open();
    const input = doc("input", 200);
    const more = doc("more", 120);
    const id = await host.client.startNew("carry", { input });
    await eventually(async () => (await host.client.getStatus(id)).customStatus !== null, 10_000, "the custom status");
    await host.client.raiseEvent(id, "more", more);
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 30_000 });
    assert.equal(status.runtimeStatus, "Completed");
    const out = status.output as { input: unknown; grown: { rows: string[] }; child: unknown; boxedRows: number };
    assert.deepEqual(out.input, input);
    assert.deepEqual(out.grown, { ...input, rows: [...input.rows, "grown"] });
    assert.deepEqual(out.child, more);
    assert.equal(out.boxedRows, input.rows.length + 1);
    assert.deepEqual((await host.client.getStatus(id)).input, input);
    assert.deepEqual((await host.client.getStatus(id)).customStatus, doc("status", 12));
    assert.deepEqual((await host.client.readEntityState(new EntityId("box", id))).entityState, out.grown);
    // Every history event's payload reads back too.
    const history = await host.provider.getHistory(id);
    const scheduled = history.find((e) => e.type === "TaskScheduled") as { input?: string };
    assert.deepEqual(JSON.parse(scheduled.input!), input);

    // No row holds a payload over the limit: they are all apart, compressed.
    assert.ok((await longestRow(store)) < 32 * 1024, `the longest row is ${await longestRow(store)} characters`);
    const mine = await payloadRows(store, id);
    // One row per distinct text: the input (in the instance row at every step, in ExecutionStarted and
    // TaskScheduled), the grown result (TaskCompleted, the entity call's input, its answer), the
    // event data (EventRaised, the child's input and result), and the output.
    assert.equal(mine.n, 4, `${mine.n} payload rows`);
    assert.ok(mine.stored * 2 < mine.bytes, `${mine.stored} bytes stored for ${mine.bytes}`);
    // The child's input (and output) and the entity's state are rows of the child and of the entity.
    assert.equal((await payloadRows(store, `@box@${id}`)).n, 1);
    assert.equal((await payloadRows(store)).n, mine.n + 1 + 1);
  });

  it("a payload no row refers to is deleted: after an entity step, when an execution continues as new or ends; all of them with a purge", async () => {
    const { host, store } = await open();
    const box = new EntityId("box", "kept");
    await host.client.signalEntity(box, "set", doc("first", 64));
    await eventually(async () => (await host.client.readEntityState<{ seed: string }>(box)).entityState?.seed === "first", 10_000, "the first state");
    await host.client.signalEntity(box, "set", doc("second", 64));
    await eventually(async () => (await host.client.readEntityState<{ seed: string }>(box)).entityState?.seed === "second", 10_000, "the second state");
    await eventually(async () => (await payloadRows(store, box.toString())).n === 1, 10_000, "one payload row for the entity");
    await host.client.signalEntity(box, "delete");
    await eventually(async () => !(await host.client.readEntityState(box)).entityExists, 10_000, "the entity to go");
    assert.equal((await payloadRows(store, box.toString())).n, 0);

    const id = await host.client.startNew("loop", { input: { n: 0 } });
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 30_000 });
    assert.equal(status.runtimeStatus, "Completed");
    assert.equal(status.output, doc("loop-3", 64).rows.length + 1);
    // Four executions each made two payloads (the activity's input and result); the last one's are
    // referred to by its history, its input (the third's result) by ExecutionStarted: nothing else is left.
    const left = await payloadRows(store, id);
    assert.equal(left.n, 3, `${left.n} payload rows left`);

    assert.equal((await host.client.purgeInstanceHistory(id)).instancesDeleted, 1);
    assert.equal((await payloadRows(store, id)).n, 0);
  });

  it("a missing payload is HISTORY_UNREADABLE where it is needed, and a status without the input does not need the input's", async () => {
    const { host, store } = await open();
    const id = await host.client.startNew("waits", { input: doc("lost", 64) });
    await eventually(async () => (await host.client.getStatus(id)).runtimeStatus === "Running", 10_000, "the instance to run");
    assert.equal((await payloadRows(store, id)).n, 1);
    await store.query(`DELETE FROM ${store.table("payloads")} WHERE instance_id = '${id}'`);

    assert.equal((await host.client.getStatus(id, { showInput: false })).runtimeStatus, "Running");
    assert.equal((await host.client.getStatusBy({ showInput: false })).length, 1);
    await assert.rejects(host.client.getStatus(id), (err: Error & { code?: string }) => {
      assert.equal(err.code, "HISTORY_UNREADABLE");
      assert.match(err.message, new RegExp(`payload '[A-Za-z0-9_-]{32}' of instance '${id}' is missing from the store .*restore the store from a backup, or purge the instance`));
      return true;
    });
    // The next step cannot replay without it: the instance parks, saying why, and nothing else stops.
    await host.client.raiseEvent(id, "go", 1);
    await eventually(async () => {
      const [row] = await store.query<{ parked: string | null }>(`SELECT parked FROM ${store.table("instances")} WHERE instance_id = '${id}'`);
      return row?.parked ? (JSON.parse(row.parked) as { code: string; message: string }) : undefined;
    }, 10_000, "the instance to park").then((park) => {
      assert.equal(park.code, "HISTORY_UNREADABLE");
      assert.match(park.message, /payload '.*' of instance '.*' is missing/);
    });
    const other = await host.client.startNew("waits");
    await host.client.raiseEvent(other, "go", 2);
    assert.equal((await host.client.waitForCompletion(other, { timeoutInMilliseconds: 10_000 })).output, 2);
    await host.client.terminate(id, "lost its input");
    await host.client.purgeInstanceHistory(id);
  });

  it("reads back and sweeps histories whose other events hold text a jsonb cast refuses (NUL, a lone surrogate)", async () => {
    const { host, store } = await open();
    const id = await host.client.startNew("oddFailure");
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 20_000 });
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.failureDetails));
    assert.deepEqual(status.output, { caught: "Activity function 'throwsNul' failed: bad \u0000 byte \ud800 alone", rows: doc("odd", 64).rows.length + 1 });
    // The end swept what nothing uses: the activity's input and result are in the history.
    assert.equal((await payloadRows(store, id)).n, 2);
  });

  it("leaves no payload row for an instance that does not exist: a step's event to nobody, a client's refused event", async () => {
    const { host, store } = await open();
    const id = await host.client.startNew("sendsAway");
    assert.equal((await host.client.waitForCompletion(id, { timeoutInMilliseconds: 20_000 })).output, "sent");
    await assert.rejects(host.client.raiseEvent("nobody-either", "go", doc("refused", 64)), { code: "INSTANCE_NOT_FOUND" });
    assert.deepEqual(await store.query(`SELECT instance_id FROM ${store.table("payloads")} WHERE instance_id IN ('nobody', 'nobody-either')`), []);
    // The sender keeps its own: the event it sent is in its history.
    assert.equal((await payloadRows(store, id)).n, 1);
  });

  it("an activity whose input is missing fails with HISTORY_UNREADABLE, which the orchestrator catches", async () => {
    const { host, store } = await open();
    const id = await host.client.startNew("callsLate");
    await eventually(async () => (await store.query(`SELECT id FROM ${store.table("activity_tasks")} WHERE instance_id = '${id}'`)).length === 1, 10_000, "the activity task");
    assert.equal((await payloadRows(store, id)).n, 1);
    await store.query(`DELETE FROM ${store.table("payloads")} WHERE instance_id = '${id}'`);
    const app = createApp();
    app.activity("late", { handler: () => "ran" });
    const other = createHost({ store: store.url, port: false, app, pollIntervalMs: 50, logger: silentLogger });
    await other.start();
    try {
      const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 20_000 });
      const out = status.output as { code: string; message: string };
      assert.equal(out.code, "HISTORY_UNREADABLE");
      assert.match(out.message, new RegExp(`^payload '[A-Za-z0-9_-]{32}' of instance '${id}' is missing from the store`));
    } finally {
      await other.stop();
    }
    // Its history names the payload that is gone: it cannot be replayed any more, only purged.
    await host.client.purgeInstanceHistory(id);
  });

  it("reads stay whole while sweeps delete what a changing entity state no longer uses", async () => {
    const { host } = await open();
    const box = new EntityId("box", "busy");
    const states = 60;
    const signals = (async () => {
      for (let i = 0; i < states; i++) await host.client.signalEntity(box, "set", doc(`state-${i}`, 40));
    })();
    let reads = 0;
    for (;;) {
      // Every read sees one whole state, however the entity changes under it.
      // A turn of the event loop for the worker between reads (a read of nothing needs none).
      await new Promise((resolve) => setImmediate(resolve));
      const r = await host.client.readEntityState<{ seed: string; rows: string[] }>(box);
      reads++;
      if (!r.entityExists) continue;
      assert.match(r.entityState!.seed, /^state-\d+$/);
      assert.deepEqual(r.entityState, doc(r.entityState!.seed, 40));
      if (r.entityState.seed === `state-${states - 1}`) break;
    }
    await signals;
    assert.ok(reads > 1);
  });

  it("offloadBytes sets the size from which payloads are stored apart; 0 keeps them all in their rows", async () => {
    for (const [offload, apart] of [["0", false], ["131072", false], ["65536", true]] as const) {
      const { host, store } = await open(offload);
      const input = doc(`limit-${offload}`, 100);
      const id = await host.client.startNew("childEcho", { input });
      assert.deepEqual((await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 })).output, input);
      assert.equal((await payloadRows(store, id)).n, apart ? 1 : 0, `offloadBytes=${offload}`);
      assert.equal((await longestRow(store)) > 100 * 1024, !apart, `offloadBytes=${offload}`);
    }
  });
});

describe("offloadBytes in a store URL", () => {
  it("is refused unless it is 0 or a number of bytes from 1024 to 1 GiB, naming the way out", () => {
    for (const bad of ["sqlite:x.db?offloadBytes=12", "sqlite::memory:?offloadBytes=-1", "sqlite:x.db?offloadBytes=lots", "postgres://h/db?offloadBytes=1.5", "postgres://h/db?offloadBytes=2000000000"]) {
      assert.throws(() => providerFromUrl(bad), (err: Error & { code?: string }) => {
        assert.equal(err.code, "INVALID_STORE_URL", bad);
        assert.match(err.message, /^Invalid offloadBytes=.* use a number of bytes from 1024 to 1073741824 .* or 0 to keep every payload in its row\.$/);
        return true;
      });
    }
  });
});
