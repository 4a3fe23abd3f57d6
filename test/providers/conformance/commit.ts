import assert from "node:assert/strict";
import type { HistoryEvent } from "../../../src/core/history.js";
import type { ActivityTaskRequest, InstanceRecord } from "../../../src/providers/provider.js";
import {
  type Define,
  LEASE,
  METADATA,
  RICH_FAILURE,
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
  orchestratorCompleted,
  orchestratorStarted,
  peekEvents,
  peekMessages,
  taskCompleted,
  taskFailed,
  taskScheduled,
  toEvent,
} from "../fixtures.js";

export function commitTests(test: Define): void {
  test("appends history in order across steps and counts it", async (p) => {
    const req = await create(p, "h");
    const s1 = await lockOne(p, "h", T0);
    const h1 = firstStepHistory(req.startedEvent, T0, [taskScheduled(1, "a", T0, '"x"'), taskScheduled(2, "b", T0)]);
    await commitOk(p, commitFor(s1, { newHistory: h1 }), T0 + 1);
    assert.deepEqual(await p.getHistory("h"), h1);
    assert.equal((await p.getInstance("h"))?.historyLength, h1.length);

    await p.sendMessages([toEvent("h", taskCompleted(2, T0 + 2, '"r"'))], T0 + 2);
    const s2 = await lockOne(p, "h", T0 + 2);
    assert.equal(s2.instance.historyLength, h1.length);
    assert.deepEqual(s2.history, h1);
    const h2: HistoryEvent[] = [orchestratorStarted(T0 + 2), taskCompleted(2, T0 + 2, '"r"'), taskFailed(1, T0 + 2, RICH_FAILURE), orchestratorCompleted(T0 + 2)];
    await commitOk(p, commitFor(s2, { newHistory: h2 }), T0 + 3);
    assert.deepEqual(await p.getHistory("h"), [...h1, ...h2]);
    assert.equal((await p.getInstance("h"))?.historyLength, h1.length + h2.length);

    // A step with no history (only duplicates) leaves history alone.
    await p.sendMessages([toEvent("h", taskCompleted(2, T0 + 4))], T0 + 4);
    await commitOk(p, commitFor(await lockOne(p, "h", T0 + 4)), T0 + 4);
    assert.deepEqual(await p.getHistory("h"), [...h1, ...h2]);
    assert.equal((await p.getInstance("h"))?.historyLength, h1.length + h2.length);
  });

  test("replaceHistory drops the stored history first", async (p) => {
    const req = await create(p, "rh");
    await commitOk(p, commitFor(await lockOne(p, "rh", T0), { newHistory: firstStepHistory(req.startedEvent, T0, [taskScheduled(1, "a", T0)]) }), T0);
    await p.sendMessages([toEvent("rh", eventRaised("go", T0 + 1))], T0 + 1);
    const rewritten = [orchestratorStarted(T0 + 1), req.startedEvent, orchestratorCompleted(T0 + 1)];
    await commitOk(p, commitFor(await lockOne(p, "rh", T0 + 1), { replaceHistory: true, newHistory: rewritten }), T0 + 1);
    assert.deepEqual(await p.getHistory("rh"), rewritten);
    assert.equal((await p.getInstance("rh"))?.historyLength, 3);
    // Appending after a replacement continues from the new history.
    await p.sendMessages([toEvent("rh", eventRaised("go2", T0 + 2))], T0 + 2);
    await commitOk(p, commitFor(await lockOne(p, "rh", T0 + 2), { newHistory: [orchestratorStarted(T0 + 2)] }), T0 + 2);
    assert.deepEqual(await p.getHistory("rh"), [...rewritten, orchestratorStarted(T0 + 2)]);
    assert.equal((await p.getInstance("rh"))?.historyLength, 4);
    // Replacing with nothing empties it.
    await p.sendMessages([toEvent("rh", eventRaised("go3", T0 + 3))], T0 + 3);
    await commitOk(p, commitFor(await lockOne(p, "rh", T0 + 3), { replaceHistory: true, newHistory: [] }), T0 + 3);
    assert.deepEqual(await p.getHistory("rh"), []);
    assert.equal((await p.getInstance("rh"))?.historyLength, 0);
  });

  test("deletes exactly the consumed messages", async (p) => {
    await create(p, "d");
    await create(p, "other");
    await p.sendMessages(
      ["a", "b", "c"].map((n) => toEvent("d", eventRaised(n, T0))),
      T0,
    );
    const item = await lockOne(p, "d", T0);
    assert.equal(item.messages.length, 4);
    const [m0, m1, m2, m3] = item.messages;
    await commitOk(p, commitFor(item, { consumed: [m0!.id, m2!.id] }), T0);
    const left = await peekMessages(p, "d", T0);
    assert.deepEqual(
      left?.map((m) => m.id),
      [m1!.id, m3!.id],
    );
    assert.deepEqual(bodies(left), bodies([m1!, m3!]));
    assert.deepEqual(
      (await peekEvents(p, "other", T0)).map((e) => e.type),
      ["ExecutionStarted"],
    );
  });

  test("updates the instance row: status, output, customStatus, failureDetails, input, name, executionId; kind and parent stay", async (p) => {
    const parent = { name: "P", instanceId: "par", executionId: "pe", taskScheduledId: 1 };
    await create(p, "u", { executionId: "e1", input: '"in"', now: T0, parent });
    const item = await lockOne(p, "u", T0);
    await commitOk(
      p,
      commitFor(item, {
        status: "Failed",
        newHistory: [orchestratorStarted(T0 + 10), executionCompleted("Failed", T0 + 10, '"why"', RICH_FAILURE)],
        instance: { name: "Renamed", executionId: "e2", input: '"in2"', output: '"why"', customStatus: '{"step":3}', failureDetails: RICH_FAILURE },
      }),
      T0 + 10,
    );
    const expected: InstanceRecord = {
      instanceId: "u",
      kind: "orchestration",
      name: "Renamed",
      executionId: "e2",
      runtimeStatus: "Failed",
      input: '"in2"',
      output: '"why"',
      customStatus: '{"step":3}',
      failureDetails: RICH_FAILURE,
      parentInstanceId: "par",
      createdAt: T0,
      lastUpdatedAt: T0 + 10,
      historyLength: 2,
    };
    assert.deepEqual(await p.getInstance("u"), expected);
    assert.deepEqual((await p.queryInstances({})).instances, [expected]);

    // Undefined fields clear what was stored.
    await p.sendMessages([toEvent("u", eventRaised("x", T0 + 20))], T0 + 20);
    const again = await lockOne(p, "u", T0 + 20);
    assert.deepEqual(again.instance, expected);
    await commitOk(p, { ...commitFor(again), instance: { runtimeStatus: "Running", executionId: "e3", name: "N" } }, T0 + 30);
    assert.deepEqual(await p.getInstance("u"), {
      instanceId: "u",
      kind: "orchestration",
      name: "N",
      executionId: "e3",
      runtimeStatus: "Running",
      parentInstanceId: "par",
      createdAt: T0,
      lastUpdatedAt: T0 + 30,
      historyLength: 2,
    });
  });

  test("instance.lastUpdatedAt keeps the given time instead of the commit's now", async (p) => {
    await create(p, "lu", { now: T0 });
    await commitOk(p, commitFor(await lockOne(p, "lu", T0), { instance: { lastUpdatedAt: T0 + 3 } }), T0 + 50);
    assert.equal((await p.getInstance("lu"))?.lastUpdatedAt, T0 + 3);
    await p.sendMessages([toEvent("lu", eventRaised("x", T0 + 60))], T0 + 60);
    await commitOk(p, commitFor(await lockOne(p, "lu", T0 + 60)), T0 + 70);
    assert.equal((await p.getInstance("lu"))?.lastUpdatedAt, T0 + 70);
  });

  test("payloads round-trip exactly (unicode, escapes, 1 MB)", async (p) => {
    const big = JSON.stringify("x".repeat(1024 * 1024));
    const odd = JSON.stringify({ s: "ünïcödé 😀 \u0000 \u2028 'single' \"double\" \\back\\ ` ${x} %_", n: -0.5e-7, a: [null, true] });
    const req = await create(p, "pl", { input: odd });
    const item = await lockOne(p, "pl", T0);
    assert.equal(item.instance.input, odd);
    const hist = firstStepHistory(req.startedEvent, T0, [taskScheduled(1, "big", T0, big), eventRaised(odd, T0, odd)]);
    await commitOk(p, commitFor(item, { status: "Completed", newHistory: hist, instance: { output: big, customStatus: odd } }), T0);
    const rec = await p.getInstance("pl");
    assert.equal(rec?.input, odd);
    assert.equal(rec?.output, big);
    assert.equal(rec?.customStatus, odd);
    assert.deepEqual(await p.getHistory("pl"), hist);
  });

  test("inserts activity tasks, visible at once, with their input and metadata", async (p) => {
    await create(p, "at", { executionId: "ex" });
    const item = await lockOne(p, "at", T0);
    const tasks: ActivityTaskRequest[] = [
      { instanceId: "at", executionId: "ex", taskScheduledId: 1, name: "first", input: '"one"', metadata: METADATA },
      { instanceId: "at", executionId: "ex", taskScheduledId: 2, name: "second" },
    ];
    const r = await commitOk(p, commitFor(item, { activityTasks: tasks }), T0 + 5);
    assert.equal(r.leasedActivities?.length ?? 0, 0, "nothing leased unless asked");
    const locked = await lockActivities(p, T0 + 5, { leaseMs: 1_000 });
    const byId = [...locked].sort((a, b) => a.taskScheduledId - b.taskScheduledId);
    assert.equal(byId.length, 2);
    for (const [i, t] of tasks.entries()) {
      const { id, lockToken, ...rest } = byId[i]!;
      assert.equal(typeof id, "number");
      assert.ok(lockToken.length > 0);
      assert.deepEqual(rest, { ...t, lockedUntil: T0 + 5 + 1_000, dequeueCount: 1 });
    }
    assert.notEqual(byId[0]!.id, byId[1]!.id);
    assert.notEqual(byId[0]!.lockToken, byId[1]!.lockToken);
  });

  test("releases the lease: new work makes the instance ready at once; the token is spent", async (p) => {
    await create(p, "rel");
    const item = await lockOne(p, "rel", T0);
    await commitOk(p, commitFor(item), T0 + 1);
    assert.deepEqual(await lockAll(p, T0 + 1), []);
    await p.sendMessages([toEvent("rel", eventRaised("x", T0 + 2))], T0 + 2);
    const again = await lockOne(p, "rel", T0 + 2);
    assert.notEqual(again.lockToken, item.lockToken);
    assertLockLost(await commitOne(p, commitFor(item), T0 + 3), "second commit with a spent token");
    await commitOk(p, commitFor(again), T0 + 3);
  });

  test("items in a batch are independent: one lost lease does not refuse the others", async (p) => {
    for (const id of ["b1", "b2", "b3"]) await create(p, id);
    const items = await lockAll(p, T0);
    assert.equal(items.length, 3);
    const lost = items.find((i) => i.instanceId === "b2")!;
    const taker = await lockAll(p, T0 + LEASE, { workerId: "taker" });
    assert.deepEqual(
      taker.map((i) => i.instanceId).sort(),
      ["b1", "b2", "b3"],
    );
    // Every lease expired and was taken over; b1 and b3 commit with their new tokens, b2 with its stale one.
    const fresh = new Map(taker.map((i) => [i.instanceId, i]));
    const results = await p.completeOrchestrationWorkItems(
      [
        commitFor(fresh.get("b1")!, { status: "Completed", instance: { output: '"1"' } }),
        commitFor(lost, { status: "Completed", instance: { output: '"2"' } }),
        commitFor(fresh.get("b3")!, { status: "Completed", instance: { output: '"3"' } }),
      ],
      T0 + LEASE + 1,
    );
    assert.equal(results.length, 3);
    assert.ok(results[0]?.ok);
    assertLockLost(results[1]);
    assert.ok(results[2]?.ok);
    assert.equal((await p.getInstance("b1"))?.output, '"1"');
    assert.equal((await p.getInstance("b2"))?.output, undefined);
    assert.equal((await p.getInstance("b2"))?.runtimeStatus, "Pending");
    assert.equal((await p.getInstance("b3"))?.output, '"3"');
    await commitOk(p, commitFor(fresh.get("b2")!), T0 + LEASE + 2);
  });

  test("two commits with the same token, even concurrently: only one wins", async (p) => {
    await create(p, "twice");
    const item = await lockOne(p, "twice", T0);
    const a = commitFor(item, { instance: { customStatus: '"a"' }, activityTasks: [{ instanceId: "twice", executionId: item.instance.executionId, taskScheduledId: 1, name: "A" }] });
    const b = commitFor(item, { instance: { customStatus: '"b"' }, activityTasks: [{ instanceId: "twice", executionId: item.instance.executionId, taskScheduledId: 1, name: "B" }] });
    const [ra, rb] = await Promise.all([commitOne(p, a, T0 + 1), commitOne(p, b, T0 + 1)]);
    assert.equal([ra, rb].filter((r) => r.ok).length, 1);
    assertLockLost(ra.ok ? rb : ra);
    const acts = await lockActivities(p, T0 + 1);
    assert.equal(acts.length, 1);
    assert.equal(acts[0]!.name, ra.ok ? "A" : "B");
    assert.equal((await p.getInstance("twice"))?.customStatus, ra.ok ? '"a"' : '"b"');
    // Same in one batch.
    await p.sendMessages([toEvent("twice", eventRaised("x", T0 + 2))], T0 + 2);
    const again = await lockOne(p, "twice", T0 + 2);
    const res = await p.completeOrchestrationWorkItems([commitFor(again), commitFor(again)], T0 + 3);
    assert.ok(res[0]?.ok);
    assertLockLost(res[1]);
  });

  test("empty batches are no-ops", async (p) => {
    assert.deepEqual(await p.completeOrchestrationWorkItems([], T0), []);
    assert.deepEqual(await p.completeActivityWorkItems([], T0), []);
    assert.deepEqual(await p.renewOrchestrationWorkItems([], LEASE, T0), []);
    assert.deepEqual(await p.renewActivityWorkItems([], LEASE, T0), []);
  });
}
