import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import type { DurableClient } from "../../src/client/durable-client.js";
import { EntityId } from "../../src/core/entity-id.js";
import { eventually } from "../helpers/hosts.js";
import { completed, eid, stateEventually } from "./helpers.js";

export function registerClientEntities(app: DurableApp): void {
  app.entity<{ n: number; at?: number; notBefore?: number }>("counter", (ctx) => {
    const s = ctx.df.getState(() => ({ n: 0 }));
    switch (ctx.df.operationName) {
      case "add":
        s.n += ctx.df.getInput<number>() ?? 1;
        break;
      case "addLater": {
        const { amount, notBefore } = ctx.df.getInput<{ amount: number; notBefore: number }>();
        s.n += amount;
        s.at = Date.now();
        s.notBefore = notBefore;
        break;
      }
      case "get":
        ctx.df.return(s.n);
        return;
    }
    ctx.df.setState(s);
  });
  app.entity<string>("other", (ctx) => ctx.df.setState(ctx.df.getInput<string>() ?? "set"));
  /** Holds a lock, then waits for an event that may never come. */
  app.orchestration("holdLock", function* (ctx) {
    const keys = ctx.df.getInput<string[]>();
    const handle: { release(): void } = yield ctx.df.lock(keys.map((k) => new EntityId("counter", k)));
    ctx.df.setCustomStatus("locked");
    yield ctx.df.waitForExternalEvent("go");
    handle.release();
    return "released";
  });
  app.orchestration("lockAndAdd", function* (ctx) {
    const key = ctx.df.getInput<string>();
    const id = new EntityId("counter", key);
    const handle: { release(): void } = yield ctx.df.lock(id);
    const n: number = yield ctx.df.callEntity(id, "add", 10);
    const got: number = yield ctx.df.callEntity(id, "get");
    handle.release();
    return got ?? n;
  });
}

/** The client-method tests, shared with the remote client (same behaviour over HTTP). */
export function clientEntityTests(start: () => Promise<{ client: DurableClient; local: DurableClient }>): void {
  it("signalEntity creates and updates an entity; readEntityState reads it, entityExists false for unknown ones", async () => {
    const { client } = await start();
    assert.deepEqual(await client.readEntityState(eid("counter", "none")), { entityExists: false });
    assert.deepEqual(await client.readEntityState(eid("nosuchentity", "none")), { entityExists: false });
    for (let i = 0; i < 5; i++) await client.signalEntity(eid("Counter", "c"), "add", 2);
    await client.signalEntity(eid("counter", "c"), "add"); // no input
    const s = await stateEventually<{ n: number }>(client, eid("counter", "c"), (v) => v?.n === 11);
    assert.deepEqual(s, { n: 11 });
    await client.signalEntity(eid("other", "text"), "set", "héllo ✓");
    assert.equal(await stateEventually<string>(client, eid("other", "text"), (v) => v !== undefined), "héllo ✓");
    await assert.rejects(client.signalEntity(eid("counter", "c"), ""), { code: "INVALID_ARGUMENT" });
    await assert.rejects(client.signalEntity({ name: "bad name", key: "k" }, "add"), { code: "INVALID_ARGUMENT" });
  });

  it("signalEntity with a signalTime in the future is delivered then, not earlier", async () => {
    const { client } = await start();
    const notBefore = Date.now() + 400;
    await client.signalEntity(eid("counter", "later"), "addLater", { amount: 5, notBefore }, { signalTime: new Date(notBefore) });
    await client.signalEntity(eid("counter", "now"), "add", 1);
    await stateEventually(client, eid("counter", "now"), (_v, exists) => exists);
    if (Date.now() < notBefore) assert.deepEqual(await client.readEntityState(eid("counter", "later")), { entityExists: false }, "not delivered before its time");
    const s = await stateEventually<{ n: number; at: number; notBefore: number }>(client, eid("counter", "later"), (v) => v?.n === 5);
    assert.ok(s!.at >= s!.notBefore, `ran at ${s!.at}, due at ${s!.notBefore}`);
    // A signal time in the past is delivered at once.
    await client.signalEntity(eid("counter", "past"), "add", 3, { signalTime: new Date(Date.now() - 60_000) });
    await stateEventually<{ n: number }>(client, eid("counter", "past"), (v) => v?.n === 3);
  });

  it("listEntities pages with pageSize and continuationToken, filters by name, with and without state", async () => {
    const { client } = await start();
    for (let i = 0; i < 25; i++) await client.signalEntity(eid("counter", `k${String(i).padStart(2, "0")}`), "add", i);
    for (let i = 0; i < 3; i++) await client.signalEntity(eid("other", `o${i}`), "set", `v${i}`);
    await eventually(async () => (await client.readEntityState(eid("counter", "k24"))).entityExists && (await client.readEntityState(eid("other", "o2"))).entityExists);
    await eventually(async () => {
      const all = await collect(client, { entityName: "counter", pageSize: 1000 });
      return all.length === 25;
    });

    // Pages of 10 over the 25 counters.
    const pages: { key: string; state: unknown; time: Date }[][] = [];
    let token: string | undefined;
    do {
      const page = await client.listEntities({ entityName: "COUNTER", pageSize: 10, fetchState: true, ...(token ? { continuationToken: token } : {}) });
      pages.push(page.entities.map((e) => ({ key: e.entityId.key, state: e.state, time: e.lastOperationTime })));
      for (const e of page.entities) {
        assert.ok(e.entityId instanceof EntityId);
        assert.equal(e.entityId.name, "counter");
        assert.ok(e.lastOperationTime instanceof Date && !Number.isNaN(e.lastOperationTime.getTime()));
      }
      token = page.continuationToken;
      assert.ok(pages.length <= 5, "paging ends");
    } while (token);
    assert.equal(pages[0]!.length, 10, "the first page is full");
    assert.ok(pages.every((p) => p.length <= 10), "no page exceeds pageSize");
    const rows = pages.flat();
    assert.deepEqual(
      rows.map((r) => r.key).sort(),
      Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, "0")}`),
      "every entity exactly once",
    );
    for (const r of rows) assert.deepEqual(r.state, { n: Number(r.key.slice(1)) });

    // Without fetchState: no state.
    const bare = await client.listEntities({ entityName: "counter", pageSize: 5 });
    assert.equal(bare.entities.length, 5);
    assert.ok(bare.continuationToken);
    for (const e of bare.entities) assert.equal(e.state, undefined);

    // Name filter, and no filter.
    const others = await collect(client, { entityName: "other", fetchState: true });
    assert.deepEqual(others.map((e) => [e.entityId.key, e.state]).sort(), [["o0", "v0"], ["o1", "v1"], ["o2", "v2"]]);
    const everything = await collect(client, { pageSize: 7 });
    assert.equal(everything.length, 28);
    assert.deepEqual(await collect(client, { entityName: "nosuch" }), []);
  });

  it("listEntities filters by lastOperationTimeFrom/To", async () => {
    const { client } = await start();
    for (let i = 0; i < 3; i++) await client.signalEntity(eid("counter", `old${i}`), "add", 1);
    await eventually(async () => (await collect(client, { entityName: "counter" })).length === 3);
    const oldest = Math.min(...(await collect(client, { entityName: "counter" })).map((e) => e.lastOperationTime.getTime()));
    const newest = Math.max(...(await collect(client, { entityName: "counter" })).map((e) => e.lastOperationTime.getTime()));
    // The remote client sees DF's whole-second times: keep the two groups at least a second apart.
    const mid = (Math.floor(newest / 1000) + 1) * 1000;
    await eventually(async () => Date.now() > mid + 1, 5000, "the clock to pass the middle");
    for (let i = 0; i < 2; i++) await client.signalEntity(eid("counter", `new${i}`), "add", 1);
    await eventually(async () => (await collect(client, { entityName: "counter" })).length === 5);

    const keys = async (q: Parameters<DurableClient["listEntities"]>[0]): Promise<string[]> => (await collect(client, q)).map((e) => e.entityId.key).sort();
    assert.deepEqual(await keys({ lastOperationTimeFrom: new Date(mid) }), ["new0", "new1"]);
    assert.deepEqual(await keys({ lastOperationTimeTo: new Date(mid) }), ["old0", "old1", "old2"]);
    assert.deepEqual(await keys({ lastOperationTimeFrom: new Date(oldest - 1000), lastOperationTimeTo: new Date(mid) }), ["old0", "old1", "old2"]);
    assert.deepEqual(await keys({ lastOperationTimeFrom: new Date(Date.now() + 3_600_000) }), []);
    // An operation moves the entity's lastOperationTime forward.
    await client.signalEntity(eid("counter", "old0"), "add", 1);
    await stateEventually<{ n: number }>(client, eid("counter", "old0"), (v) => v?.n === 2);
    await eventually(async () => (await keys({ lastOperationTimeFrom: new Date(mid) })).includes("old0"));
  });

  it("cleanEntityStorage releases a lock whose orchestration is gone; the entity then serves others again", async () => {
    const { client, local } = await start();
    await client.signalEntity(eid("counter", "orphan"), "add", 1);
    await stateEventually(client, eid("counter", "orphan"), (_v, exists) => exists);
    const holder = await local.startNew("holdLock", { input: ["orphan", "orphan-nostate"] });
    await eventually(async () => (await local.getStatus(holder)).customStatus === "locked");
    // While the lock is held, others' operations wait.
    await client.signalEntity(eid("counter", "orphan"), "add", 100);
    const nothingYet = await client.cleanEntityStorage();
    assert.deepEqual(nothingYet, { numberOfEmptyEntitiesRemoved: 0, numberOfOrphanedLocksRemoved: 0 }, "a live holder's locks are not orphaned");
    assert.deepEqual((await client.readEntityState(eid("counter", "orphan"))).entityState, { n: 1 }, "the add waits for the lock");

    // Purge the running holder: its locks are now orphaned.
    assert.deepEqual(await local.purgeInstanceHistory(holder), { instancesDeleted: 1 });
    const cleaned = await client.cleanEntityStorage();
    assert.deepEqual(cleaned, { numberOfEmptyEntitiesRemoved: 0, numberOfOrphanedLocksRemoved: 2 });
    await stateEventually<{ n: number }>(client, eid("counter", "orphan"), (v) => v?.n === 101, 10_000, "the queued add to run once the lock is gone");
    // Others can lock it again.
    const next = await local.startNew("lockAndAdd", { input: "orphan" });
    assert.equal((await completed(local, next)).output, 111);
    // Once the releases sent by the first clean-up have been processed, there is nothing left to clean
    // (a second clean-up racing them may count the same orphan again: the release is idempotent).
    await eventually(async () => {
      const again = await client.cleanEntityStorage();
      return again.numberOfEmptyEntitiesRemoved === 0 && again.numberOfOrphanedLocksRemoved === 0;
    });
    assert.equal((await collect(client, { entityName: "counter" })).some((e) => e.entityId.key === "orphan-nostate"), false, "an entity that only held a lock is not listed");
  });

  it("cleanEntityStorage does not lose a scheduled signal waiting for an entity that has no state yet", async () => {
    const { client } = await start();
    const due = Date.now() + 500;
    await client.signalEntity(eid("counter", "pending"), "addLater", { amount: 4, notBefore: due }, { signalTime: new Date(due) });
    await client.cleanEntityStorage();
    const s = await stateEventually<{ n: number; at: number }>(client, eid("counter", "pending"), (v) => v?.n === 4, 10_000, "the scheduled signal");
    assert.ok(s!.at >= due);
  });
}

export async function collect(client: DurableClient, query: Parameters<DurableClient["listEntities"]>[0]): Promise<Awaited<ReturnType<DurableClient["listEntities"]>>["entities"]> {
  const out: Awaited<ReturnType<DurableClient["listEntities"]>>["entities"] = [];
  let token: string | undefined;
  let guard = 0;
  do {
    const page = await client.listEntities({ ...query, ...(token ? { continuationToken: token } : {}) });
    out.push(...page.entities);
    token = page.continuationToken;
    assert.ok(guard++ < 100, "paging ends");
  } while (token);
  return out;
}

