/**
 * A SQLite store written by Perdure before engine v2 (schema 2, history format 1), left with work in
 * flight — an entity operation interrupted mid-batch, a critical section held while a signal waits
 * in the entity's queue — is migrated and finished by the current code. The database was produced by
 * commit 534a49b running test/fixtures/v1/generate.ts.txt.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../../src/providers/sqlite/migrations.js";
import { createApp } from "../../src/app.js";
import { EntityId } from "../../src/core/entity-id.js";
import type { LockHandle } from "../../src/core/entity-tasks.js";
import { createHost } from "../../src/host/host.js";
import { silentLogger } from "../../src/runtime/logger.js";
import { completed, stateEventually } from "../entities/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "perdure-upgrade-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The functions of the generator, with the operation that blocked then now returning at once. */
function app() {
  const a = createApp();
  a.entity("counter", (ctx) => {
    const v = ctx.df.getState(() => 0) as number;
    switch (ctx.df.operationName) {
      case "add":
        ctx.df.setState(v + (ctx.df.getInput<number>()));
        break;
      case "get":
        ctx.df.return(v);
        break;
      case "block":
        ctx.df.setState(v + 1000);
        ctx.df.return(v + 1000);
        break;
    }
  });
  a.activity("boom", {
    handler: () => {
      throw new Error("activity broke");
    },
  });
  a.activity("echo", { handler: (x: unknown) => x });
  a.orchestration("blockedCall", function* (ctx) {
    const c = new EntityId("counter", "c");
    yield ctx.df.callEntity(c, "add", 1);
    const v: unknown = yield ctx.df.callEntity(c, "block");
    return v;
  });
  a.orchestration("holdsLock", function* (ctx) {
    const d = new EntityId("counter", "d");
    const lock = (yield ctx.df.lock(d)) as LockHandle;
    yield ctx.df.waitForExternalEvent("go");
    const v: unknown = yield ctx.df.callEntity(d, "get");
    lock.release();
    return v;
  });
  a.orchestration("fails", function* (ctx) {
    yield ctx.df.callActivity("boom");
  });
  a.orchestration("entityTour", function* () {
    return "never runs again: the instance completed before the upgrade";
  });
  return a;
}

it("a format-1 store with work in flight is migrated and its work completes", async () => {
  const file = join(dir, "work.db");
  copyFileSync(new URL("../fixtures/v1/work.db", import.meta.url), file);
  const before = new Database(file, { readonly: true });
  assert.equal((before.prepare("SELECT MAX(version) AS v FROM schema_version").get() as { v: number }).v, 2, "the fixture is a schema-2 store");
  before.close();

  const host = createHost({ store: `sqlite:${file}`, port: false, app: app(), logger: silentLogger, pollIntervalMs: 50 });
  await host.start();
  try {
    // The entity call that was interrupted mid-operation is redone and answered in the new format.
    assert.equal((await completed(host.client, "blocked")).output, 1001);
    assert.deepEqual(await host.client.readEntityState(new EntityId("counter", "c")), { entityExists: true, entityState: 1001 });

    // The critical section held across the upgrade goes on: the call inside it, then the release,
    // and only then the signal that waited in the entity's queue (stored in the old format).
    assert.deepEqual(await host.client.readEntityState(new EntityId("counter", "d")), { entityExists: false });
    await host.client.raiseEvent("holder", "go");
    assert.equal((await completed(host.client, "holder")).output, 0, "the call inside the section ran before the queued signal");
    assert.equal(await stateEventually<number>(host.client, new EntityId("counter", "d"), (v) => v === 7), 7);

    // Finished instances read as before, failure details with the durable-functions names.
    const failing = await host.client.getStatus("failing");
    assert.equal(failing.runtimeStatus, "Failed");
    assert.equal(failing.failureDetails?.errorMessage, "Activity function 'boom' failed: activity broke");
    const tour = await host.client.getStatus("tour", { showHistory: true });
    assert.equal(tour.runtimeStatus, "Completed");
    assert.deepEqual(
      tour.history!.filter((r) => String(r.EventType).startsWith("EntityLock")).map((r) => r.EventType),
      ["EntityLockRequested", "EntityLockGranted"],
      "the status history shows the format-1 entity requests as typed rows",
    );
  } finally {
    await host.stop();
  }
  const migrated = new Database(file, { readonly: true });
  try {
    assert.equal((migrated.prepare("SELECT MAX(version) AS v FROM schema_version").get() as { v: number }).v, MIGRATIONS[MIGRATIONS.length - 1]!.version);
    const kinds = migrated.prepare("SELECT kind, COUNT(*) AS n FROM instances GROUP BY kind ORDER BY kind").all();
    assert.deepEqual(kinds, [
      { kind: "entity", n: 4 },
      { kind: "orchestration", n: 4 },
    ]);
  } finally {
    migrated.close();
  }
});
