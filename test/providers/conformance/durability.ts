import assert from "node:assert/strict";
import {
  type Define,
  LEASE,
  METADATA,
  RICH_FAILURE,
  T0,
  bodies,
  commitFor,
  commitOk,
  entityOperation,
  entityRecord,
  eventRaised,
  firstStepHistory,
  lockActivities,
  lockAll,
  lockOne,
  create,
  signal,
  stored,
  taskScheduled,
  timerFired,
  toEvent,
  toSelf,
} from "../fixtures.js";

export function durabilityTests(test: Define): void {
  test("instances, history, messages, timers, tasks, leases and park records survive a reopen", async (p0, h, t) => {
    if (!h.reopen) {
      t.skip("this store is not persistent");
      return;
    }
    const req = await create(p0, "dur", { executionId: "de", input: '"in"', metadata: METADATA });
    const item = await lockOne(p0, "dur", T0);
    const hist = firstStepHistory(req.startedEvent, T0, [taskScheduled(1, "a", T0)]);
    await commitOk(
      p0,
      commitFor(item, {
        newHistory: hist,
        instance: { customStatus: '"cs"', failureDetails: RICH_FAILURE },
        activityTasks: [{ instanceId: "dur", executionId: "de", taskScheduledId: 1, name: "a", input: '"ai"', metadata: METADATA }],
        messages: [toSelf("dur", timerFired(2, T0 + 50_000), { executionId: "de", visibleAt: T0 + 50_000, metadata: METADATA })],
      }),
      T0 + 1,
    );
    await p0.sendMessages([toEvent("dur", eventRaised("e", T0 + 2))], T0 + 2);
    await p0.abandonOrchestrationWorkItem(await lockOne(p0, "dur", T0 + 2), { retryAfterMs: 0, park: { code: "STORAGE_ERROR", message: "m", since: T0 + 2, attempts: 1 } }, T0 + 2);
    const held = await lockOne(p0, "dur", T0 + 2);
    assert.equal(held.dequeueCount, 2);
    const record = await p0.getInstance("dur");
    assert.ok(record?.parked);

    const p = await h.reopen();
    assert.deepEqual(await p.getInstance("dur"), record);
    assert.deepEqual(await p.getHistory("dur"), hist);
    assert.equal(await p.nextVisibleAt(T0 + 2), T0 + 50_000);
    assert.deepEqual(await lockAll(p, T0 + 3), [], "the lease taken before the reopen still holds");
    // The lease expires: the taker sees a takeover, and the delivery counts carried on.
    const taken = await lockOne(p, "dur", T0 + 2 + LEASE);
    assert.equal(taken.takeover, true);
    assert.equal(taken.dequeueCount, 3);
    assert.deepEqual(taken.instance, record);
    await commitOk(p, commitFor(taken), T0 + 3 + LEASE);
    assert.equal((await p.getInstance("dur"))?.parked, undefined);
    const [task] = await lockActivities(p, T0 + 3 + LEASE);
    assert.equal(task?.name, "a");
    assert.equal(task.input, '"ai"');
    assert.deepEqual(task.metadata, METADATA);
    assert.equal(task.dequeueCount, 1);
    const [timer] = await lockAll(p, T0 + 50_000);
    assert.deepEqual(bodies(timer?.messages), [stored(timerFired(2, T0 + 50_000), { executionId: "de", metadata: METADATA })]);
  });

  test("entities, their kind and entityState survive a reopen", async (p0, h, t) => {
    if (!h.reopen) {
      t.skip("this store is not persistent");
      return;
    }
    await p0.sendMessages([signal("@counter@k", "add", T0, 5)], T0);
    await commitOk(p0, commitFor(await lockOne(p0, "@counter@k", T0), { instance: { entityState: entityRecord(5) } }), T0 + 1);
    await p0.sendMessages([signal("@counter@k", "add", T0 + 2, 1)], T0 + 2);
    await create(p0, "@orch@shaped", { now: T0 + 2 });
    const record = await p0.getInstance("@counter@k");
    const p = await h.reopen();
    assert.deepEqual(await p.getInstance("@counter@k"), record);
    assert.equal(record?.entityState, entityRecord(5));
    assert.equal(record.kind, "entity");
    assert.equal((await p.getInstance("@orch@shaped"))?.kind, "orchestration");
    const item = await lockOne(p, "@counter@k", T0 + 3, { functions: { orchestrations: [], entities: ["counter"] } });
    assert.deepEqual(bodies(item.messages), [stored(entityOperation("@counter@k", "add", T0 + 2, 1))]);
  });
}
