import assert from "node:assert/strict";
import { ALL_RUNTIME_STATUSES, isTerminalStatus } from "../../../src/core/status.js";
import {
  type Define,
  FAR,
  T0,
  allInstances,
  bodies,
  commitFor,
  commitOk,
  create,
  firstStepHistory,
  lockOne,
  eventRaised,
  ids,
  lockActivities,
  lockAll,
  peekMessages,
  runTo,
  scheduleActivities,
  scheduleLeftovers,
  signal,
  stored,
  timerFired,
  toEvent,
} from "../fixtures.js";

export function purgeTests(test: Define): void {
  test("purgeInstance removes the instance with its history, messages and tasks; returns 1 then 0", async (p) => {
    await create(p, "keep");
    await create(p, "gone");
    await scheduleActivities(p, "gone", ["a"]);
    await p.sendMessages([toEvent("gone", eventRaised("e", T0)), toEvent("gone", timerFired(2, T0 + 9_000), { visibleAt: T0 + 9_000 })], T0);
    assert.equal(await p.purgeInstance("gone"), 1);
    assert.equal(await p.getInstance("gone"), undefined);
    assert.deepEqual(await p.getHistory("gone"), []);
    assert.deepEqual(await lockActivities(p, FAR), []);
    assert.equal(await p.nextVisibleAt(T0), undefined);
    assert.deepEqual(ids(await lockAll(p, FAR)), ["keep"]);
    assert.equal(await p.purgeInstance("gone"), 0);
    assert.equal(await p.purgeInstance("never-was"), 0);
    assert.deepEqual(ids(await allInstances(p)), ["keep"]);
  });

  test("purgeInstance removes an entity and its queued messages", async (p) => {
    await p.sendMessages([signal("@counter@k", "add", T0, 1), signal("@counter@k", "add", T0, 2, { visibleAt: T0 + 5_000 })], T0);
    assert.equal(await p.purgeInstance("@counter@k"), 1);
    assert.equal(await p.getInstance("@counter@k"), undefined);
    assert.equal(await p.nextVisibleAt(T0), undefined);
    assert.deepEqual(await lockAll(p, FAR), []);
  });

  test("a purged ID can be created again from scratch", async (p) => {
    await runTo(p, "again", "Running");
    assert.equal(await p.purgeInstance("again"), 1);
    const req = await create(p, "again", { executionId: "fresh", now: T0 + 5 });
    assert.equal((await p.getInstance("again"))?.historyLength, 0);
    assert.deepEqual(bodies(await peekMessages(p, "again", FAR)), [stored(req.startedEvent, { executionId: "fresh" })]);
  });

  test("purgeInstances handles more instances than fit in one page or batch", async (p) => {
    const n = 1_234;
    for (let i = 0; i < n; i++) await create(p, `bulk-${i}`, { now: T0 + (i % 10) });
    await create(p, "bulk-running", { now: T0 });
    const items = await lockAll(p, T0 + 10, { max: 5_000 });
    assert.equal(items.length, n + 1);
    const results = await p.completeOrchestrationWorkItems(
      items.map((i) => commitFor(i, { status: i.instanceId === "bulk-running" ? "Running" : "Completed" })),
      T0 + 10,
    );
    assert.ok(results.every((r) => r.ok));
    assert.equal(await p.purgeInstances({ createdFrom: T0 }), n);
    assert.deepEqual(ids(await allInstances(p)), ["bulk-running"]);
  });

  test("purgeInstances by lastUpdatedTo (when a finished instance finished, inclusive) and at most limit", async (p) => {
    /** Created at `createdAt`, its one step committed (and so last updated) at `at` with `status`. */
    const finish = async (id: string, status: "Completed" | "Failed" | "Running", createdAt: number, at: number): Promise<void> => {
      const req = await create(p, id, { now: createdAt });
      await commitOk(p, commitFor(await lockOne(p, id, at), { status, newHistory: firstStepHistory(req.startedEvent, at) }), at);
      assert.equal((await p.getInstance(id))?.lastUpdatedAt, at);
    };
    await finish("c-early", "Completed", T0, T0 + 10);
    await finish("c-late", "Completed", T0, T0 + 1_000);
    await finish("f-early", "Failed", T0, T0 + 10);
    await finish("running", "Running", T0, T0 + 5);
    await finish("c-new", "Completed", T0 + 2_000, T0 + 2_000);
    assert.equal(await p.purgeInstances({ lastUpdatedTo: T0 + 9, runtimeStatus: ["Completed"] }), 0);
    assert.equal(await p.purgeInstances({ lastUpdatedTo: T0 + 10, runtimeStatus: ["Completed"] }), 1, "finished long after it was created: the finish time counts");
    assert.equal(await p.getInstance("c-early"), undefined);
    assert.equal(await p.purgeInstances({ lastUpdatedTo: T0 + 1_000 }), 2);
    assert.deepEqual(ids(await allInstances(p)), ["running", "c-new"]);
    for (let i = 0; i < 7; i++) await finish(`batch-${i}`, "Completed", T0 + 3_000, T0 + 3_000);
    const purged: number[] = [];
    for (let n = -1; n !== 0; ) purged.push((n = await p.purgeInstances({ lastUpdatedTo: T0 + 3_000, runtimeStatus: ["Completed"], limit: 3 })));
    assert.deepEqual(purged, [3, 3, 2, 0], "8 in batches of at most 3");
    assert.equal(await p.purgeInstances({ lastUpdatedTo: FAR, limit: 0 }), 0);
    assert.deepEqual(ids(await allInstances(p)), ["running"]);
  });

  test("purgeInstances deletes only terminal instances matching the filter", async (p) => {
    for (const [i, status] of ALL_RUNTIME_STATUSES.entries()) {
      await runTo(p, `a-${status}`, status, { now: T0 + i });
      await runTo(p, `b-${status}`, status, { now: T0 + 100 + i });
    }
    await scheduleLeftovers(p, "a-Completed");
    assert.equal(await p.nextVisibleAt(T0 + 1_000), T0 + 70_000);
    assert.equal((await lockActivities(p, T0 + 200, { leaseMs: 1 })).length, 1);
    assert.equal(await p.purgeInstances({ createdFrom: T0 + 100, runtimeStatus: ["Running", "Pending"] }), 0, "non-terminal statuses are never purged");
    assert.equal(await p.purgeInstances({ createdFrom: T0 + 100, runtimeStatus: [] }), 0);
    assert.equal(await p.purgeInstances({ createdFrom: T0 + 100, runtimeStatus: ["Completed", "Running"] }), 1);
    assert.equal(await p.getInstance("b-Completed"), undefined);
    assert.equal(await p.purgeInstances({ createdFrom: T0 + 100 }), 3);
    const remaining = ids(await allInstances(p));
    assert.deepEqual(remaining, [...ALL_RUNTIME_STATUSES.map((s) => `a-${s}`), ...ALL_RUNTIME_STATUSES.filter((s) => !isTerminalStatus(s)).map((s) => `b-${s}`)]);
    // Bounds are inclusive.
    const completedAt = T0 + ALL_RUNTIME_STATUSES.indexOf("Completed");
    const failedAt = T0 + ALL_RUNTIME_STATUSES.indexOf("Failed");
    assert.equal(await p.purgeInstances({ createdFrom: completedAt, createdTo: completedAt }), 1);
    assert.equal(await p.getInstance("a-Completed"), undefined);
    assert.deepEqual(await lockActivities(p, FAR), [], "the purged instance's tasks are gone");
    assert.equal(await p.nextVisibleAt(T0 + 1_000), undefined, "the purged instance's timer is gone");
    assert.equal(await p.purgeInstances({ createdFrom: 0, createdTo: failedAt - 1 }), 0);
    assert.equal(await p.purgeInstances({ createdFrom: 0 }), 3);
    assert.deepEqual(
      ids(await allInstances(p)).sort(),
      ALL_RUNTIME_STATUSES.filter((s) => !isTerminalStatus(s))
        .flatMap((s) => [`a-${s}`, `b-${s}`])
        .sort(),
    );
    // Survivors keep their history.
    for (const id of ids(await allInstances(p))) if (!id.endsWith("Pending")) assert.ok((await p.getHistory(id)).length >= 3, id);
  });
}
