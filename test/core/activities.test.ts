import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TaskFailedError } from "../../src/core/errors.js";
import type { Task } from "../../src/core/tasks.js";
import {
  batch,
  episode,
  failure,
  newEventRaised,
  newExecutionStarted,
  newTaskCompleted,
  newTaskFailed,
  newTaskScheduled,
  newTimerCreated,
  newTimerFired,
  startEvents,
} from "./factories.js";
import { orch, run, Simulation } from "./harness.js";

describe("callActivity", () => {
  test("schedules a ScheduleTask action with sequence 0 and the JSON input, and waits", () => {
    const fn = orch(function* (ctx) {
      return yield ctx.df.callActivity("SayHello", { city: "Tokyo" });
    });
    const r = run(fn, [], startEvents("Hello", "in"));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 0, name: "SayHello", input: '{"city":"Tokyo"}' }]);
    assert.equal(r.completion, undefined);
    assert.equal(r.suspended, false);
    assert.deepEqual(
      r.recordedEvents.map((e) => e.type),
      ["OrchestratorStarted", "ExecutionStarted"],
    );
  });

  test("an activity without input produces an action without an input field", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("NoInput");
    });
    const r = run(fn, [], startEvents("O"));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 0, name: "NoInput" }]);
    assert.equal("input" in r.actions[0]!, false);
  });

  test("function chaining: each result feeds the next call; the output is the JSON of the return value", () => {
    const fn = orch(function* (ctx) {
      const a = (yield ctx.df.callActivity("Hello", "Tokyo")) as string;
      const b = (yield ctx.df.callActivity("Hello", "Seattle")) as string;
      return [a, b];
    });
    const sim = new Simulation(fn);
    let r = sim.step(0, newExecutionStarted("Chain"));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 0, name: "Hello", input: '"Tokyo"' }]);
    r = sim.step(1000, newTaskCompleted(0, "Hello Tokyo!"));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 1, name: "Hello", input: '"Seattle"' }]);
    r = sim.step(2000, newTaskCompleted(1, "Hello Seattle!"));
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.completion, { status: "Completed", result: '["Hello Tokyo!","Hello Seattle!"]' });
  });

  test("returning undefined completes without a result", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A");
    });
    const r = run(fn, episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A")), batch(10, newTaskCompleted(0)));
    assert.deepEqual(r.completion, { status: "Completed" });
  });

  test("an activity failure is thrown into the code as TaskFailedError with name, message and original stack", () => {
    let caught: unknown;
    const fn = orch(function* (ctx) {
      try {
        yield ctx.df.callActivity("Charge", 5);
      } catch (err) {
        caught = err;
        return "compensated";
      }
      return "charged";
    });
    const details = failure("card declined", "PaymentError");
    const r = run(fn, episode(0, newExecutionStarted("O"), newTaskScheduled(0, "Charge", 5)), batch(10, newTaskFailed(0, "Charge", details)));
    assert.deepEqual(r.completion, { status: "Completed", result: '"compensated"' });
    assert.ok(caught instanceof TaskFailedError);
    assert.equal(caught.code, "TASK_FAILED");
    assert.equal(caught.taskKind, "activity");
    assert.equal(caught.taskName, "Charge");
    assert.equal(caught.message, "Activity function 'Charge' failed: card declined");
    assert.deepEqual(caught.failureDetails, details);
    assert.match(caught.stack ?? "", /PaymentError: card declined/);
    assert.match(caught.stack ?? "", /at activity \(activity\.ts:1:1\)/);
  });

  test("an empty activity name is rejected at the call site", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("");
    });
    const r = run(fn, [], startEvents("O"));
    assert.equal(r.completion?.status, "Failed");
    assert.equal(r.completion.failureDetails?.code, "INVALID_ARGUMENT");
    assert.match(r.completion.failureDetails?.errorMessage ?? "", /An activity function name must be provided/);
  });

  test("a non-serializable input fails with PAYLOAD_NOT_SERIALIZABLE", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A", { n: 1n });
    });
    const r = run(fn, [], startEvents("O"));
    assert.equal(r.completion?.status, "Failed");
    assert.equal(r.completion.failureDetails?.code, "PAYLOAD_NOT_SERIALIZABLE");
  });

  test("yielding the same task twice schedules it once and gives the same result", () => {
    const fn = orch(function* (ctx) {
      const t = ctx.df.callActivity("A");
      const x = yield t;
      const y = yield t;
      return [x, y];
    });
    const sim = new Simulation(fn);
    assert.equal(sim.step(0, newExecutionStarted("O")).actions.length, 1);
    const r = sim.step(10, newTaskCompleted(0, 7));
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.completion, { status: "Completed", result: "[7,7]" });
  });
});

describe("duplicate and unknown completions", () => {
  test("a second TaskCompleted for the same id is not recorded and does not resume the code twice", () => {
    let resumed = 0;
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A");
      resumed++;
      yield ctx.df.callActivity("B");
      resumed++;
    });
    const past = episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A"));
    const first = newTaskCompleted(0, 1);
    const dup = newTaskCompleted(0, 2);
    const r = run(fn, past, batch(10, first, dup));
    assert.equal(resumed, 1);
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 1, name: "B" }]);
    assert.ok(r.recordedEvents.includes(first));
    assert.ok(!r.recordedEvents.includes(dup));
  });

  test("a duplicate of a completion already in history is ignored", () => {
    let resumed = 0;
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A");
      resumed++;
      yield ctx.df.callActivity("B");
    });
    const past = [...episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A")), ...episode(10, newTaskCompleted(0, 1), newTaskScheduled(1, "B"))];
    const dup = newTaskCompleted(0, 1);
    const r = run(fn, past, batch(20, dup));
    assert.equal(resumed, 1);
    assert.deepEqual(r.actions, []);
    assert.deepEqual(
      r.recordedEvents.map((e) => e.type),
      ["OrchestratorStarted"],
    );
  });

  test("a duplicate TimerFired and a TaskFailed after success are ignored", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.createTimer(new Date(Date.parse("2024-01-01T01:00:00Z")));
      return yield ctx.df.callActivity("A");
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    sim.step(3_600_000, newTimerFired(0, "2024-01-01T01:00:00.000Z"));
    const r1 = sim.step(3_600_001, newTimerFired(0, "2024-01-01T01:00:00.000Z"));
    assert.deepEqual(r1.actions, []);
    assert.deepEqual(r1.recordedEvents.map((e) => e.type), ["OrchestratorStarted"]);
    const r2 = sim.step(3_600_002, newTaskCompleted(1, "ok"), newTaskFailed(1, "A", "late failure"));
    assert.deepEqual(r2.completion, { status: "Completed", result: '"ok"' });
    assert.deepEqual(r2.recordedEvents.map((e) => e.type), ["OrchestratorStarted", "TaskCompleted"]);
  });

  test("a completion for an unknown sequence id is ignored and not recorded", () => {
    const fn = orch(function* (ctx) {
      return yield ctx.df.callActivity("A");
    });
    const r = run(fn, episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A")), batch(10, newTaskCompleted(99, "x"), newTaskFailed(42, "Z", "nope")));
    assert.equal(r.completion, undefined);
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.recordedEvents.map((e) => e.type), ["OrchestratorStarted"]);
  });
});

describe("Task.all", () => {
  test("fan-out schedules every child in list order; results come back in input order", () => {
    const fn = orch(function* (ctx) {
      const tasks = ["a", "b", "c"].map((x) => ctx.df.callActivity("Work", x));
      return yield ctx.df.Task.all(tasks);
    });
    const sim = new Simulation(fn);
    const r0 = sim.step(0, newExecutionStarted("FanOut"));
    assert.deepEqual(
      r0.actions.map((a) => [a.id, a.kind, a.kind === "ScheduleTask" ? a.input : undefined]),
      [
        [0, "ScheduleTask", '"a"'],
        [1, "ScheduleTask", '"b"'],
        [2, "ScheduleTask", '"c"'],
      ],
    );
    assert.equal(sim.step(10, newTaskCompleted(2, "C")).completion, undefined);
    assert.equal(sim.step(20, newTaskCompleted(0, "A")).completion, undefined);
    const r = sim.step(30, newTaskCompleted(1, "B"));
    assert.deepEqual(r.completion, { status: "Completed", result: '["A","B","C"]' });
  });

  test("fails with the first error to arrive; later failures do not change it", () => {
    let caught: unknown;
    const fn = orch(function* (ctx) {
      try {
        yield ctx.df.Task.all([ctx.df.callActivity("A"), ctx.df.callActivity("B"), ctx.df.callActivity("C")]);
      } catch (err) {
        caught = err;
        return "failed";
      }
      return "ok";
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    sim.step(10, newTaskCompleted(0, 1));
    const r = sim.step(20, newTaskFailed(2, "C", "C broke"), newTaskFailed(1, "B", "B broke"));
    assert.deepEqual(r.completion, { status: "Completed", result: '"failed"' });
    assert.ok(caught instanceof TaskFailedError);
    assert.equal(caught.taskName, "C");
    assert.equal(caught.message, "Activity function 'C' failed: C broke");
  });

  test("children that completed before the all was yielded count at once", () => {
    const fn = orch(function* (ctx) {
      const a = ctx.df.callActivity("A");
      yield a;
      const b = ctx.df.callActivity("B");
      return yield ctx.df.Task.all([a, b]);
    });
    const sim = new Simulation(fn);
    sim.step(0, newExecutionStarted("O"));
    const r1 = sim.step(10, newTaskCompleted(0, "a"));
    assert.deepEqual(r1.actions, [{ kind: "ScheduleTask", id: 1, name: "B" }]);
    const r2 = sim.step(20, newTaskCompleted(1, "b"));
    assert.deepEqual(r2.completion, { status: "Completed", result: '["a","b"]' });
  });
});

describe("Task.any", () => {
  test("resolves to the winning Task object itself (compare with ===)", () => {
    let winnerIsB = false;
    const fn = orch(function* (ctx) {
      const a = ctx.df.callActivity("A");
      const b = ctx.df.callActivity("B");
      const winner = (yield ctx.df.Task.any([a, b])) as Task;
      winnerIsB = winner === b;
      return winner.result;
    });
    const sim = new Simulation(fn);
    assert.equal(sim.step(0, newExecutionStarted("O")).actions.length, 2);
    const r = sim.step(10, newTaskCompleted(1, "b wins"), newTaskCompleted(0, "a too late"));
    assert.ok(winnerIsB);
    assert.deepEqual(r.completion, { status: "Completed", result: '"b wins"' });
  });

  test("never throws: a faulted winner is returned with isFaulted and the error as result", () => {
    const fn = orch(function* (ctx) {
      const a = ctx.df.callActivity("A");
      const winner = (yield ctx.df.Task.any([a, ctx.df.callActivity("B")])) as Task;
      return { same: winner === a, faulted: winner.isFaulted, completed: winner.isCompleted, message: (winner.result as Error).message };
    });
    const r = run(fn, episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A"), newTaskScheduled(1, "B")), batch(10, newTaskFailed(0, "A", "bad")));
    assert.equal(r.completion?.status, "Completed");
    assert.deepEqual(JSON.parse(r.completion.result!), { same: true, faulted: true, completed: false, message: "Activity function 'A' failed: bad" });
  });

  test("nesting: any(all(a, b), timer) — sequence numbers follow list order, the all wins, the timer is canceled", () => {
    const deadline = new Date(Date.parse("2024-01-01T00:05:00Z"));
    let timerCanceled = false;
    const fn = orch(function* (ctx) {
      const all = ctx.df.Task.all([ctx.df.callActivity("A"), ctx.df.callActivity("B")]);
      const timer = ctx.df.createTimer(deadline);
      const winner = yield ctx.df.Task.any([all, timer]);
      if (winner === all) {
        timer.cancel();
        timerCanceled = timer.isCanceled;
        return all.result;
      }
      return "timeout";
    });
    const sim = new Simulation(fn);
    const r0 = sim.step(0, newExecutionStarted("O"));
    assert.deepEqual(r0.actions, [
      { kind: "ScheduleTask", id: 0, name: "A" },
      { kind: "ScheduleTask", id: 1, name: "B" },
      { kind: "CreateTimer", id: 2, fireAt: deadline.toISOString() },
    ]);
    sim.step(10, newTaskCompleted(1, "b"));
    const r = sim.step(20, newTaskCompleted(0, "a"));
    assert.ok(timerCanceled);
    assert.deepEqual(r.completion, { status: "Completed", result: '["a","b"]' });
  });

  test("nesting: the timer wins when the work is too slow", () => {
    const deadline = new Date(Date.parse("2024-01-01T00:05:00Z"));
    const fn = orch(function* (ctx) {
      const all = ctx.df.Task.all([ctx.df.callActivity("A"), ctx.df.callActivity("B")]);
      const winner = yield ctx.df.Task.any([all, ctx.df.createTimer(deadline)]);
      return winner === all ? "done" : "timeout";
    });
    const past = episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A"), newTaskScheduled(1, "B"), newTimerCreated(2, deadline));
    const r = run(fn, past, batch(300_000, newTaskCompleted(0, "a"), newTimerFired(2, deadline)));
    assert.deepEqual(r.completion, { status: "Completed", result: '"timeout"' });
  });

  test("any with an external event raised in the same batch resolves in that episode", () => {
    const fn = orch(function* (ctx) {
      const evt = ctx.df.waitForExternalEvent("Go");
      const winner = yield ctx.df.Task.any([ctx.df.createTimer(new Date(Date.parse("2024-01-02T00:00:00Z"))), evt]);
      return winner === evt ? evt.result : "timer";
    });
    const r = run(fn, [], [...startEvents("O"), newEventRaised("Go", 42)]);
    assert.deepEqual(r.completion, { status: "Completed", result: "42" });
  });
});
