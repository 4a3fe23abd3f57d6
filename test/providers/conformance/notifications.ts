import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { OrchestrationWorkItem, ProviderStats, StorageProvider } from "../../../src/providers/provider.js";
import {
  type Define,
  LEASE,
  T0,
  assertLockLost,
  commitFor,
  commitOk,
  commitOne,
  create,
  eventRaised,
  lockActivities,
  lockAll,
  lockOne,
  optimisticFor,
  recordChanges,
  recordWork,
  runTo,
  scheduleActivities,
  signal,
  startChild,
  startedEvent,
  taskCompleted,
  timerFired,
  toEvent,
  toSelf,
} from "../fixtures.js";

type WithOnWork = StorageProvider & { onWork: NonNullable<StorageProvider["onWork"]> };
type WithOnChange = StorageProvider & { onInstanceChange: NonNullable<StorageProvider["onInstanceChange"]> };

function hasOnWork(p: StorageProvider, t: TestContext): p is WithOnWork {
  if (p.onWork) return true;
  t.skip("this provider has no onWork");
  return false;
}

function hasOnChange(p: StorageProvider, t: TestContext): p is WithOnChange {
  if (p.onInstanceChange) return true;
  t.skip("this provider has no onInstanceChange");
  return false;
}

export function onWorkTests(test: Define): void {
  test("a released step announces messages that arrived while it held the lease", async (p, _h, t) => {
    if (!hasOnWork(p, t)) return;
    await create(p, "busy", { now: T0 });
    const item = await lockOne(p, "busy", T0 + 1);
    const rec = recordWork(p);
    await p.sendMessages([toEvent("busy", eventRaised("late", T0 + 2))], T0 + 2);
    rec.events.length = 0;
    await commitOk(p, commitFor(item), T0 + 3);
    // Without this the waiting message would sit until the next poll: nothing else announces it.
    await rec.untilWork("orchestration", T0 + 3);
    rec.stop();
  });

  test("notifies new work with its kind and visibleAt; nothing for refused writes; stops on unsubscribe", async (p, _h, t) => {
    if (!hasOnWork(p, t)) return;
    const rec = recordWork(p);
    await create(p, "w1", { now: T0 });
    await rec.untilWork("orchestration", T0);
    await create(p, "w2", { now: T0, visibleAt: T0 + 4_000 });
    await rec.untilWork("orchestration", T0 + 4_000);
    await p.sendMessages([toEvent("w1", eventRaised("e", T0 + 1))], T0 + 1);
    await rec.untilWork("orchestration", T0 + 1);

    const item = await lockOne(p, "w1", T0 + 2);
    await commitOk(
      p,
      commitFor(item, {
        activityTasks: [{ instanceId: "w1", executionId: item.instance.executionId, taskScheduledId: 1, name: "a" }],
        messages: [toSelf("w1", timerFired(2, T0 + 9_000), { visibleAt: T0 + 9_000 })],
      }),
      T0 + 3,
    );
    await rec.untilWork("activity", T0 + 3);
    await rec.untilWork("orchestration", T0 + 9_000);
    const [task] = await lockActivities(p, T0 + 4);
    assert.ok(task);
    await p.abandonActivityWorkItem(task, 500, T0 + 5);
    await rec.untilWork("activity", T0 + 505);
    const [again] = await lockActivities(p, T0 + 505);
    assert.deepEqual(await p.completeActivityWorkItems([{ item: again!, event: taskCompleted(1, T0 + 506) }], T0 + 506), [{ ok: true }]);
    await rec.untilWork("orchestration", T0 + 506);

    // Refused writes announce nothing: check with a marker sent afterwards.
    rec.events.length = 0;
    await assert.rejects(create(p, "w1", { now: T0 + 600 }));
    await assert.rejects(p.sendMessages([toEvent("ghost", eventRaised("e", T0 + 601))], T0 + 601));
    assertLockLost(await commitOne(p, commitFor(item, { activityTasks: [{ instanceId: "w1", executionId: "x", taskScheduledId: 9, name: "z" }], messages: [toSelf("w1", eventRaised("x", T0 + 602))] }), T0 + 602));
    assertLockLost((await p.completeActivityWorkItems([{ item: again!, event: taskCompleted(1, T0 + 603) }], T0 + 603))[0]);
    await p.sendMessages([toEvent("w1", eventRaised("marker", T0 + 777), { visibleAt: T0 + 777 })], T0 + 604);
    await rec.untilWork("orchestration", T0 + 777);
    assert.deepEqual(rec.events, [["orchestration", T0 + 777]]);

    rec.stop();
    rec.events.length = 0;
    await create(p, "w3", { now: T0 + 800 });
    await p.sendMessages([toEvent("w1", eventRaised("after", T0 + 801))], T0 + 801);
    assert.deepEqual(rec.events, []);
  });

  test("an abandon announces the end of its retry delay", async (p, _h, t) => {
    if (!hasOnWork(p, t)) return;
    await create(p, "r");
    const item = await lockOne(p, "r", T0);
    const rec = recordWork(p);
    await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 2_500 }, T0 + 1);
    await rec.untilWork("orchestration", T0 + 2_501);
    rec.stop();
  });
}

export function onInstanceChangeTests(test: Define): void {
  test("fires after committed status changes, with the new status already readable", async (p, h, t) => {
    if (!hasOnChange(p, t)) return;
    const reader = h.second ? await h.second() : p;
    const rec = recordChanges(p, reader);
    const req = await create(p, "c", { now: T0 });
    await rec.untilChange("c", "Pending");
    const item = await lockOne(p, "c", T0);
    await commitOk(p, commitFor(item, { status: "Running" }), T0 + 1);
    await rec.untilChange("c", "Running");
    await p.sendMessages([toEvent("c", eventRaised("e", T0 + 2))], T0 + 2);
    await commitOk(p, commitFor(await lockOne(p, "c", T0 + 2), { status: "Completed", newHistory: [req.startedEvent] }), T0 + 3);
    await rec.untilChange("c", "Completed");
    // A client restart replaces the finished instance: Pending again.
    await create(p, "c", { executionId: "again", now: T0 + 4 });
    await rec.untilChange("c", "Pending");
    assert.deepEqual(
      rec.events.filter(([id]) => id === "c").map(([, s]) => s),
      ["Pending", "Running", "Completed", "Pending"],
    );
    for (const [announced, read] of await Promise.all(rec.reads)) assert.equal(read, announced, "a listener reading the instance sees the announced status");
    rec.stop();
  });

  test("a step's child start announces the child it creates or replaces", async (p, h, t) => {
    if (!hasOnChange(p, t)) return;
    await runTo(p, "old-child", "Completed", { executionId: "c1" });
    await create(p, "parent", { executionId: "pe" });
    const reader = h.second ? await h.second() : p;
    const rec = recordChanges(p, reader);
    const parent = { name: "Orch", instanceId: "parent", executionId: "pe", taskScheduledId: 1 };
    await commitOk(
      p,
      commitFor(await lockOne(p, "parent", T0 + 1), {
        messages: [startChild(startedEvent("new-child", "n1", { parent })), startChild(startedEvent("old-child", "c2", { parent: { ...parent, taskScheduledId: 2 } }))],
      }),
      T0 + 1,
    );
    await rec.untilChange("parent", "Running");
    await rec.untilChange("new-child", "Pending");
    await rec.untilChange("old-child", "Pending");
    for (const [announced, read] of await Promise.all(rec.reads)) assert.equal(read, announced);
    rec.stop();
  });

  test("nothing for refused writes, for steps that keep the status, nor after unsubscribing", async (p, _h, t) => {
    if (!hasOnChange(p, t)) return;
    await runTo(p, "r", "Running");
    await create(p, "o", { now: T0 });
    await commitOk(p, commitFor(await lockOne(p, "o", T0)), T0);
    await create(p, "m", { now: T0 });
    const rec = recordChanges(p, p);
    await assert.rejects(create(p, "r", { now: T0 + 1 }));
    await p.sendMessages([toEvent("r", eventRaised("e", T0 + 1))], T0 + 1);
    const stale = await lockOne(p, "r", T0 + 1);
    const fresh = await lockOne(p, "r", T0 + 1 + LEASE);
    assertLockLost(await commitOne(p, commitFor(stale, { status: "Completed" }), T0 + 2 + LEASE));
    assertLockLost(await commitOne(p, optimisticFor({ ...(await p.getInstance("o"))!, historyLength: 99 }, { status: "Failed" }), T0 + 2 + LEASE));
    await commitOk(p, commitFor(fresh, { status: "Running" }), T0 + 3 + LEASE);
    await p.sendMessages([toEvent("o", eventRaised("x", T0 + 3 + LEASE))], T0 + 3 + LEASE);
    await p.abandonOrchestrationWorkItem(await lockOne(p, "o", T0 + 3 + LEASE), { retryAfterMs: 0, park: { code: "X", message: "x", since: T0, attempts: 1 } }, T0 + 3 + LEASE);
    assert.ok(await p.markParked("m", { code: "Y", message: "y", since: T0, attempts: 0 }, T0 + 3 + LEASE));
    // A marker: a status change after everything above.
    await p.sendMessages([toEvent("r", eventRaised("m", T0 + 4 + LEASE))], T0 + 4 + LEASE);
    await commitOk(p, commitFor(await lockOne(p, "r", T0 + 4 + LEASE), { status: "Completed" }), T0 + 4 + LEASE);
    await rec.untilChange("r", "Completed");
    assert.deepEqual(rec.events, [["r", "Completed"]]);

    rec.stop();
    rec.events.length = 0;
    await create(p, "after", { now: T0 + 5 + LEASE });
    assert.deepEqual(rec.events, []);
  });
}

export function statsTests(test: Define): void {
  /** How many write transactions `fn` cost. */
  async function cost(stats: ProviderStats, fn: () => Promise<unknown>): Promise<number> {
    const before = stats.writeTransactions;
    await fn();
    return stats.writeTransactions - before;
  }

  test("stats.writeTransactions: one per write, none for reads and idle polls", async (p, _h, t) => {
    const stats = p.stats;
    if (!stats) {
      t.skip("this provider keeps no stats");
      return;
    }
    assert.equal(await cost(stats, () => create(p, "s", { now: T0 })), 1, "createInstance");
    assert.equal(await cost(stats, () => p.sendMessages([toEvent("s", eventRaised("e", T0)), signal("@counter@k", "x", T0)], T0)), 1, "sendMessages");
    let found: OrchestrationWorkItem[] = [];
    assert.equal(
      await cost(stats, async () => {
        found = await lockAll(p, T0, { functions: { orchestrations: ["orch"], entities: [] } });
      }),
      1,
      "a lock that finds work",
    );
    const [item, ...others] = found;
    assert.ok(item);
    assert.equal(others.length, 0, "the entity is filtered out");
    assert.equal(await cost(stats, () => p.renewOrchestrationWorkItems([item], LEASE, T0)), 1, "renew");
    assert.equal(
      await cost(stats, () => commitOk(p, commitFor(item, { activityTasks: [{ instanceId: "s", executionId: item.instance.executionId, taskScheduledId: 1, name: "a" }], messages: [toSelf("s", timerFired(1, T0 + 9_000), { visibleAt: T0 + 9_000 })] }), T0 + 1)),
      1,
      "a commit",
    );
    let locked: Awaited<ReturnType<typeof lockActivities>> = [];
    assert.equal(
      await cost(stats, async () => {
        locked = await lockActivities(p, T0 + 1);
      }),
      1,
      "an activity lock that finds work",
    );
    assert.equal(await cost(stats, () => p.completeActivityWorkItems([{ item: locked[0]!, event: taskCompleted(1, T0 + 2) }], T0 + 2)), 1, "an activity completion");
    const items = await lockAll(p, T0 + 2);
    assert.equal(items.length, 2);
    for (const i of items) assert.equal(await cost(stats, () => p.abandonOrchestrationWorkItem(i, { retryAfterMs: 60_000 }, T0 + 2)), 1, "abandon");
    assert.equal(await cost(stats, () => p.markParked("s", { code: "X", message: "x", since: T0, attempts: 0 }, T0 + 3)), 1, "markParked");

    // Reads and polls that find nothing to lock write nothing.
    await create(p, "leased", { now: T0 + 3 });
    await scheduleActivities(p, "leased", ["b"], T0 + 3);
    assert.equal((await lockActivities(p, T0 + 3)).length, 1);
    await create(p, "leased-too", { now: T0 + 3 });
    await lockOne(p, "leased-too", T0 + 3);
    await create(p, "future", { now: T0 + 3, visibleAt: T0 + 50_000 });
    await create(p, "filtered", { now: T0 + 3, name: "NobodyHasIt" });
    const idle = await cost(stats, async () => {
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await lockAll(p, T0 + 4, { functions: { orchestrations: ["orch"], entities: ["counter"] } }), [], "in a retry delay, leased, not yet visible or filtered out");
        assert.deepEqual(await lockActivities(p, T0 + 4), []);
        assert.deepEqual(await lockActivities(p, T0 + 4, { functions: ["nothing"] }), []);
      }
      await p.getInstance("s");
      await p.getHistory("s");
      await p.getHistory("s", { fromSeq: 1, limit: 1 });
      await p.queryInstances({ name: "orch" });
      await p.nextVisibleAt(T0 + 4);
      await p.findStrandedWork({ functions: { orchestrations: [], entities: [], activities: [] }, now: T0 + 4, visibleBefore: T0 + 4, limit: 10 });
    });
    assert.equal(idle, 0);
  });
}
