import assert from "node:assert/strict";
import { InstanceAlreadyExistsError } from "../../../src/core/errors.js";
import type { ActivityTaskRequest } from "../../../src/providers/provider.js";
import {
  commitOne,
  type Define,
  FAR,
  METADATA,
  RICH_FAILURE,
  T0,
  bodies,
  commitFor,
  commitOk,
  assertLockLost,
  create,
  createLeased,
  eventRaised,
  executionCompleted,
  hasCode,
  ids,
  lockActivities,
  lockAll,
  lockOne,
  newOrchestrationRow,
  orchestratorCompleted,
  orchestratorStarted,
  peekMessages,
  runTo,
  scheduleActivities,
  stored,
  taskScheduled,
  timerFired,
  toEvent,
  toSelf,
  WORKER,
  LEASE,
} from "../fixtures.js";

export function initializeTests(test: Define): void {
  test("is idempotent and leaves an empty store", async (p) => {
    await p.initialize();
    await p.initialize();
    assert.deepEqual(await p.queryInstances({}), { instances: [] });
    assert.equal(await p.nextVisibleAt(0), undefined);
    assert.deepEqual(await lockAll(p, FAR), []);
    assert.deepEqual(await lockActivities(p, FAR), []);
  });
}

export function createTests(test: Define): void {
  test("creates a Pending orchestration and enqueues its ExecutionStarted message", async (p) => {
    const parent = { name: "Parent", instanceId: "parent-1", executionId: "pexec", taskScheduledId: 3 };
    const req = await create(p, "c1", { name: "MyOrch", executionId: "e1", input: '{"a":1}', now: T0 + 5, parent });
    const expected = newOrchestrationRow("c1", "e1", T0 + 5, { name: "MyOrch", input: '{"a":1}', parentInstanceId: "parent-1" });
    assert.deepEqual(await p.getInstance("c1"), expected);
    assert.deepEqual(await p.getHistory("c1"), []);
    const [item, ...rest] = await lockAll(p, T0 + 5);
    assert.equal(rest.length, 0);
    assert.ok(item);
    assert.equal(item.instanceId, "c1");
    assert.deepEqual(item.instance, expected);
    assert.deepEqual(bodies(item.messages), [{ event: req.startedEvent, executionId: "e1" }], "no metadata when none was given");
  });

  test("an instance without input or parent has neither field", async (p) => {
    await create(p, "bare", { executionId: "e" });
    assert.deepEqual(await p.getInstance("bare"), newOrchestrationRow("bare", "e", T0));
  });

  test("the request's metadata travels on the ExecutionStarted message", async (p) => {
    const req = await create(p, "traced", { executionId: "e", metadata: METADATA });
    const item = await lockOne(p, "traced", T0);
    assert.deepEqual(bodies(item.messages), [{ event: req.startedEvent, executionId: "e", metadata: METADATA }]);
  });

  test("an instance ID shaped like an entity's is still an orchestration when created as one", async (p) => {
    await create(p, "@counter@k", { executionId: "e", name: "NotAnEntity" });
    assert.deepEqual(await p.getInstance("@counter@k"), newOrchestrationRow("@counter@k", "e", T0, { name: "NotAnEntity" }));
  });

  for (const status of ["Pending", "Running", "Suspended", "ContinuedAsNew"] as const) {
    test(`refuses an existing ${status} instance with InstanceAlreadyExistsError and changes nothing`, async (p) => {
      await runTo(p, "dup", status, { input: '"first"' });
      // Leave work behind that must survive the refused create: a task, a timer and an event.
      let tasks: ActivityTaskRequest[] = [];
      if (status !== "Pending") {
        await p.sendMessages([toEvent("dup", eventRaised("kick", T0 + 1))], T0 + 1);
        tasks = await scheduleActivities(p, "dup", ["act"], T0 + 1);
      }
      await p.sendMessages([toEvent("dup", timerFired(9, T0 + 50_000), { visibleAt: T0 + 50_000 })], T0 + 2);
      await p.sendMessages([toEvent("dup", eventRaised("ev", T0 + 2))], T0 + 2);
      const before = { instance: await p.getInstance("dup"), history: await p.getHistory("dup") };
      const messagesBefore = await peekMessages(p, "dup", T0 + 3);

      await assert.rejects(create(p, "dup", { executionId: "second", input: '"second"', now: T0 + 10 }), (err: unknown) => {
        hasCode("INSTANCE_ALREADY_EXISTS", InstanceAlreadyExistsError)(err);
        assert.equal((err as InstanceAlreadyExistsError).instanceId, "dup");
        return true;
      });

      assert.deepEqual({ instance: await p.getInstance("dup"), history: await p.getHistory("dup") }, before);
      const messagesAfter = await peekMessages(p, "dup", T0 + 3);
      assert.deepEqual(messagesAfter?.map((m) => m.id), messagesBefore?.map((m) => m.id));
      assert.deepEqual(bodies(messagesAfter), bodies(messagesBefore));
      assert.equal(await p.nextVisibleAt(T0 + 10), T0 + 50_000);
      assert.deepEqual(
        (await lockActivities(p, T0 + 10)).map((a) => a.name),
        tasks.map((x) => x.name),
      );
    });
  }

  for (const status of ["Completed", "Failed", "Terminated", "Canceled"] as const) {
    test(`replaces a ${status} instance: old history, messages, tasks and park record are gone`, async (p) => {
      await create(p, "re", { executionId: "old", input: '"old"', now: T0 });
      const item = await lockOne(p, "re", T0);
      const oldStarted = item.messages[0]!.message.event;
      await commitOk(
        p,
        commitFor(item, {
          status,
          newHistory: [orchestratorStarted(T0), oldStarted, taskScheduled(1, "act", T0), executionCompleted("Completed", T0, '"out"'), orchestratorCompleted(T0)],
          instance: { output: '"out"', customStatus: '"cs"', failureDetails: RICH_FAILURE },
          activityTasks: [{ instanceId: "re", executionId: "old", taskScheduledId: 1, name: "act" }],
          messages: [toSelf("re", timerFired(2, T0 + 60_000), { executionId: "old", visibleAt: T0 + 60_000 })],
        }),
        T0,
      );
      await p.sendMessages([toEvent("re", eventRaised("late", T0 + 1))], T0 + 1);
      assert.ok(await p.markParked("re", { code: "FUNCTION_NOT_FOUND", message: "old", since: T0 + 1, attempts: 0 }, T0 + 1));

      const req = await create(p, "re", { executionId: "new", input: '"new"', now: T0 + 100 });

      assert.deepEqual(await p.getInstance("re"), newOrchestrationRow("re", "new", T0 + 100, { input: '"new"' }));
      assert.deepEqual(await p.getHistory("re"), []);
      assert.deepEqual(await lockActivities(p, FAR), [], "the old execution's activity task is gone");
      assert.equal(await p.nextVisibleAt(T0 + 100), undefined, "the old execution's timer is gone");
      assert.deepEqual(bodies(await peekMessages(p, "re", FAR)), [stored(req.startedEvent, { executionId: "new" })]);
    });
  }

  test("visibleAt delays the start", async (p) => {
    await create(p, "later", { now: T0, visibleAt: T0 + 5_000 });
    assert.equal((await p.getInstance("later"))?.runtimeStatus, "Pending");
    assert.deepEqual(await lockAll(p, T0), []);
    assert.equal(await p.nextVisibleAt(T0), T0 + 5_000);
    assert.deepEqual(await lockAll(p, T0 + 4_999), []);
    const items = await lockAll(p, T0 + 5_000);
    assert.deepEqual(ids(items), ["later"]);
    assert.equal(items[0]!.messages[0]!.message.event.type, "ExecutionStarted");
  });

  test("starts made in one turn, then messages made in one turn: a refused one is refused alone", async (p) => {
    // Stores may write a turn's client calls together (group commit): each must still stand alone.
    const starts: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      starts.push(create(p, `turn-${i}`, { executionId: `turn-${i}-x` }));
      if (i === 20) starts.push(create(p, "turn-3", { executionId: "duplicate" }));
    }
    const started = await Promise.allSettled(starts);
    assert.deepEqual(
      started.flatMap((r, i) => (r.status === "rejected" ? [i] : [])),
      [21],
      "only the second start of turn-3",
    );
    hasCode("INSTANCE_ALREADY_EXISTS", InstanceAlreadyExistsError)((started[21] as PromiseRejectedResult).reason);

    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      sends.push(p.sendMessages([toEvent(`turn-${i}`, eventRaised(`hello-${i}`, T0))], T0));
      if (i === 20) sends.push(p.sendMessages([toEvent("turn-nobody", eventRaised("lost", T0))], T0));
    }
    const sent = await Promise.allSettled(sends);
    assert.deepEqual(
      sent.flatMap((r, i) => (r.status === "rejected" ? [i] : [])),
      [21],
      "only the message to nobody",
    );
    assert.equal(((sent[21] as PromiseRejectedResult).reason as { code?: string }).code, "INSTANCE_NOT_FOUND");
    for (let i = 0; i < 40; i++) {
      const msgs = (await peekMessages(p, `turn-${i}`, FAR))!;
      assert.deepEqual(
        msgs.map((m) => m.message.event.type),
        ["ExecutionStarted", "EventRaised"],
        `turn-${i}`,
      );
      assert.equal((await p.getInstance(`turn-${i}`))?.executionId, `turn-${i}-x`, "the first start of an ID wins");
    }
    assert.equal(await p.getInstance("turn-nobody"), undefined);
  });

  test("concurrent creates of one ID on one handle: exactly one wins", async (p) => {
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => create(p, "race", { executionId: `e${n}`, now: T0 + n })));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) if (r.status === "rejected") hasCode("INSTANCE_ALREADY_EXISTS", InstanceAlreadyExistsError)(r.reason);
    const msgs = await peekMessages(p, "race", FAR);
    assert.equal(msgs?.length, 1);
    assert.equal(msgs[0]!.message.executionId, (await p.getInstance("race"))?.executionId);
  });
}

export function startLeaseTests(test: Define): void {
  test("a start with a lease hands its worker the work item, leased; its first step commits on that lease", async (p, h) => {
    const { req, item } = await createLeased(p, "sl", { name: "MyOrch", executionId: "e1", input: '{"a":1}', metadata: METADATA });
    const expected = newOrchestrationRow("sl", "e1", T0, { name: "MyOrch", input: '{"a":1}' });
    assert.deepEqual(await p.getInstance("sl"), expected);
    if (!h.leasesStarts) {
      assert.equal(item, undefined, "a store that declines the lease returns nothing");
      const locked = await lockOne(p, "sl", T0);
      assert.deepEqual(bodies(locked.messages), [{ event: req.startedEvent, executionId: "e1", metadata: METADATA }]);
      return;
    }
    assert.ok(item, "the store leases the start");
    assert.equal(item.instanceId, "sl");
    assert.equal(item.workerId, WORKER);
    assert.equal(item.lockedUntil, T0 + LEASE);
    assert.equal(item.takeover, false);
    assert.equal(item.dequeueCount, 1);
    assert.deepEqual(item.instance, expected);
    assert.deepEqual(item.history, []);
    assert.deepEqual(bodies(item.messages), [{ event: req.startedEvent, executionId: "e1", metadata: METADATA }]);
    assert.deepEqual(item.messages.map((m) => m.dequeueCount), [1]);
    assert.deepEqual(await lockAll(p, T0 + 1), [], "nobody else can lock it while the lease holds");
    const started = item.messages[0]!.message.event;
    await commitOk(p, commitFor(item, { status: "Running", newHistory: [orchestratorStarted(T0 + 2), started, orchestratorCompleted(T0 + 2)] }), T0 + 2);
    assert.equal((await p.getInstance("sl"))?.runtimeStatus, "Running");
    assert.deepEqual(await p.getHistory("sl"), [orchestratorStarted(T0 + 2), started, orchestratorCompleted(T0 + 2)]);
    assert.deepEqual(await lockAll(p, FAR), [], "its start message was consumed by the step");
  });

  test("a leased start that is never completed is taken over when its lease expires", async (p, h) => {
    const { item } = await createLeased(p, "lost", { executionId: "e1", lease: { workerId: "gone", leaseMs: 1_000 } });
    if (!h.leasesStarts) {
      assert.equal(item, undefined);
      assert.equal((await lockOne(p, "lost", T0)).takeover, false);
      return;
    }
    assert.ok(item);
    assert.deepEqual(await lockAll(p, T0 + 999), []);
    const taken = await lockOne(p, "lost", T0 + 1_000, { workerId: "other" });
    assert.equal(taken.takeover, true, "the expired lease is a takeover");
    assert.equal(taken.dequeueCount, 2, "the start was handed out once before");
    assert.deepEqual(taken.history, []);
    assert.deepEqual(bodies(taken.messages), bodies(item.messages));
    assertLockLost(await commitOne(p, commitFor(item, { status: "Running" }), T0 + 1_001), "the first worker's commit");
    await commitOk(p, commitFor(taken, { status: "Running", newHistory: [orchestratorStarted(T0 + 1_001), taken.messages[0]!.message.event] }), T0 + 1_001);
  });

  test("a delayed start is not leased, and a refused one leases nothing", async (p) => {
    const { item } = await createLeased(p, "later", { visibleAt: T0 + 5_000 });
    assert.equal(item, undefined, "a start that is not due yet has nothing to run");
    assert.deepEqual(await lockAll(p, T0 + 4_999), []);
    assert.equal((await lockOne(p, "later", T0 + 5_000)).dequeueCount, 1);

    await create(p, "dup", { executionId: "first" });
    await assert.rejects(createLeased(p, "dup", { executionId: "second", now: T0 + 1 }), hasCode("INSTANCE_ALREADY_EXISTS", InstanceAlreadyExistsError));
    const first = await lockOne(p, "dup", T0 + 2);
    assert.equal(first.takeover, false, "the refused start took no lease");
    assert.equal(first.messages[0]!.message.executionId, "first");
  });

  test("a leased start replaces a finished instance", async (p, h) => {
    await create(p, "again", { executionId: "old" });
    const old = await lockOne(p, "again", T0);
    await commitOk(p, commitFor(old, { status: "Completed", newHistory: [orchestratorStarted(T0), old.messages[0]!.message.event, executionCompleted("Completed", T0)] }), T0);
    const { req, item } = await createLeased(p, "again", { executionId: "new", now: T0 + 10 });
    assert.deepEqual(await p.getInstance("again"), newOrchestrationRow("again", "new", T0 + 10));
    assert.deepEqual(await p.getHistory("again"), []);
    if (!h.leasesReplacingStarts) assert.equal(item, undefined, "a store that does not lease a replacing start returns nothing");
    const got = h.leasesReplacingStarts ? item : await lockOne(p, "again", T0 + 10);
    assert.ok(got);
    assert.deepEqual(got.history ?? [], []);
    assert.deepEqual(bodies(got.messages), [{ event: req.startedEvent, executionId: "new" }]);
  });
}
