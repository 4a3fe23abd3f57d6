import assert from "node:assert/strict";
import { InstanceNotFoundError } from "../../../src/core/errors.js";
import {
  type Define,
  FAR,
  METADATA,
  T0,
  bodies,
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
  newOrchestrationRow,
  outgoing,
  peekEvents,
  peekMessages,
  runTo,
  scheduleLeftovers,
  startChild,
  startedEvent,
  stored,
  taskCompleted,
  timerFired,
  toEvent,
  toParent,
  toSelf,
} from "../fixtures.js";

/** sendMessages: a client's messages (kinds `event` and `entity`). */
export function sendMessagesTests(test: Define): void {
  test("calls made without waiting for each other are stored in call order; a refused one is refused alone", async (p) => {
    await create(p, "order");
    const sends = Array.from({ length: 60 }, (_, i) => p.sendMessages([toEvent(i === 30 ? "missing" : "order", eventRaised(`e${i}`, T0))], T0));
    const settled = await Promise.allSettled(sends);
    settled.forEach((r, i) => assert.equal(r.status, i === 30 ? "rejected" : "fulfilled", `call ${i}`));
    const refused = settled[30];
    assert.ok(refused?.status === "rejected" && hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError)(refused.reason));
    assert.deepEqual(
      (await peekEvents(p, "order", T0)).filter((e) => e.type === "EventRaised").map((e) => (e.type === "EventRaised" ? e.name : "")),
      Array.from({ length: 60 }, (_, i) => `e${i}`).filter((_, i) => i !== 30),
    );
  });

  test("enqueues messages in order, keeping executionId only when given, with visibleAt", async (p) => {
    await create(p, "s1", { executionId: "x1" });
    await p.sendMessages(
      [toEvent("s1", eventRaised("a", T0, '"A"')), toEvent("s1", eventRaised("b", T0), { executionId: "x1" }), toEvent("s1", eventRaised("later", T0), { visibleAt: T0 + 1_000 })],
      T0,
    );
    const msgs = (await peekMessages(p, "s1", T0))!;
    assert.deepEqual(bodies(msgs.slice(1)), [{ event: eventRaised("a", T0, '"A"') }, { event: eventRaised("b", T0), executionId: "x1" }]);
    assert.equal(await p.nextVisibleAt(T0), T0 + 1_000);
    assert.deepEqual(
      (await peekEvents(p, "s1", T0 + 1_000)).map((e) => (e.type === "EventRaised" ? e.name : e.type)),
      ["ExecutionStarted", "a", "b", "later"],
    );
  });

  test("message metadata round-trips", async (p) => {
    await create(p, "md");
    await p.sendMessages([toEvent("md", eventRaised("traced", T0), { metadata: METADATA }), toEvent("md", eventRaised("plain", T0))], T0);
    const item = await lockOne(p, "md", T0);
    assert.deepEqual(bodies(item.messages.slice(1)), [stored(eventRaised("traced", T0), { metadata: METADATA }), stored(eventRaised("plain", T0))]);
  });

  test("an unknown instance raises InstanceNotFoundError and writes nothing, whatever else is in the batch", async (p) => {
    await create(p, "known");
    await assert.rejects(p.sendMessages([toEvent("ghost", eventRaised("e", T0))], T0), (err: unknown) => {
      hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError)(err);
      assert.equal((err as InstanceNotFoundError).instanceId, "ghost");
      return true;
    });
    await assert.rejects(
      p.sendMessages([toEvent("known", eventRaised("e1", T0)), toEvent("ghost", eventRaised("e2", T0)), toEvent("known", eventRaised("e3", T0), { visibleAt: T0 + 10 })], T0),
      hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError),
    );
    assert.equal(await p.getInstance("ghost"), undefined);
    assert.equal(await p.nextVisibleAt(T0), undefined);
    assert.deepEqual(
      (await peekEvents(p, "known", FAR)).map((e) => e.type),
      ["ExecutionStarted"],
    );
  });

  test("a message of kind 'event' never creates an instance, even for an entity-shaped ID", async (p) => {
    await assert.rejects(p.sendMessages([toEvent("@counter@k", eventRaised("e", T0))], T0), hasCode("INSTANCE_NOT_FOUND", InstanceNotFoundError));
    assert.equal(await p.getInstance("@counter@k"), undefined);
    assert.deepEqual(await lockAll(p, FAR), []);
  });

  test("an empty batch is a no-op", async (p) => {
    await p.sendMessages([], T0);
    assert.deepEqual(await lockAll(p, FAR), []);
    assert.deepEqual(await p.queryInstances({}), { instances: [] });
  });
}

/** The messages a step sends, delivered by kind and by the target's state (core's planDelivery). */
export function deliveryTests(test: Define): void {
  test("delivers a timer to itself (kind self) with visibleAt, bound to the execution", async (p) => {
    await create(p, "tm", { executionId: "ex" });
    await commitOk(p, commitFor(await lockOne(p, "tm", T0), { messages: [toSelf("tm", timerFired(1, T0 + 60_000), { executionId: "ex", visibleAt: T0 + 60_000 })] }), T0);
    assert.deepEqual(await lockAll(p, T0 + 59_999), []);
    assert.equal(await p.nextVisibleAt(T0), T0 + 60_000);
    const [item] = await lockAll(p, T0 + 60_000);
    assert.deepEqual(bodies(item?.messages), [stored(timerFired(1, T0 + 60_000), { executionId: "ex" })]);
  });

  test("delivers events to existing instances, with their metadata; event, self and toParent to an unknown instance are dropped", async (p) => {
    await create(p, "from");
    await create(p, "to");
    const r = await commitOne(
      p,
      commitFor(await lockOne(p, "from", T0), {
        messages: [
          toEvent("ghost", eventRaised("lost", T0)),
          toEvent("to", eventRaised("hello", T0, '"hi"'), { metadata: METADATA }),
          toParent("ghost", taskCompleted(1, T0), { executionId: "x" }),
          toSelf("ghost", timerFired(1, T0), { executionId: "x" }),
          toParent("to", taskCompleted(2, T0), { executionId: "to-exec-1" }),
        ],
      }),
      T0,
    );
    assert.ok(r.ok, "a message to an unknown instance does not refuse the step");
    assert.equal(await p.getInstance("ghost"), undefined);
    assert.deepEqual(await p.queryInstances({ instanceIdPrefix: "ghost" }), { instances: [] });
    assert.deepEqual(bodies((await peekMessages(p, "to", T0))?.slice(1)), [
      stored(eventRaised("hello", T0, '"hi"'), { metadata: METADATA }),
      stored(taskCompleted(2, T0), { executionId: "to-exec-1" }),
    ]);
    assert.deepEqual(await lockAll(p, FAR).then(ids), ["to"]);
  });

  test("startChild to a new ID creates the child (Pending, with its parent) and queues its start with metadata", async (p) => {
    await create(p, "parent", { executionId: "pexec" });
    const parentInfo = { name: "Orch", instanceId: "parent", executionId: "pexec", taskScheduledId: 4 };
    const child = startedEvent("child", "cexec", { name: "ChildOrch", input: '"ci"', parent: parentInfo, at: T0 + 7 });
    await commitOk(p, commitFor(await lockOne(p, "parent", T0), { messages: [startChild(child, METADATA)] }), T0 + 7);
    assert.deepEqual(await p.getInstance("child"), newOrchestrationRow("child", "cexec", T0 + 7, { name: "ChildOrch", input: '"ci"', parentInstanceId: "parent" }));
    const item = await lockOne(p, "child", T0 + 7);
    assert.deepEqual(bodies(item.messages), [stored(child, { executionId: "cexec", metadata: METADATA })]);
  });

  test("startChild to a terminal instance replaces it: its history, messages and tasks are gone", async (p) => {
    await runTo(p, "old-child", "Completed", { executionId: "gen1", output: '"done"' });
    await scheduleLeftovers(p, "old-child");
    await create(p, "parent", { executionId: "pexec" });
    const child = startedEvent("old-child", "gen2", { name: "Again", parent: { name: "Orch", instanceId: "parent", executionId: "pexec", taskScheduledId: 1 } });
    await commitOk(p, commitFor(await lockOne(p, "parent", T0 + 100), { messages: [startChild(child)] }), T0 + 100);
    assert.deepEqual(await p.getInstance("old-child"), newOrchestrationRow("old-child", "gen2", T0 + 100, { name: "Again", parentInstanceId: "parent" }));
    assert.deepEqual(await p.getHistory("old-child"), []);
    assert.deepEqual(await lockActivities(p, FAR), []);
    assert.equal(await p.nextVisibleAt(T0 + 100), undefined);
    assert.deepEqual(bodies(await peekMessages(p, "old-child", FAR)), [stored(child, { executionId: "gen2" })]);
  });

  for (const status of ["Pending", "Running", "Suspended", "ContinuedAsNew"] as const) {
    test(`startChild to a ${status} instance is refused: the parent's execution gets SubOrchestrationInstanceFailed`, async (p) => {
      await runTo(p, "busy", status, { executionId: "busy-exec", input: '"keep"' });
      const busyBefore = { instance: await p.getInstance("busy"), history: await p.getHistory("busy"), messages: bodies(await peekMessages(p, "busy", T0)) };
      await create(p, "parent", { executionId: "pexec", now: T0 + 10 });
      const child = startedEvent("busy", "new-exec", { name: "Child", parent: { name: "Orch", instanceId: "parent", executionId: "pexec", taskScheduledId: 6 } });
      await commitOk(p, commitFor(await lockOne(p, "parent", T0 + 10), { messages: [startChild(child)] }), T0 + 10);
      assert.deepEqual({ instance: await p.getInstance("busy"), history: await p.getHistory("busy"), messages: bodies(await peekMessages(p, "busy", T0 + 10)) }, busyBefore);
      const item = await lockOne(p, "parent", T0 + 10);
      assert.equal(item.messages.length, 1);
      const msg = item.messages[0]!.message;
      assert.equal(msg.executionId, "pexec");
      assert.equal(msg.event.type, "SubOrchestrationInstanceFailed");
      if (msg.event.type !== "SubOrchestrationInstanceFailed") return;
      assert.equal(msg.event.taskScheduledId, 6);
      assert.equal(msg.event.failureDetails.code, "INSTANCE_ALREADY_EXISTS");
      assert.equal(msg.event.failureDetails.errorType, "InstanceAlreadyExistsError");
      assert.match(msg.event.reason, /busy/);
    });
  }

  test("startChild without a parent to a running instance is dropped", async (p) => {
    await runTo(p, "busy", "Running");
    await create(p, "sender");
    const before = await p.getInstance("busy");
    await commitOk(p, commitFor(await lockOne(p, "sender", T0 + 1), { messages: [startChild(startedEvent("busy", "zz"))] }), T0 + 1);
    assert.deepEqual(await p.getInstance("busy"), before);
    assert.deepEqual(await lockAll(p, FAR), []);
  });

  test("startChild carrying anything but ExecutionStarted is dropped", async (p) => {
    await create(p, "sender");
    await commitOk(p, commitFor(await lockOne(p, "sender", T0), { messages: [outgoing("startChild", "kid", eventRaised("not-a-start", T0), { executionId: "k" })] }), T0);
    assert.equal(await p.getInstance("kid"), undefined);
    assert.deepEqual(await lockAll(p, FAR), []);
  });

  test("continueAsNew: ExecutionStarted to itself (kind self) is queued, not refused; history replaced", async (p) => {
    const parent = { name: "P", instanceId: "p0", executionId: "p0e", taskScheduledId: 2 };
    await create(p, "p0", { executionId: "p0e" });
    await runTo(p, "can", "Running", { executionId: "gen0", parent, input: '"0"' });
    await p.sendMessages([toEvent("can", eventRaised("go", T0 + 1))], T0 + 1);
    const item = await lockOne(p, "can", T0 + 1);
    const next = startedEvent("can", "gen1", { input: '"1"', parent, generation: 1, at: T0 + 1 });
    await commitOk(
      p,
      commitFor(item, {
        status: "ContinuedAsNew",
        replaceHistory: true,
        newHistory: [],
        instance: { executionId: "gen1", input: '"1"' },
        messages: [toSelf("can", next, { executionId: "gen1" }), toSelf("can", eventRaised("carried", T0 + 1))],
      }),
      T0 + 1,
    );
    const rec = await p.getInstance("can");
    assert.equal(rec?.runtimeStatus, "ContinuedAsNew");
    assert.equal(rec.executionId, "gen1");
    assert.equal(rec.input, '"1"');
    assert.equal(rec.createdAt, T0);
    assert.equal(rec.historyLength, 0);
    assert.equal(rec.parentInstanceId, "p0");
    assert.deepEqual(await p.getHistory("can"), []);
    const items = await lockAll(p, T0 + 1);
    assert.deepEqual(ids(items).sort(), ["can", "p0"]);
    const mine = items.find((i) => i.instanceId === "can")!;
    assert.deepEqual(bodies(mine.messages), [stored(next, { executionId: "gen1" }), stored(eventRaised("carried", T0 + 1))]);
    const parentItem = items.find((i) => i.instanceId === "p0")!;
    assert.deepEqual(
      parentItem.messages.map((m) => m.message.event.type),
      ["ExecutionStarted"],
      "the parent is not told of a failed start",
    );
  });

  test("two starts of the same new child in one commit: the first creates it, the second is refused to the parent", async (p) => {
    await create(p, "par", { executionId: "pe" });
    const mk = (exec: string, tsid: number) => startedEvent("kid", exec, { parent: { name: "Orch", instanceId: "par", executionId: "pe", taskScheduledId: tsid } });
    await commitOk(p, commitFor(await lockOne(p, "par", T0), { messages: [startChild(mk("k1", 1)), startChild(mk("k2", 2))] }), T0);
    assert.equal((await p.getInstance("kid"))?.executionId, "k1");
    const items = await lockAll(p, T0);
    const kid = items.find((i) => i.instanceId === "kid");
    const par = items.find((i) => i.instanceId === "par");
    assert.deepEqual(
      kid?.messages.map((m) => m.message.executionId),
      ["k1"],
    );
    assert.deepEqual(
      par?.messages.map((m) => [m.message.event.type, m.message.event.type === "SubOrchestrationInstanceFailed" ? m.message.event.taskScheduledId : -1]),
      [["SubOrchestrationInstanceFailed", 2]],
    );
  });
}
