import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HistoryEvent } from "../../src/core/history.js";
import { planRewind } from "../../src/core/rewind.js";
import {
  batch,
  newExecutionRewound,
  newExecutionStarted,
  newExecutionSuspended,
  newExecutionTerminated,
  newSubOrchestrationCompleted,
  newSubOrchestrationFailed,
  newTaskCompleted,
  newTaskFailed,
} from "./factories.js";
import { orch, run, Simulation } from "./harness.js";

const types = (h: readonly HistoryEvent[]): string[] => h.map((e) => (e.type === "TaskFailed" || e.type === "TaskScheduled" ? `${e.type}#${e.type === "TaskFailed" ? e.taskScheduledId : e.eventId}` : e.type));

/** Fan-out of A and B, a fallback C when A fails, and a child orchestration. */
const fn = orch(function* (ctx) {
  let a: unknown;
  try {
    a = yield ctx.df.callActivity("A");
  } catch {
    a = yield ctx.df.callActivity("C"); // handled failure: stays in history after a rewind
  }
  const [b, child] = (yield ctx.df.Task.all([ctx.df.callActivity("B", a), ctx.df.callSubOrchestrator("Child", a, "child-1")])) as unknown[];
  return { a, b, child };
});

function failedRun(): Simulation {
  const sim = new Simulation(fn);
  sim.step(0, newExecutionStarted("Rewindable"));
  sim.step(10, newTaskFailed(0, "A", "A is down")); // caught → schedules C (#1)
  sim.step(20, newTaskCompleted(1, "c")); // schedules B (#2) and Child (#3)
  const r = sim.step(30, newTaskFailed(2, "B", "B is down"), newSubOrchestrationFailed(3, "Child", "child is down"));
  assert.equal(r.completion?.status, "Failed");
  return sim;
}

describe("planRewind", () => {
  test("removes the last episode's failures and the terminal record; lists activities to retry and children to rewind", () => {
    const sim = failedRun();
    const plan = planRewind(sim.history);
    assert.ok(plan);
    assert.deepEqual(
      plan.activitiesToRetry.map((t) => [t.eventId, t.name, t.input]),
      [[2, "B", '"c"']],
    );
    assert.deepEqual(plan.childrenToRewind, ["child-1"]);
    const kept = types(plan.history);
    assert.ok(kept.includes("TaskFailed#0"), "the failure handled in an earlier episode stays");
    assert.ok(!kept.includes("TaskFailed#2"));
    assert.ok(!kept.includes("SubOrchestrationInstanceFailed"));
    assert.ok(!kept.includes("ExecutionCompleted"));
    assert.equal(kept.at(-1), "OrchestratorStarted", "the failed episode is reopened (its OrchestratorCompleted is dropped)");
    assert.equal(plan.history.length, sim.history.length - 4, "TaskFailed#2, the child's failure (recorded after the failure), ExecutionCompleted and the last OrchestratorCompleted");
  });

  test("the rewound history replays cleanly and the orchestration finishes when the retried work succeeds", () => {
    const plan = planRewind(failedRun().history)!;
    const r1 = run(fn, plan.history, batch(100, newExecutionRewound("fixed")));
    assert.deepEqual(r1.actions, [], "replay of the kept history produces nothing new");
    assert.equal(r1.completion, undefined);
    const r2 = run(fn, plan.history, batch(100, newExecutionRewound("fixed"), newTaskCompleted(2, "b"), newSubOrchestrationCompleted(3, "kid")));
    assert.deepEqual(r2.completion, { status: "Completed", result: '{"a":"c","b":"b","child":"kid"}' });
  });

  test("work whose result was dropped because the instance had already failed is listed too", () => {
    // Task.all fails fast on B; the child's failure in the same batch is still recorded (a failed
    // execution keeps what arrives, for a rewind), and a sibling activity finishing later is dropped
    // by the worker. All of them must produce a result again, or the rewound fan-out waits forever.
    const fanOut = orch(function* (ctx) {
      return yield ctx.df.Task.all([ctx.df.callActivity("A"), ctx.df.callActivity("B"), ctx.df.callSubOrchestrator("Child")]);
    });
    const sim = new Simulation(fanOut);
    sim.step(0, newExecutionStarted("FanOut"));
    const r = sim.step(10, newTaskFailed(1, "B", "B is down"), newSubOrchestrationFailed(2, "Child", "child is down"));
    assert.equal(r.completion?.status, "Failed");
    assert.ok(sim.history.some((e) => e.type === "SubOrchestrationInstanceFailed"), "the child failure after the instance failed is recorded");
    const plan = planRewind(sim.history)!;
    assert.deepEqual(
      plan.activitiesToRetry.map((t) => t.name),
      ["A", "B"],
    );
    assert.deepEqual(plan.childrenToRewind, ["inst-1:2"]);
  });

  test("returns undefined for histories that did not end in failure", () => {
    const running = new Simulation(fn);
    running.step(0, newExecutionStarted("Rewindable"));
    assert.equal(planRewind(running.history), undefined, "running");

    const completed = new Simulation(fn);
    completed.step(0, newExecutionStarted("Rewindable"));
    completed.step(10, newTaskCompleted(0, "a"));
    completed.step(20, newTaskCompleted(1, "b"));
    // child completes via the sub-orchestration event
    const done = completed.step(30, newSubOrchestrationCompleted(2, "child"));
    assert.equal(done.completion?.status, "Completed");
    assert.equal(planRewind(completed.history), undefined, "completed");

    const terminated = new Simulation(fn);
    terminated.step(0, newExecutionStarted("Rewindable"));
    terminated.step(10, newExecutionSuspended(), newExecutionTerminated("stop"));
    assert.equal(planRewind(terminated.history), undefined, "terminated");

    assert.equal(planRewind([]), undefined, "empty");
  });
});
