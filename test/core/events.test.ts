import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  batch,
  episode,
  newEventRaised,
  newExecutionResumed,
  newExecutionStarted,
  newExecutionSuspended,
  newExecutionTerminated,
  newTaskCompleted,
  newTaskScheduled,
  startEvents,
} from "./factories.js";
import { orch, run, Simulation } from "./harness.js";

describe("waitForExternalEvent", () => {
  test("resolves with the parsed payload, or undefined when the event has none", () => {
    const fn = orch(function* (ctx) {
      const a = yield ctx.df.waitForExternalEvent("A");
      const b = yield ctx.df.waitForExternalEvent("B");
      return { a, b: b === undefined ? "none" : b };
    });
    const sim = new Simulation(fn);
    const r0 = sim.step(0, newExecutionStarted("O"));
    assert.deepEqual(r0.actions, [], "waiting for an event takes no action and no sequence number");
    sim.step(10, newEventRaised("A", { x: [1, 2] }));
    const r = sim.step(20, newEventRaised("B"));
    assert.deepEqual(r.completion, { status: "Completed", result: '{"a":{"x":[1,2]},"b":"none"}' });
  });

  test("events raised before the wait are buffered FIFO per name, not lost", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("Slow");
      const out: unknown[] = [];
      out.push(yield ctx.df.waitForExternalEvent("B"));
      out.push(yield ctx.df.waitForExternalEvent("A"));
      out.push(yield ctx.df.waitForExternalEvent("A"));
      out.push(yield ctx.df.waitForExternalEvent("A"));
      return out;
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    sim.step(10, newEventRaised("A", 1), newEventRaised("B", "b"));
    sim.step(20, newEventRaised("A", 2));
    const r1 = sim.step(30, newTaskCompleted(0));
    assert.equal(r1.completion, undefined, "two A events buffered, the third wait still open");
    const r2 = sim.step(40, newEventRaised("A", 3));
    assert.deepEqual(r2.completion, { status: "Completed", result: '["b",1,2,3]' });
  });

  test("event names are case-insensitive", () => {
    const fn = orch(function* (ctx) {
      const early = yield ctx.df.waitForExternalEvent("approval");
      const late = yield ctx.df.waitForExternalEvent("Approval");
      return [early, late];
    });
    const sim = new Simulation(fn);
    sim.step(0, newEventRaised("APPROVAL", "first"), newExecutionStarted("O"));
    const r = sim.step(10, newEventRaised("aPpRoVaL", "second"));
    assert.deepEqual(r.completion, { status: "Completed", result: '["first","second"]' });
  });

  test("several waiters on one name: each event resolves one waiter, the most recent first", () => {
    const fn = orch(function* (ctx) {
      const w1 = ctx.df.waitForExternalEvent("Vote");
      const w2 = ctx.df.waitForExternalEvent("Vote");
      const w3 = ctx.df.waitForExternalEvent("Vote");
      return yield ctx.df.Task.all([w1, w2, w3]);
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    assert.equal(sim.step(10, newEventRaised("Vote", "e1")).completion, undefined);
    assert.equal(sim.step(20, newEventRaised("Vote", "e2")).completion, undefined);
    const r = sim.step(30, newEventRaised("Vote", "e3"));
    // Stack semantics of durable-functions and .NET: the last created waiter gets the first event.
    assert.deepEqual(r.completion, { status: "Completed", result: '["e3","e2","e1"]' });
  });

  test("an empty event name is rejected", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.waitForExternalEvent("");
    });
    assert.equal(run(fn, [], startEvents("O")).completion?.failureDetails?.code, "INVALID_ARGUMENT");
  });
});

describe("continueAsNew", () => {
  test("completes ContinuedAsNew with the new input; nothing after the call is scheduled", () => {
    const fn = orch(function* (ctx) {
      const n = ctx.df.getInput<number>();
      yield ctx.df.callActivity("Tick", n);
      ctx.df.continueAsNew(n + 1);
      yield ctx.df.callActivity("Ignored");
      return "ignored too";
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("Eternal", 41));
    const r = sim.step(10, newTaskCompleted(0));
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.completion, { status: "ContinuedAsNew", result: "42", carryoverEvents: [] });
  });

  test("unconsumed buffered events carry over by default, including ones arriving later in the same batch", () => {
    const fn = orch(function* (ctx) {
      const first = yield ctx.df.waitForExternalEvent("Op");
      yield ctx.df.callActivity("Apply", first);
      ctx.df.continueAsNew({ last: first });
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("Singleton"));
    const op1 = newEventRaised("Op", 1);
    const op2 = newEventRaised("Op", 2);
    const other = newEventRaised("Other", "x");
    sim.step(10, op1, op2, other);
    const op3 = newEventRaised("Op", 3);
    const r = sim.step(20, newTaskCompleted(0), op3);
    assert.equal(r.completion?.status, "ContinuedAsNew");
    assert.equal(r.completion.result, '{"last":1}');
    assert.deepEqual(r.completion.carryoverEvents, [op2, other, op3]);
    assert.ok(!r.recordedEvents.includes(op3), "events after the decision belong to the next execution");
  });

  test("carried-over events keep their arrival order across names", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("Work");
      ctx.df.continueAsNew(0);
    });
    const a1 = newEventRaised("A", 1);
    const b1 = newEventRaised("B", 1);
    const a2 = newEventRaised("A", 2);
    const r = run(fn, episode(0, newExecutionStarted("O"), newTaskScheduled(0, "Work")), batch(10, a1, b1, a2, newTaskCompleted(0)));
    assert.deepEqual(r.completion?.carryoverEvents, [a1, b1, a2]);
  });

  test("preserveUnprocessedEvents: false drops buffered and same-batch events", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("Work");
      ctx.df.continueAsNew(null, { preserveUnprocessedEvents: false });
    });
    const past = episode(0, newExecutionStarted("O"), newTaskScheduled(0, "Work"));
    const late = newEventRaised("Op", 9);
    const r = run(fn, past, batch(10, newEventRaised("Op", 1), newTaskCompleted(0), late));
    assert.deepEqual(r.completion, { status: "ContinuedAsNew", result: "null" });
    assert.ok(!r.recordedEvents.includes(late));
  });

  test("continueAsNew without a new input yields no result", () => {
    const fn = orch(function* (ctx) {
      ctx.df.continueAsNew(undefined);
    });
    const r = run(fn, [], startEvents("O"));
    assert.deepEqual(r.completion, { status: "ContinuedAsNew", carryoverEvents: [] });
  });
});

describe("suspension and termination", () => {
  test("ExecutionSuspended holds events until ExecutionResumed", () => {
    const fn = orch(function* (ctx) {
      const a = yield ctx.df.callActivity("A");
      const e = yield ctx.df.waitForExternalEvent("E");
      return yield ctx.df.callActivity("B", [a, e]);
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    let r = sim.step(10, newExecutionSuspended("maintenance"));
    assert.equal(r.suspended, true);
    r = sim.step(20, newTaskCompleted(0, "a"), newEventRaised("E", "e"));
    assert.equal(r.suspended, true);
    assert.deepEqual(r.actions, [], "no code runs while suspended");
    assert.deepEqual(r.recordedEvents.map((e) => e.type), ["OrchestratorStarted", "TaskCompleted", "EventRaised"], "held events are still recorded");
    r = sim.step(30, newExecutionResumed("done"));
    assert.equal(r.suspended, false);
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 1, name: "B", input: '["a","e"]' }]);
  });

  test("a duplicate completion arriving while suspended is not recorded and resumes the code once", () => {
    let resumed = 0;
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A");
      resumed++;
      yield ctx.df.callActivity("B");
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    sim.step(10, newExecutionSuspended());
    const first = newTaskCompleted(0, 1);
    const dup = newTaskCompleted(0, 1);
    const r1 = sim.step(20, first, dup);
    assert.ok(r1.recordedEvents.includes(first));
    assert.ok(!r1.recordedEvents.includes(dup));
    assert.deepEqual(sim.step(30, newTaskCompleted(0, 1)).recordedEvents.map((e) => e.type), ["OrchestratorStarted"]);
    resumed = 0;
    const r2 = sim.step(40, newExecutionResumed());
    assert.equal(resumed, 2, "once in the from-scratch replay, once in the cached executor");
    assert.deepEqual(r2.actions, [{ kind: "ScheduleTask", id: 1, name: "B" }]);
  });

  test("ExecutionTerminated completes Terminated with the reason, even while suspended", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A");
      return "never";
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    sim.step(10, newExecutionSuspended());
    const r = sim.step(20, newExecutionTerminated("operator said stop"), newTaskCompleted(0, "late"));
    assert.deepEqual(r.completion, { status: "Terminated", result: '"operator said stop"' });
    assert.equal(r.suspended, false);
    assert.deepEqual(r.actions, []);
  });

  test("terminate without a reason", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.waitForExternalEvent("never");
    });
    const r = run(fn, [], [...startEvents("O"), newExecutionTerminated()]);
    assert.deepEqual(r.completion, { status: "Terminated" });
  });
});
