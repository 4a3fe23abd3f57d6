import assert from "node:assert/strict";
import { test } from "node:test";
import { OrchestrationExecutor } from "../../src/core/executor.js";
import type { HistoryEvent } from "../../src/core/history.js";
import { RetryOptions } from "../../src/core/retry-options.js";
import type { Task } from "../../src/core/tasks.js";
import { at, batch, newEventRaised, newExecutionStarted, newTaskCompleted, newTaskFailed, newTimerFired } from "./factories.js";
import { assertSameDecision, orch, stepHistory } from "./harness.js";

test("a cached executor continues with execute([], moreEvents) without replaying and decides like a from-scratch replay", () => {
  let bodyStarts = 0;
  const fn = orch(function* (ctx) {
    bodyStarts++;
    const a = yield ctx.df.callActivity("A", ctx.df.newGuid());
    const evt = ctx.df.waitForExternalEvent("Go");
    const winner = (yield ctx.df.Task.any([evt, ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1000))])) as Task;
    const b = yield ctx.df.callActivityWithRetry("B", new RetryOptions(500, 2), [a, winner === evt]);
    ctx.df.setCustomStatus({ a, b });
    return yield ctx.df.callSubOrchestrator("Child", ctx.df.newGuid());
  });

  // Episode 1 on the executor that will be cached.
  const cached = new OrchestrationExecutor(fn);
  // Sequence numbers: A=0, timer=1, B attempt 1=2, retry timer=3 (fires 500 ms after the failure), B attempt 2=4, child=5.
  const times = [0, 100, 200, 300, 800, 900];
  const batches = [
    batch(0, newExecutionStarted("Cached", { n: 1 })),
    batch(100, newTaskCompleted(0, "a")),
    batch(200, newEventRaised("Go", "now")),
    batch(300, newTaskFailed(2, "B", "first try")),
    batch(800, newTimerFired(3, at(800))),
    batch(900, newTaskCompleted(4, "b")),
  ];
  const expectedActions = [
    ["ScheduleTask#0"],
    ["CreateTimer#1"],
    ["ScheduleTask#2"],
    ["CreateTimer#3"],
    ["ScheduleTask#4"],
    ["CreateSubOrchestration#5"],
  ];
  const history: HistoryEvent[] = [];
  const first = cached.execute([], batches[0]!);
  assert.deepEqual(first.actions.map((a) => `${a.kind}#${a.id}`), expectedActions[0]);
  history.push(...stepHistory(first, at(0), history));
  assert.equal(bodyStarts, 1);

  for (let i = 1; i < batches.length; i++) {
    const incremental = cached.execute([], batches[i]!);
    const startsBefore: number = bodyStarts;
    const fresh = new OrchestrationExecutor(fn).execute(history, batches[i]!);
    assert.equal(bodyStarts, startsBefore + 1, "the from-scratch replay reruns the body from the start");
    assertSameDecision(incremental, fresh, `batch ${i}`);
    assert.deepEqual(incremental.actions.map((a) => `${a.kind}#${a.id}`), expectedActions[i], `actions of batch ${i}`);
    history.push(...stepHistory(fresh, at(times[i]), history));
  }
  assert.equal(bodyStarts, 1 + (batches.length - 1), "the cached executor never restarted the generator");

  // The last step scheduled the child with a deterministic GUID input, identically on both paths.
  const last = new OrchestrationExecutor(fn).execute(history, []);
  assert.deepEqual(last.actions, []);
  const child = history.find((e) => e.type === "SubOrchestrationInstanceCreated");
  assert.equal(child?.type, "SubOrchestrationInstanceCreated");
  assert.equal(child.instanceId, "inst-1:5");
  assert.equal(last.customStatus, '{"a":"a","b":"b"}');
});

test("a cached executor ignores a duplicate it has already applied, like a replay would", () => {
  const fn = orch(function* (ctx) {
    yield ctx.df.callActivity("A");
    return yield ctx.df.callActivity("B");
  });
  const cached = new OrchestrationExecutor(fn);
  cached.execute([], batch(0, newExecutionStarted("O")));
  const r1 = cached.execute([], batch(10, newTaskCompleted(0, 1)));
  assert.deepEqual(r1.actions, [{ kind: "ScheduleTask", id: 1, name: "B" }]);
  const r2 = cached.execute([], batch(20, newTaskCompleted(0, 1)));
  assert.deepEqual(r2.actions, [], "actions already returned are not returned again");
  assert.deepEqual(r2.recordedEvents.map((e) => e.type), ["OrchestratorStarted"]);
  const r3 = cached.execute([], batch(30, newTaskCompleted(1, "done")));
  assert.deepEqual(r3.completion, { status: "Completed", result: '"done"' });
  assert.ok(cached.isComplete);
});
