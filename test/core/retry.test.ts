import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidArgumentError, TaskFailedError } from "../../src/core/errors.js";
import { RetryOptions } from "../../src/core/retry-options.js";
import { at, failure, newExecutionStarted, newSubOrchestrationCompleted, newSubOrchestrationFailed, newTaskCompleted, newTaskFailed, newTimerFired } from "./factories.js";
import { orch, Simulation } from "./harness.js";

function retry(first: number, attempts: number, extra: Partial<Pick<RetryOptions, "backoffCoefficient" | "maxRetryIntervalInMilliseconds" | "retryTimeoutInMilliseconds">> = {}): RetryOptions {
  const o = new RetryOptions(first, attempts);
  Object.assign(o, extra);
  return o;
}

/** An orchestrator calling one activity with retry; records what it caught. */
function retryingActivity(options: RetryOptions, sink: { error?: unknown }) {
  return orch(function* (ctx) {
    try {
      return yield ctx.df.callActivityWithRetry("Flaky", options, { n: 1 });
    } catch (err) {
      sink.error = err;
      throw err;
    }
  });
}

describe("callActivityWithRetry", () => {
  test("counts the first attempt, backs off by the coefficient, and throws the last attempt's error", () => {
    const sink: { error?: unknown } = {};
    const sim = new Simulation(retryingActivity(retry(1000, 3, { backoffCoefficient: 2 }), sink));
    const input = '{"n":1}';

    let r = sim.step(0, newExecutionStarted("O"));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 0, name: "Flaky", input }]);

    // attempt 1 fails at T0+100: first retry after 1000 ms, from the episode's currentUtcDateTime
    r = sim.step(100, newTaskFailed(0, "Flaky", failure("fail 1")));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 1, fireAt: at(1100) }]);
    r = sim.step(1100, newTimerFired(1, at(1100)));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 2, name: "Flaky", input }]);

    // attempt 2 fails at T0+1200: 1000 * 2^1 = 2000 ms
    r = sim.step(1200, newTaskFailed(2, "Flaky", failure("fail 2")));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 3, fireAt: at(3200) }]);
    r = sim.step(3200, newTimerFired(3, at(3200)));
    assert.deepEqual(r.actions, [{ kind: "ScheduleTask", id: 4, name: "Flaky", input }]);

    // attempt 3 of 3 fails: no more timers, the error surfaces
    const last = failure("fail 3", "RangeError");
    r = sim.step(3300, newTaskFailed(4, "Flaky", last));
    assert.deepEqual(r.actions, []);
    assert.equal(r.completion?.status, "Failed");
    assert.equal(r.completion.result, JSON.stringify("Orchestrator function 'O' failed: Activity function 'Flaky' failed: fail 3"));

    const err = sink.error;
    assert.ok(err instanceof TaskFailedError);
    assert.equal(err.taskKind, "activity");
    assert.equal(err.taskName, "Flaky");
    assert.equal(err.message, "Activity function 'Flaky' failed: fail 3");
    assert.deepEqual(err.failureDetails, last);
    assert.match(err.stack ?? "", /RangeError: fail 3/);

    const scheduled = sim.history.filter((e) => e.type === "TaskScheduled");
    assert.equal(scheduled.length, 3, "maxNumberOfAttempts counts every attempt including the first");
  });

  test("maxNumberOfAttempts 1 means no retry at all", () => {
    const sink: { error?: unknown } = {};
    const sim = new Simulation(retryingActivity(retry(1000, 1), sink));
    sim.step(0, newExecutionStarted("O"));
    const r = sim.step(10, newTaskFailed(0, "Flaky", "once"));
    assert.deepEqual(r.actions, []);
    assert.equal(r.completion?.status, "Failed");
    assert.equal((sink.error as Error).message, "Activity function 'Flaky' failed: once");
  });

  test("a later attempt's success resolves the task with its result", () => {
    const sim = new Simulation(retryingActivity(retry(500, 5), {}));
    sim.step(0, newExecutionStarted("O"));
    sim.step(0, newTaskFailed(0, "Flaky", "x"));
    sim.step(500, newTimerFired(1, at(500)));
    const r = sim.step(600, newTaskCompleted(2, { ok: true }));
    assert.deepEqual(r.completion, { status: "Completed", result: '{"ok":true}' });
  });

  test("maxRetryIntervalInMilliseconds caps the backoff", () => {
    const sim = new Simulation(retryingActivity(retry(1000, 5, { backoffCoefficient: 10, maxRetryIntervalInMilliseconds: 5000 }), {}));
    sim.step(0, newExecutionStarted("O"));
    const delays: number[] = [];
    let now = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const seq = attempt * 2;
      const r = sim.step(now, newTaskFailed(seq, "Flaky", `fail ${attempt}`));
      const timer = r.actions[0];
      assert.equal(timer?.kind, "CreateTimer");
      const fireAt = Date.parse(timer.fireAt);
      delays.push(fireAt - Date.parse(at(now)));
      now = fireAt - Date.parse(at(0));
      sim.step(now, newTimerFired(seq + 1, at(now)));
    }
    assert.deepEqual(delays, [1000, 5000, 5000]);
  });

  test("retryTimeoutInMilliseconds: no retry once currentUtcDateTime >= first attempt + timeout", () => {
    const sink: { error?: unknown } = {};
    const sim = new Simulation(retryingActivity(retry(1000, 10, { retryTimeoutInMilliseconds: 5000 }), sink));
    sim.step(0, newExecutionStarted("O")); // first attempt at T0

    let r = sim.step(100, newTaskFailed(0, "Flaky", "f1"));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 1, fireAt: at(1100) }]);
    sim.step(1100, newTimerFired(1, at(1100)));
    // Still inside the window (T0+4000 < T0+5000): DTFx retries even if the delay runs past the deadline.
    r = sim.step(4000, newTaskFailed(2, "Flaky", "f2"));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 3, fireAt: at(5000) }]);
    sim.step(5000, newTimerFired(3, at(5000)));
    // T0+5100 >= T0+5000: stop, the last error is thrown.
    r = sim.step(5100, newTaskFailed(4, "Flaky", "f3"));
    assert.deepEqual(r.actions, []);
    assert.equal(r.completion?.status, "Failed");
    assert.equal((sink.error as TaskFailedError).message, "Activity function 'Flaky' failed: f3");
  });

  test("a non-retriable failure stops at once", () => {
    const sim = new Simulation(retryingActivity(retry(1000, 5), {}));
    sim.step(0, newExecutionStarted("O"));
    const r = sim.step(10, newTaskFailed(0, "Flaky", { ...failure("fatal"), isNonRetriable: true }));
    assert.deepEqual(r.actions, []);
    assert.equal(r.completion?.status, "Failed");
  });

  test("retries inside Task.all interleave their sequence numbers deterministically", () => {
    const fn = orch(function* (ctx) {
      const o = retry(1000, 3);
      return yield ctx.df.Task.all([ctx.df.callActivityWithRetry("A", o), ctx.df.callActivityWithRetry("B", o)]);
    });
    const sim = new Simulation(fn);
    assert.deepEqual(
      sim.step(0, newExecutionStarted("O")).actions.map((a) => a.id),
      [0, 1],
    );
    assert.deepEqual(sim.step(10, newTaskFailed(0, "A", "a1")).actions, [{ kind: "CreateTimer", id: 2, fireAt: at(1010) }]);
    sim.step(20, newTaskCompleted(1, "b"));
    assert.deepEqual(sim.step(1010, newTimerFired(2, at(1010))).actions, [{ kind: "ScheduleTask", id: 3, name: "A" }]);
    const r = sim.step(1020, newTaskCompleted(3, "a"));
    assert.deepEqual(r.completion, { status: "Completed", result: '["a","b"]' });
  });

  test("bad retry options fail at the call site with clear messages", () => {
    assert.throws(() => new RetryOptions(0, 3), (e: unknown) => e instanceof InvalidArgumentError && e.message === "firstRetryIntervalInMilliseconds value must be greater than 0.");
    assert.throws(() => new RetryOptions(100, 0), /maxNumberOfAttempts must be an integer >= 1/);
    assert.throws(() => new RetryOptions(Number.NaN, 1), /must be a finite number/);
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivityWithRetry("A", retry(100, 2, { backoffCoefficient: 0 }));
    });
    const sim = new Simulation(fn);
    const r = sim.step(0, newExecutionStarted("O"));
    assert.equal(r.completion?.status, "Failed");
    assert.match(r.completion.failureDetails?.errorMessage ?? "", /backoffCoefficient must be a finite number greater than 0/);
    // Objects with the wire fields are accepted (a RetryOptions from another copy of the package, or plain data)...
    const fn2 = orch(function* (ctx) {
      yield ctx.df.callActivityWithRetry("A", { firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 1 } as RetryOptions);
    });
    const r2 = new Simulation(fn2).step(0, newExecutionStarted("O"));
    assert.equal(r2.completion, undefined);
    assert.deepEqual(r2.actions.map((a) => a.kind), ["ScheduleTask"]);
    // ...anything else is refused with a message that says how to build one.
    for (const bad of [undefined, "fast", {}]) {
      const fn3 = orch(function* (ctx) {
        yield ctx.df.callActivityWithRetry("A", bad as unknown as RetryOptions);
      });
      const r3 = new Simulation(fn3).step(0, newExecutionStarted("O"));
      assert.match(r3.completion?.failureDetails?.errorMessage ?? "", /retryOptions must be created with new df\.RetryOptions|firstRetryIntervalInMilliseconds must be a finite number/);
    }
  });
});

describe("callSubOrchestratorWithRetry", () => {
  test("reuses the given child instance ID on every attempt", () => {
    const fn = orch(function* (ctx) {
      return yield ctx.df.callSubOrchestratorWithRetry("Child", retry(1000, 3), { x: 1 }, "child-fixed");
    });
    const sim = new Simulation(fn);
    let r = sim.step(0, newExecutionStarted("Parent"));
    assert.deepEqual(r.actions, [{ kind: "CreateSubOrchestration", id: 0, name: "Child", instanceId: "child-fixed", input: '{"x":1}' }]);
    r = sim.step(10, newSubOrchestrationFailed(0, "Child", "child broke"));
    assert.deepEqual(r.actions, [{ kind: "CreateTimer", id: 1, fireAt: at(1010) }]);
    r = sim.step(1010, newTimerFired(1, at(1010)));
    assert.deepEqual(r.actions, [{ kind: "CreateSubOrchestration", id: 2, name: "Child", instanceId: "child-fixed", input: '{"x":1}' }]);
    r = sim.step(1100, newSubOrchestrationCompleted(2, "child ok"));
    assert.deepEqual(r.completion, { status: "Completed", result: '"child ok"' });
  });

  test("without a given ID each attempt gets its own default child ID; exhaustion throws kind 'orchestrator'", () => {
    let caught: unknown;
    const fn = orch(function* (ctx) {
      try {
        yield ctx.df.callSubOrchestratorWithRetry("Child", retry(1000, 2));
      } catch (err) {
        caught = err;
      }
      return "handled";
    });
    const sim = new Simulation(fn);
    assert.deepEqual(sim.step(0, newExecutionStarted("Parent")).actions, [{ kind: "CreateSubOrchestration", id: 0, name: "Child", instanceId: "inst-1:0" }]);
    sim.step(10, newSubOrchestrationFailed(0, "Child", "one"));
    assert.deepEqual(sim.step(1010, newTimerFired(1, at(1010))).actions, [{ kind: "CreateSubOrchestration", id: 2, name: "Child", instanceId: "inst-1:2" }]);
    const r = sim.step(1100, newSubOrchestrationFailed(2, "Child", "two"));
    assert.deepEqual(r.completion, { status: "Completed", result: '"handled"' });
    assert.ok(caught instanceof TaskFailedError);
    assert.equal(caught.taskKind, "orchestrator");
    assert.equal(caught.message, "Orchestrator function 'Child' failed: two");
  });
});
