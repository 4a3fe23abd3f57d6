import assert from "node:assert/strict";
import type { HistoryEvent } from "../../../src/core/history.js";
import type { FunctionNames, OrchestrationWorkItem } from "../../../src/providers/provider.js";
import {
  type Define,
  LEASE,
  T0,
  assertLockLost,
  bodies,
  commitFor,
  commitOk,
  commitOne,
  create,
  eventRaised,
  firstStepHistory,
  ids,
  lockAll,
  lockOne,
  runTo,
  iso,
  signal,
  startedEvent,
  stored,
  terminated,
  timerFired,
  toEvent,
  toSelf,
} from "../fixtures.js";

const NONE: FunctionNames = { orchestrations: [], entities: [] };

export function lockingTests(test: Define): void {
  test("hands out only visible messages (visibleAt <= now)", async (p) => {
    await create(p, "v");
    await p.sendMessages([toEvent("v", timerFired(1, T0 + 1_000), { visibleAt: T0 + 1_000 })], T0);
    const item = await lockOne(p, "v", T0);
    assert.deepEqual(
      item.messages.map((m) => m.message.event.type),
      ["ExecutionStarted"],
    );
    await commitOk(p, commitFor(item), T0);
    assert.deepEqual(await lockAll(p, T0 + 999), []);
    const [timer] = await lockAll(p, T0 + 1_000);
    assert.deepEqual(bodies(timer?.messages), [stored(timerFired(1, T0 + 1_000))]);
  });

  test("sets lockedUntil = now + leaseMs, records the worker, returns the instance row", async (p) => {
    await create(p, "l", { input: '"in"' });
    const [item] = await p.lockOrchestrationWorkItems({ workerId: "w-7", now: T0 + 7, leaseMs: 12_345, max: 5 });
    assert.ok(item);
    assert.equal(item.lockedUntil, T0 + 7 + 12_345);
    assert.equal(item.workerId, "w-7");
    assert.equal(item.takeover, false);
    assert.equal(typeof item.lockToken, "string");
    assert.ok(item.lockToken.length > 0);
    assert.deepEqual(item.instance, await p.getInstance("l"));
  });

  test("a locked instance is not handed out again until its lease expires; the taker gets a new token and takeover", async (p) => {
    await create(p, "x");
    const [first] = await lockAll(p, T0);
    assert.ok(first);
    assert.equal(first.takeover, false);
    await p.sendMessages([toEvent("x", eventRaised("more", T0 + 1))], T0 + 1);
    assert.deepEqual(await lockAll(p, T0 + 1), []);
    assert.deepEqual(await lockAll(p, T0 + LEASE - 1), []);
    const [second, ...none] = await lockAll(p, T0 + LEASE, { workerId: "taker" });
    assert.equal(none.length, 0);
    assert.ok(second);
    assert.equal(second.instanceId, "x");
    assert.notEqual(second.lockToken, first.lockToken);
    assert.equal(second.lockedUntil, T0 + 2 * LEASE);
    assert.equal(second.takeover, true);
    assert.equal(second.workerId, "taker");
    assert.deepEqual(
      second.messages.map((m) => m.message.event.type),
      ["ExecutionStarted", "EventRaised"],
    );
    assert.equal(second.messages[0]!.id, first.messages[0]!.id);
    assert.deepEqual(second.messages[0]!.message, first.messages[0]!.message);
    // The old holder is fenced off; the new one commits.
    assertLockLost(await commitOne(p, commitFor(first), T0 + LEASE + 1));
    await commitOk(p, commitFor(second), T0 + LEASE + 2);
  });

  test("takeover is false after a commit or an abandon released the lease", async (p) => {
    await create(p, "tk");
    await commitOk(p, commitFor(await lockOne(p, "tk", T0)), T0 + 1);
    await p.sendMessages([toEvent("tk", eventRaised("a", T0 + 2))], T0 + 2);
    const afterCommit = await lockOne(p, "tk", T0 + 2);
    assert.equal(afterCommit.takeover, false);
    await p.abandonOrchestrationWorkItem(afterCommit, { retryAfterMs: 0 }, T0 + 3);
    const afterAbandon = await lockOne(p, "tk", T0 + 3);
    assert.equal(afterAbandon.takeover, false);
    const taken = await lockOne(p, "tk", T0 + 3 + LEASE);
    assert.equal(taken.takeover, true);
  });

  test("respects max (and max 0 locks nothing)", async (p) => {
    for (let i = 0; i < 5; i++) await create(p, `m${i}`);
    assert.deepEqual(await lockAll(p, T0, { max: 0 }), []);
    const seen: string[] = [];
    for (const expected of [2, 2, 1, 0]) {
      const items = await lockAll(p, T0, { max: 2 });
      assert.equal(items.length, expected);
      seen.push(...ids(items));
    }
    assert.deepEqual([...seen].sort(), ["m0", "m1", "m2", "m3", "m4"]);
  });

  test("returns an instance's messages in id (arrival) order", async (p) => {
    await create(p, "o");
    for (let i = 0; i < 12; i++) await p.sendMessages([toEvent("o", eventRaised(`e${i}`, T0))], T0);
    await p.sendMessages(
      [12, 13, 14].map((i) => toEvent("o", eventRaised(`e${i}`, T0))),
      T0,
    );
    const [item] = await lockAll(p, T0);
    assert.ok(item);
    const msgIds = item.messages.map((m) => m.id);
    assert.deepEqual(
      msgIds,
      [...msgIds].sort((a, b) => a - b),
    );
    assert.equal(new Set(msgIds).size, msgIds.length);
    assert.deepEqual(
      item.messages.slice(1).map((m) => (m.message.event.type === "EventRaised" ? m.message.event.name : "?")),
      Array.from({ length: 15 }, (_, i) => `e${i}`),
    );
  });

  test("messages that arrive while an instance is locked stay for the next lock", async (p) => {
    await create(p, "w");
    const item = await lockOne(p, "w", T0);
    await p.sendMessages([toEvent("w", eventRaised("during", T0 + 1))], T0 + 1);
    assert.deepEqual(await lockAll(p, T0 + 2), [], "still locked");
    await commitOk(p, commitFor(item), T0 + 3);
    const next = await lockOne(p, "w", T0 + 3);
    assert.deepEqual(bodies(next.messages), [stored(eventRaised("during", T0 + 1))]);
  });

  test("concurrent lockers on one handle never get the same instance", async (p) => {
    for (let i = 0; i < 10; i++) await create(p, `cc${i}`);
    const batches = await Promise.all([1, 2, 3, 4, 5].map((n) => lockAll(p, T0, { max: 3, workerId: `w${n}` })));
    const all = batches.flatMap(ids);
    assert.equal(new Set(all).size, all.length, `duplicates in ${JSON.stringify(all)}`);
    assert.equal(all.length, 10);
  });

  test("returned work items are copies: mutating them changes nothing stored", async (p) => {
    const req = await create(p, "cp", { input: '"in"' });
    await commitOk(p, commitFor(await lockOne(p, "cp", T0), { newHistory: firstStepHistory(req.startedEvent, T0) }), T0);
    await p.sendMessages([toEvent("cp", eventRaised("e", T0 + 1))], T0 + 1);
    const item = await lockOne(p, "cp", T0 + 1);
    (item.messages[0]!.message.event as { name?: string }).name = "mutated";
    item.instance.runtimeStatus = "Failed";
    item.instance.input = "mutated";
    (item.history![1] as { name?: string }).name = "mutated";
    item.history!.pop();
    assert.equal((await p.getInstance("cp"))?.runtimeStatus, "Running");
    assert.equal((await p.getInstance("cp"))?.input, '"in"');
    assert.deepEqual(await p.getHistory("cp"), firstStepHistory(req.startedEvent, T0));
    await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 0 }, T0 + 1);
    const again = await lockOne(p, "cp", T0 + 1);
    assert.equal((again.messages[0]!.message.event as { name?: string }).name, "e");
    assert.deepEqual(again.history, firstStepHistory(req.startedEvent, T0));
  });

  test("functions: a worker locks only instances of its orchestrators and entities (names case-insensitive)", async (p) => {
    await create(p, "a1", { name: "Alpha" });
    await create(p, "b1", { name: "Beta" });
    await p.sendMessages([signal("@counter@1", "add", T0, 1), signal("@other@1", "add", T0, 1)], T0);
    // Workers without the function poll again and again: they neither lock nor count a delivery.
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await lockAll(p, T0, { functions: NONE, workerId: "nobody" }), []);
      assert.deepEqual(await lockAll(p, T0, { functions: { orchestrations: ["gamma", "counter"], entities: ["alpha"] }, workerId: "confused" }), [], "an orchestration name does not match an entity, nor the other way round");
    }
    const first = await lockAll(p, T0, { functions: { orchestrations: ["alpha"], entities: ["counter"] }, workerId: "w1" });
    assert.deepEqual(ids(first).sort(), ["@counter@1", "a1"]);
    const second = await lockAll(p, T0, { functions: { orchestrations: ["beta", "alpha"], entities: ["other"] }, workerId: "w2" });
    assert.deepEqual(ids(second).sort(), ["@other@1", "b1"]);
    for (const item of [...first, ...second]) assert.equal(item.dequeueCount, 1, `${item.instanceId}: the filtered polls handed nothing out`);
    await p.completeOrchestrationWorkItems([...first, ...second].map((i) => commitFor(i)), T0 + 1);
    // Undefined functions: any instance.
    await p.sendMessages([toEvent("b1", eventRaised("e", T0 + 2)), signal("@counter@1", "add", T0 + 2, 1)], T0 + 2);
    assert.deepEqual(ids(await lockAll(p, T0 + 2)).sort(), ["@counter@1", "b1"]);
  });

  test("functions: an instance with a visible ExecutionTerminated message is locked whatever its function", async (p) => {
    await create(p, "t1", { name: "Unknown" });
    await create(p, "t2", { name: "Unknown" });
    await p.sendMessages([toEvent("t1", terminated(T0, '"stop"'), { visibleAt: T0 + 100 })], T0);
    await p.sendMessages([toEvent("t2", eventRaised("not-a-termination", T0))], T0);
    const w = { functions: { orchestrations: ["known"], entities: [] }, workerId: "w" };
    assert.deepEqual(await lockAll(p, T0 + 99, w), [], "the termination is not visible yet");
    const [item, ...rest] = await lockAll(p, T0 + 100, w);
    assert.equal(rest.length, 0, "t2 has no termination");
    assert.equal(item?.instanceId, "t1");
    assert.deepEqual(
      item.messages.map((m) => m.message.event.type),
      ["ExecutionStarted", "ExecutionTerminated"],
    );
  });

  test("functions: a finished instance's late messages are consumed by any worker; a rewind waits for one with the function", async (p) => {
    await runTo(p, "done", "Completed", { name: "Unknown" });
    await runTo(p, "failed", "Failed", { name: "Unknown" });
    await runTo(p, "running", "Running", { name: "Unknown" });
    await p.sendMessages([toEvent("done", eventRaised("late", T0 + 1)), toEvent("running", eventRaised("waits", T0 + 1))], T0 + 1);
    await p.sendMessages([toEvent("failed", { type: "ExecutionRewound", eventId: -1, timestamp: iso(T0 + 1) })], T0 + 1);
    const w = { functions: { orchestrations: ["known"], entities: [] }, workerId: "w" };
    const items = await lockAll(p, T0 + 2, w);
    assert.deepEqual(ids(items), ["done"], "only the finished instance's late event: a rewind and a running instance need the code");
    await commitOk(p, commitFor(items[0]!, { status: "Completed" }), T0 + 3);
    assert.deepEqual(ids(await lockAll(p, T0 + 4, { functions: { orchestrations: ["unknown"], entities: [] }, workerId: "has-it" })).sort(), ["failed", "running"]);
  });

  test("cachedHistoryLength: history omitted only when the length matches for that execution", async (p) => {
    const req = await create(p, "h", { executionId: "x1" });
    const asked: [string, string][] = [];
    const cache =
      (executionId: string, length: number | undefined) =>
      (id: string, exec: string): number | undefined => {
        asked.push([id, exec]);
        return exec === executionId ? length : undefined;
      };
    const empty = await lockOne(p, "h", T0, { cachedHistoryLength: () => undefined });
    assert.deepEqual(empty.history, [], "nothing cached: the (empty) history is sent");
    const h1 = firstStepHistory(req.startedEvent, T0);
    await commitOk(p, commitFor(empty, { newHistory: h1 }), T0);

    const step = async (now: number, cached: (id: string, exec: string) => number | undefined): Promise<OrchestrationWorkItem> => {
      await p.sendMessages([toEvent("h", eventRaised(`at-${now}`, now))], now);
      const item = await lockOne(p, "h", now, { cachedHistoryLength: cached });
      await p.abandonOrchestrationWorkItem(item, { retryAfterMs: 0 }, now);
      return item;
    };
    asked.length = 0;
    const hit = await step(T0 + 1, cache("x1", h1.length));
    assert.equal(hit.history, undefined, "the worker holds exactly this history");
    assert.deepEqual(asked, [["h", "x1"]]);
    assert.deepEqual((await step(T0 + 2, cache("x1", h1.length - 1))).history, h1, "a shorter cache gets the history");
    assert.deepEqual((await step(T0 + 3, cache("x1", h1.length + 1))).history, h1, "a longer cache gets the history");
    assert.deepEqual((await step(T0 + 4, cache("other-exec", h1.length))).history, h1, "a cache of another execution gets the history");
    assert.deepEqual((await step(T0 + 5, () => undefined)).history, h1);

    // continueAsNew to x2 with a history of the same length: a cache of x1 no longer matches.
    const item = await lockOne(p, "h", T0 + 6);
    const next = startedEvent("h", "x2", { generation: 1 });
    const h2: HistoryEvent[] = firstStepHistory(next, T0 + 6);
    assert.equal(h2.length, h1.length);
    await commitOk(p, commitFor(item, { status: "ContinuedAsNew", replaceHistory: true, newHistory: h2, instance: { executionId: "x2" }, messages: [toSelf("h", next, { executionId: "x2" })] }), T0 + 6);
    asked.length = 0;
    assert.deepEqual((await step(T0 + 7, cache("x1", h1.length))).history, h2);
    assert.deepEqual(asked, [["h", "x2"]], "asked for the current execution");
    assert.equal((await step(T0 + 8, cache("x2", h2.length))).history, undefined);
  });

  test("dequeueCount: incremented per delivery, the item's is the max, kept by abandon and takeover, new messages start at 1", async (p) => {
    await create(p, "d");
    await p.sendMessages([toEvent("d", timerFired(1, T0 + 10 * LEASE), { visibleAt: T0 + 10 * LEASE })], T0);
    const counts = (item: OrchestrationWorkItem): [string, number][] =>
      item.messages.map((m) => [m.message.event.type === "EventRaised" ? m.message.event.name : m.message.event.type, m.dequeueCount]);

    const first = await lockOne(p, "d", T0);
    assert.deepEqual(counts(first), [["ExecutionStarted", 1]]);
    assert.equal(first.dequeueCount, 1);
    await p.abandonOrchestrationWorkItem(first, { retryAfterMs: 0 }, T0);
    await p.sendMessages([toEvent("d", eventRaised("b", T0 + 1))], T0 + 1);

    const second = await lockOne(p, "d", T0 + 1);
    assert.deepEqual(counts(second), [["ExecutionStarted", 2], ["b", 1]]);
    assert.equal(second.dequeueCount, 2);

    const third = await lockOne(p, "d", T0 + 1 + LEASE, { workerId: "taker" });
    assert.equal(third.takeover, true);
    assert.deepEqual(counts(third), [["ExecutionStarted", 3], ["b", 2]]);
    assert.equal(third.dequeueCount, 3);

    // Consume only b: the start keeps its count, a new message starts afresh.
    await commitOk(p, commitFor(third, { consumed: [third.messages[1]!.id] }), T0 + 2 + LEASE);
    await p.sendMessages([toEvent("d", eventRaised("c", T0 + 3 + LEASE))], T0 + 3 + LEASE);
    const fourth = await lockOne(p, "d", T0 + 3 + LEASE);
    assert.deepEqual(counts(fourth), [["ExecutionStarted", 4], ["c", 1]]);
    assert.equal(fourth.dequeueCount, 4);
    await commitOk(p, commitFor(fourth), T0 + 4 + LEASE);

    // The timer was never handed out while invisible.
    const timer = await lockOne(p, "d", T0 + 10 * LEASE);
    assert.deepEqual(counts(timer), [["TimerFired", 1]]);
    assert.equal(timer.dequeueCount, 1);
  });
}
