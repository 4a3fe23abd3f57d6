import assert from "node:assert/strict";
import type { OrchestrationCommit, StorageProvider } from "../../../src/providers/provider.js";
import {
  type Define,
  FAR,
  LEASE,
  T0,
  assertLockLost,
  bodies,
  commitFor,
  commitOk,
  commitOne,
  create,
  eventRaised,
  executionCompleted,
  firstStepHistory,
  lockActivities,
  lockAll,
  lockOne,
  optimisticFor,
  orchestratorStarted,
  peekEvents,
  peekMessages,
  runTo,
  scheduleActivities,
  startChild,
  startedEvent,
  taskCompleted,
  timerFired,
  toEvent,
  toSelf,
} from "../fixtures.js";

/** Everything a refused commit must have left alone, as seen through the interface. */
async function snapshot(p: StorageProvider, instanceId: string, now: number) {
  return {
    instance: await p.getInstance(instanceId),
    history: await p.getHistory(instanceId),
    next: await p.nextVisibleAt(now),
  };
}

export function leaseFenceTests(test: Define): void {
  test("a commit with a lost lease is refused with LockLostError and writes nothing", async (p) => {
    await runTo(p, "target-done", "Completed");
    await runTo(p, "target-busy", "Running");
    const req = await create(p, "fenced", { input: '"in"' });
    await p.sendMessages([toEvent("fenced", eventRaised("e", T0))], T0);
    const stale = await lockOne(p, "fenced", T0);
    const taker = await lockOne(p, "fenced", T0 + LEASE);
    const before = {
      fenced: await snapshot(p, "fenced", T0 + LEASE),
      done: await p.getInstance("target-done"),
      busy: await p.getInstance("target-busy"),
    };
    const parent = { name: "Orch", instanceId: "fenced", executionId: stale.instance.executionId, taskScheduledId: 1 };
    const r = await commitOne(
      p,
      commitFor(stale, {
        status: "Completed",
        newHistory: firstStepHistory(req.startedEvent, T0 + 1, [executionCompleted("Completed", T0 + 1, '"x"')]),
        instance: { output: '"x"', customStatus: '"cs"' },
        activityTasks: [{ instanceId: "fenced", executionId: stale.instance.executionId, taskScheduledId: 1, name: "act" }],
        leaseActivities: { workerId: "stale", leaseMs: LEASE, max: 1 },
        messages: [
          toSelf("fenced", timerFired(1, T0 + 99_999), { visibleAt: T0 + 99_999 }),
          toEvent("target-busy", eventRaised("from-stale", T0 + 1)),
          startChild(startedEvent("brand-new", "bn", { parent })),
          startChild(startedEvent("target-done", "td2", { parent })),
          startChild(startedEvent("target-busy", "tb2", { parent })),
        ],
      }),
      T0 + LEASE + 1,
    );
    assertLockLost(r);
    assert.deepEqual(
      {
        fenced: await snapshot(p, "fenced", T0 + LEASE),
        done: await p.getInstance("target-done"),
        busy: await p.getInstance("target-busy"),
      },
      before,
    );
    assert.equal(await p.getInstance("brand-new"), undefined);
    assert.deepEqual(await lockActivities(p, FAR), []);
    assert.deepEqual(await peekEvents(p, "target-busy", T0 + LEASE + 1), []);
    assert.deepEqual(await peekEvents(p, "target-done", T0 + LEASE + 1), []);
    // The consumed messages are still there for the holder of the lease, which can commit.
    assert.deepEqual(bodies(taker.messages), bodies(stale.messages));
    await commitOk(p, commitFor(taker, { newHistory: firstStepHistory(req.startedEvent, T0 + LEASE + 2) }), T0 + LEASE + 2);
    assert.equal((await p.getInstance("fenced"))?.historyLength, 3);
    assert.deepEqual(await lockAll(p, FAR), []);
  });

  test("a made-up token, or an instance that no longer exists, is refused", async (p) => {
    await create(p, "tok");
    const item = await lockOne(p, "tok", T0);
    assertLockLost(await commitOne(p, commitFor({ ...item, lockToken: "not-the-token" }), T0));
    assertLockLost(await commitOne(p, commitFor({ ...item, instanceId: "nobody" }), T0));
    assert.equal(await p.getInstance("nobody"), undefined);
    assert.equal(await p.purgeInstance("tok"), 1);
    assertLockLost(await commitOne(p, commitFor(item), T0), "commit after purge");
    assert.equal(await p.getInstance("tok"), undefined);
  });

  test("a lease that expired but was not taken over still commits", async (p) => {
    await create(p, "late");
    const item = await lockOne(p, "late", T0, { leaseMs: 1_000 });
    await commitOk(p, commitFor(item, { status: "Completed" }), T0 + 5_000);
    assert.equal((await p.getInstance("late"))?.runtimeStatus, "Completed");
  });

  test("replacing a terminal instance fences off a worker still holding its old lease", async (p) => {
    // A worker is consuming leftover messages of a finished instance when the ID is started again,
    // once by a client and once by a parent's sub-orchestration start.
    for (const via of ["createInstance", "startChild"] as const) {
      const id = `fence-${via}`;
      await runTo(p, id, "Completed", { executionId: "old" });
      await p.sendMessages([toEvent(id, eventRaised("leftover", T0 + 1))], T0 + 1);
      const stale = await lockOne(p, id, T0 + 1);
      if (via === "createInstance") {
        await create(p, id, { executionId: "new", now: T0 + 2 });
      } else {
        await create(p, `parent-of-${id}`, { executionId: "pe", now: T0 + 2 });
        const ev = startedEvent(id, "new", { parent: { name: "Orch", instanceId: `parent-of-${id}`, executionId: "pe", taskScheduledId: 1 } });
        await commitOk(p, commitFor(await lockOne(p, `parent-of-${id}`, T0 + 2), { messages: [startChild(ev)] }), T0 + 2);
      }
      const fresh = await p.getInstance(id);
      assert.equal(fresh?.executionId, "new");
      assert.equal(fresh.runtimeStatus, "Pending");
      assertLockLost(await commitOne(p, commitFor(stale, { status: "Completed", instance: { output: '"stale"' } }), T0 + 3), `stale commit after ${via}`);
      assert.deepEqual(await p.getInstance(id), fresh);
      const item = await lockOne(p, id, T0 + 3);
      assert.equal(item.takeover, false, "the new instance was never leased");
      assert.deepEqual(
        item.messages.map((m) => m.message.executionId),
        ["new"],
      );
      await commitOk(p, commitFor(item), T0 + 3);
    }
  });

  test("an activity of a replaced execution can no longer report", async (p) => {
    await create(p, "gen", { executionId: "g1" });
    await scheduleActivities(p, "gen", ["slow"]);
    const [task] = await lockActivities(p, T0);
    await p.sendMessages([toEvent("gen", eventRaised("stop", T0 + 1))], T0 + 1);
    await commitOk(p, commitFor(await lockOne(p, "gen", T0 + 1), { status: "Terminated" }), T0 + 1);
    await create(p, "gen", { executionId: "g2", now: T0 + 2 });
    assertLockLost((await p.completeActivityWorkItems([{ item: task!, event: taskCompleted(1, T0 + 3) }], T0 + 3))[0], "completion of a deleted task");
    assert.deepEqual(
      (await peekMessages(p, "gen", T0 + 3))?.map((m) => m.message.executionId),
      ["g2"],
    );
  });
}

export function optimisticFenceTests(test: Define): void {
  /** An instance after one step, unleased, with its first step's history (3 events). */
  async function settled(p: StorageProvider, id: string) {
    const req = await create(p, id, { executionId: "x1" });
    await commitOk(p, commitFor(await lockOne(p, id, T0), { newHistory: firstStepHistory(req.startedEvent, T0) }), T0);
    const rec = (await p.getInstance(id))!;
    assert.equal(rec.historyLength, 3);
    return rec;
  }
  const step = (rec: Parameters<typeof optimisticFor>[0], now: number, more: Partial<OrchestrationCommit> = {}): OrchestrationCommit =>
    optimisticFor(rec, { newHistory: [orchestratorStarted(now), taskCompleted(1, now, '"r"')], instance: { customStatus: `"at ${now - T0}"` }, ...more });

  test("succeeds on an unleased instance at its execution and history length; consumes nothing from the inbox", async (p) => {
    const rec = await settled(p, "opt");
    await p.sendMessages([toEvent("opt", eventRaised("waiting", T0 + 1))], T0 + 1);
    await commitOk(p, step(rec, T0 + 2, { activityTasks: [{ instanceId: "opt", executionId: "x1", taskScheduledId: 2, name: "next" }] }), T0 + 2);
    const after = await p.getInstance("opt");
    assert.equal(after?.historyLength, 5);
    assert.equal(after.customStatus, '"at 2"');
    assert.equal(after.lastUpdatedAt, T0 + 2);
    assert.deepEqual((await p.getHistory("opt")).slice(3), [orchestratorStarted(T0 + 2), taskCompleted(1, T0 + 2, '"r"')]);
    assert.deepEqual(
      (await lockActivities(p, T0 + 2)).map((a) => a.name),
      ["next"],
    );
    const item = await lockOne(p, "opt", T0 + 2);
    assert.deepEqual(
      item.messages.map((m) => m.message.event),
      [eventRaised("waiting", T0 + 1)],
      "the inbox is untouched",
    );
    assert.equal(item.takeover, false);
  });

  test("is refused while a live lease is held, and writes nothing", async (p) => {
    const rec = await settled(p, "opt");
    await p.sendMessages([toEvent("opt", eventRaised("e", T0 + 1))], T0 + 1);
    const held = await lockOne(p, "opt", T0 + 1);
    const before = await snapshot(p, "opt", T0 + 2);
    assertLockLost(await commitOne(p, step(rec, T0 + 2, { activityTasks: [{ instanceId: "opt", executionId: "x1", taskScheduledId: 2, name: "next" }], messages: [toSelf("opt", timerFired(1, T0 + 9_000), { visibleAt: T0 + 9_000 })] }), T0 + 2));
    assert.deepEqual(await snapshot(p, "opt", T0 + 2), before);
    assert.deepEqual(await lockActivities(p, FAR), []);
    await commitOk(p, commitFor(held), T0 + 3);
  });

  test("is refused during a retry delay (the row is not unleased before locked_until)", async (p) => {
    const rec = await settled(p, "opt");
    await p.sendMessages([toEvent("opt", eventRaised("e", T0 + 1))], T0 + 1);
    await p.abandonOrchestrationWorkItem(await lockOne(p, "opt", T0 + 1), { retryAfterMs: 10_000 }, T0 + 1);
    assertLockLost(await commitOne(p, step(rec, T0 + 2), T0 + 2));
    assert.equal((await p.getInstance("opt"))?.historyLength, 3);
    await commitOk(p, step(rec, T0 + 10_001), T0 + 10_001);
  });

  test("is refused when the execution or the history length differs, or the instance is gone", async (p) => {
    const rec = await settled(p, "opt");
    const before = await snapshot(p, "opt", T0 + 1);
    assertLockLost(await commitOne(p, step({ ...rec, executionId: "x0" }, T0 + 1), T0 + 1), "another execution");
    assertLockLost(await commitOne(p, step({ ...rec, historyLength: 2 }, T0 + 1), T0 + 1), "a shorter history");
    assertLockLost(await commitOne(p, step({ ...rec, historyLength: 4 }, T0 + 1), T0 + 1), "a longer history");
    assertLockLost(await commitOne(p, step({ ...rec, instanceId: "nobody" }, T0 + 1), T0 + 1), "an unknown instance");
    assert.deepEqual(await snapshot(p, "opt", T0 + 1), before);
    assert.equal(await p.getInstance("nobody"), undefined);
    // The expectation moves with each successful commit.
    await commitOk(p, step(rec, T0 + 2), T0 + 2);
    assertLockLost(await commitOne(p, step(rec, T0 + 3), T0 + 3), "the same expectation again");
    await commitOk(p, step((await p.getInstance("opt"))!, T0 + 4), T0 + 4);
    assert.equal((await p.getInstance("opt"))?.historyLength, 7);
  });

  test("over an expired lease it succeeds and spends the stale token: the expired holder's commit is then refused", async (p) => {
    const rec = await settled(p, "opt");
    await p.sendMessages([toEvent("opt", eventRaised("e", T0 + 1))], T0 + 1);
    const expired = await lockOne(p, "opt", T0 + 1, { leaseMs: 1_000 });
    assertLockLost(await commitOne(p, step(rec, T0 + 1_000), T0 + 1_000 - 1), "the lease still runs");
    await commitOk(p, step(rec, T0 + 1_001), T0 + 1_001);
    const after = await p.getInstance("opt");
    assertLockLost(await commitOne(p, commitFor(expired, { status: "Completed" }), T0 + 1_002), "the expired holder");
    assert.deepEqual(await p.getInstance("opt"), after);
    assert.deepEqual(await p.renewOrchestrationWorkItems([expired], LEASE, T0 + 1_002), [false]);
    // Its message was never consumed: the next lock gets it.
    const next = await lockOne(p, "opt", T0 + 1_003);
    assert.deepEqual(
      next.messages.map((m) => m.message.event),
      [eventRaised("e", T0 + 1)],
    );
  });
}
