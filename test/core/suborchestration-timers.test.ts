import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidArgumentError, TaskFailedError } from "../../src/core/errors.js";
import type { Task, TimerTask } from "../../src/core/tasks.js";
import {
  at,
  batch,
  episode,
  failure,
  newEventRaised,
  newExecutionStarted,
  newSubOrchestrationCompleted,
  newSubOrchestrationCreated,
  newSubOrchestrationFailed,
  newTaskCompleted,
  newTaskScheduled,
  newTimerCreated,
  newTimerFired,
  startEvents,
} from "./factories.js";
import { orch, run, Simulation } from "./harness.js";

describe("callSubOrchestrator", () => {
  test("default child ID is `<parent>:<seq>` using the action's sequence number", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("First");
      return yield ctx.df.callSubOrchestrator("Child", { v: 1 });
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("Parent"));
    const r = sim.step(10, newTaskCompleted(0));
    assert.deepEqual(r.actions, [{ kind: "CreateSubOrchestration", id: 1, name: "Child", instanceId: "inst-1:1", input: '{"v":1}' }]);
    const done = sim.step(20, newSubOrchestrationCompleted(1, { out: 2 }));
    assert.deepEqual(done.completion, { status: "Completed", result: '{"out":2}' });
  });

  test("after continueAsNew the default child ID carries the generation: `<parent>:<generation>:<seq>`", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callSubOrchestrator("Child");
    });
    const r = run(fn, [], startEvents("Parent", undefined, { generation: 3 }));
    assert.deepEqual(r.actions, [{ kind: "CreateSubOrchestration", id: 0, name: "Child", instanceId: "inst-1:3:0" }]);
  });

  test("a given child instance ID is used as is", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callSubOrchestrator("Child", undefined, "my-child");
    });
    const r = run(fn, [], startEvents("Parent"));
    assert.deepEqual(r.actions, [{ kind: "CreateSubOrchestration", id: 0, name: "Child", instanceId: "my-child" }]);
  });

  test("a child failure is thrown as TaskFailedError of kind 'orchestrator' with the child's failure details", () => {
    let caught: unknown;
    const fn = orch(function* (ctx) {
      try {
        yield ctx.df.callSubOrchestrator("Child", 1, "c1");
      } catch (err) {
        caught = err;
        throw err;
      }
    });
    const details = failure("child exploded", "TypeError");
    const past = episode(0, newExecutionStarted("Parent"), newSubOrchestrationCreated(0, "Child", "c1", 1));
    const r = run(fn, past, batch(10, newSubOrchestrationFailed(0, "Child", details)));
    assert.ok(caught instanceof TaskFailedError);
    assert.equal(caught.taskKind, "orchestrator");
    assert.equal(caught.taskName, "Child");
    assert.equal(caught.message, "Orchestrator function 'Child' failed: child exploded");
    assert.deepEqual(caught.failureDetails, details);
    assert.equal(r.completion?.status, "Failed");
    assert.equal(r.completion.result, JSON.stringify("Orchestrator function 'Parent' failed: Orchestrator function 'Child' failed: child exploded"));
  });

  test("an empty name or empty instance ID is rejected", () => {
    const noName = orch(function* (ctx) {
      yield ctx.df.callSubOrchestrator("");
    });
    const r1 = run(noName, [], startEvents("Parent"));
    assert.match(r1.completion?.failureDetails?.errorMessage ?? "", /^A sub-orchestration function name must be provided/);
    const emptyId = orch(function* (ctx) {
      yield ctx.df.callSubOrchestrator("Child", undefined, "");
    });
    const r2 = run(emptyId, [], startEvents("Parent"));
    assert.equal(r2.completion?.failureDetails?.code, "INVALID_ARGUMENT");
  });
});

describe("createTimer", () => {
  test("schedules a CreateTimer action at the given time and resumes when it fires", () => {
    let fired: unknown = "not yet";
    const fn = orch(function* (ctx) {
      const due = new Date(ctx.df.currentUtcDateTime.getTime() + 60_000);
      fired = yield ctx.df.createTimer(due);
      return "woke";
    });
    const sim = new Simulation(fn);
    const r0 = sim.step(5000, newExecutionStarted("O"));
    assert.deepEqual(r0.actions, [{ kind: "CreateTimer", id: 0, fireAt: at(65_000) }]);
    const r1 = sim.step(65_000, newTimerFired(0, at(65_000)));
    assert.equal(fired, undefined);
    assert.deepEqual(r1.completion, { status: "Completed", result: '"woke"' });
  });

  test("createTimer rejects anything but a valid Date with a TypeError", () => {
    for (const bad of ["2024-01-01", 0, new Date(Number.NaN)]) {
      const fn = orch(function* (ctx) {
        yield ctx.df.createTimer(bad as Date);
      });
      const r = run(fn, [], startEvents("O"));
      assert.equal(r.completion?.status, "Failed");
      assert.equal(r.completion.failureDetails?.errorType, "TypeError");
      assert.match(r.completion.failureDetails?.errorMessage ?? "", /^fireAt: Expected valid Date object/);
    }
  });

  test("a canceled timer never resumes the orchestration", () => {
    const due = new Date(Date.parse(at(60_000)));
    let sawTimer = false;
    const fn = orch(function* (ctx) {
      const timer = ctx.df.createTimer(due);
      const evt = ctx.df.waitForExternalEvent("Approve");
      const winner = yield ctx.df.Task.any([evt, timer]);
      if (winner === timer) sawTimer = true;
      timer.cancel();
      return yield ctx.df.callActivity("Next");
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    const r1 = sim.step(10, newEventRaised("Approve", true));
    assert.deepEqual(r1.actions, [{ kind: "ScheduleTask", id: 1, name: "Next" }]);
    const r2 = sim.step(60_000, newTimerFired(0, due));
    assert.equal(sawTimer, false);
    assert.deepEqual(r2.actions, []);
    assert.equal(r2.completion, undefined);
    assert.equal(sim.step(60_010, newTaskCompleted(1, "n")).completion?.status, "Completed");
  });

  test("cancel() of a completed timer throws 'Cannot cancel a completed task.'", () => {
    let thrown: unknown;
    const fn = orch(function* (ctx) {
      const timer: TimerTask = ctx.df.createTimer(new Date(Date.parse(at(1000))));
      yield timer;
      try {
        timer.cancel();
      } catch (err) {
        thrown = err;
      }
      return timer.isCanceled;
    });
    const r = run(fn, episode(0, newExecutionStarted("O"), newTimerCreated(0, at(1000))), batch(1000, newTimerFired(0, at(1000))));
    assert.ok(thrown instanceof InvalidArgumentError);
    assert.equal(thrown.message, "Cannot cancel a completed task.");
    assert.deepEqual(r.completion, { status: "Completed", result: "false" });
  });

  test("returning while a timer is pending completes the orchestration; the timer action is still reported", () => {
    // Perdure completes when the function returns (unlike durable-functions, which waits for uncanceled
    // timers). The executor still lists the CreateTimer action so history holds every action the code
    // produced (a replay from scratch must find it); the worker records it but does not dispatch it.
    const due = new Date(Date.parse(at(86_400_000)));
    const fn = orch(function* (ctx) {
      const evt = ctx.df.waitForExternalEvent("Go");
      const winner = (yield ctx.df.Task.any([ctx.df.createTimer(due), evt])) as Task;
      return winner === evt ? "event" : "timer";
    });
    const sim = new Simulation(fn);
    const r = sim.step(0, newEventRaised("Go"), newExecutionStarted("O"));
    assert.deepEqual(r.completion, { status: "Completed", result: '"event"' });
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 0, fireAt: due.toISOString() }]);
    // A replay of the recorded history reproduces the same outcome without new actions.
    const replay = run(fn, sim.history, []);
    assert.deepEqual(replay.actions, []);
    assert.deepEqual(replay.completion, { status: "Completed", result: '"event"' });
  });

  test("a pending timer scheduled in an earlier episode does not keep the orchestration open", () => {
    const due = at(86_400_000);
    const fn = orch(function* (ctx) {
      const a = ctx.df.callActivity("Work");
      yield ctx.df.Task.any([a, ctx.df.createTimer(new Date(Date.parse(due)))]);
      return a.result;
    });
    const past = episode(0, newExecutionStarted("O"), newTaskScheduled(0, "Work"), newTimerCreated(1, due));
    const r = run(fn, past, batch(10, newTaskCompleted(0, "w")));
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.completion, { status: "Completed", result: '"w"' });
  });
});
