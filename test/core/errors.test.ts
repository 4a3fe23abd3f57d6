import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { OrchestratorFunction } from "../../src/core/context.js";
import type { ExecutionResult } from "../../src/core/executor.js";
import type { Task } from "../../src/core/tasks.js";
import { batch, episode, newExecutionStarted, newTaskCompleted, newTaskScheduled, startEvents } from "./factories.js";
import { orch, run } from "./harness.js";

const CONSTRAINT = "Durable Functions programming constraint violation: ";

function failedWith(r: ExecutionResult): { code: string | undefined; message: string } {
  assert.equal(r.completion?.status, "Failed", `expected Failed, got ${JSON.stringify(r.completion)}`);
  assert.deepEqual(r.actions, []);
  return { code: r.completion.failureDetails?.code, message: r.completion.failureDetails?.errorMessage ?? "" };
}

describe("orchestrator constraint violations", () => {
  const yields: Array<[string, unknown, RegExp]> = [
    ["a number", 42, /yielded a value of type number\. Only tasks created by context\.df/],
    ["a string", "task", /yielded a value of type string/],
    ["null", null, /yielded null/],
    ["a plain object", { kind: "ScheduleTask" }, /yielded an object of type Object/],
    ["a Promise", Promise.resolve(1), /yielded a Promise/],
  ];
  for (const [what, value, pattern] of yields) {
    test(`yielding ${what} fails the orchestration with ORCHESTRATOR_CONSTRAINT_VIOLATION`, () => {
      const fn = orch(function* () {
        yield value as Task;
      });
      const f = failedWith(run(fn, [], startEvents("Bad")));
      assert.equal(f.code, "ORCHESTRATOR_CONSTRAINT_VIOLATION");
      assert.ok(f.message.startsWith(CONSTRAINT + "Orchestration 'Bad' yielded"), f.message);
      assert.match(f.message, pattern);
      assert.doesNotMatch(f.message, /fire-and-forget/);
    });
  }

  test("yielding undefined hints at fire-and-forget APIs", () => {
    const fn = orch(function* (ctx) {
      const notATask: unknown = ctx.df.sendEvent("other", "Ping");
      yield notATask as Task;
    });
    const r = run(fn, [], startEvents("Bad"));
    // The one-way message was already sent before the bad yield; it stays an action of the step.
    assert.deepEqual(r.actions, [{ kind: "SendEvent", id: 0, instanceId: "other", name: "Ping" }]);
    const f = failedWith({ ...r, actions: [] });
    assert.match(f.message, /yielded undefined\./);
    assert.match(f.message, /If you meant to call a fire-and-forget API \(signalEntity, continueAsNew, sendEvent\), call it without yield\./);
  });

  test("a non-task yielded later, after real tasks, fails in that episode", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A");
      yield 7 as unknown as Task;
    });
    const f = failedWith(run(fn, episode(0, newExecutionStarted("Bad"), newTaskScheduled(0, "A")), batch(10, newTaskCompleted(0))));
    assert.match(f.message, /yielded a value of type number/);
  });

  test("an async function orchestrator is refused (and its rejection does not leak)", () => {
    const fn = (async () => {
      await Promise.resolve();
      throw new Error("rejected later");
    }) as unknown as OrchestratorFunction;
    const f = failedWith(run(fn, [], startEvents("AsyncOrch")));
    assert.equal(f.code, "ORCHESTRATOR_CONSTRAINT_VIOLATION");
    assert.equal(
      f.message,
      `${CONSTRAINT}Orchestrator 'AsyncOrch' must be a synchronous generator function (function* (context) { ... }); it returned a Promise. Async functions and async generators cannot be replayed.`,
    );
  });

  test("an async generator orchestrator is refused", () => {
    const fn = async function* (): AsyncGenerator<number> {
      yield 1;
    } as unknown as OrchestratorFunction;
    const f = failedWith(run(fn, [], startEvents("AsyncGen")));
    assert.match(f.message, /must be a synchronous generator function .* it returned an async generator\./);
  });

  test("a plain function returning a value is refused", () => {
    const fn = (() => 5) as unknown as OrchestratorFunction;
    const f = failedWith(run(fn, [], startEvents("Plain")));
    assert.match(f.message, /it returned a value of type number/);
  });

  const compounds: Array<[string, (df: Parameters<OrchestratorFunction>[0]["df"]) => Task, RegExp]> = [
    ["empty Task.all", (df) => df.Task.all([]), /When constructing a CompoundTask \(such as Task\.all\(\) or Task\.any\(\)\), you must specify at least one Task\./],
    ["empty Task.any", (df) => df.Task.any([]), /you must specify at least one Task\./],
    ["a non-task in Task.all", (df) => df.Task.all([df.callActivity("A"), 3 as unknown as Task]), /Task\.all received a non-valid input at position 1: expected a Task created by context\.df, got a value of type number\./],
    ["a non-task in Task.any", (df) => df.Task.any([Promise.resolve() as unknown as Task]), /Task\.any received a non-valid input at position 0: .* got a Promise\./],
    ["a non-array in Task.all", (df) => df.Task.all("nope" as unknown as Task[]), /Task\.all expects an array of tasks\./],
  ];
  for (const [what, make, pattern] of compounds) {
    test(`${what} is a constraint violation`, () => {
      const fn = orch(function* (ctx) {
        yield make(ctx.df);
      });
      const f = failedWith(run(fn, [], startEvents("Bad")));
      assert.equal(f.code, "ORCHESTRATOR_CONSTRAINT_VIOLATION");
      assert.match(f.message, pattern);
    });
  }

  test("entity calls validate their arguments at the call site", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callEntity({ name: "", key: "k" }, "op");
    });
    assert.match(failedWith(run(fn, [], startEvents("Bad"))).message, /entity name must be a non-empty string/);
    const fn2 = orch(function* (ctx) {
      ctx.df.signalEntity({ name: "counter", key: "a/b" }, "add");
      yield ctx.df.createTimer(new Date(0));
    });
    assert.match(failedWith(run(fn2, [], startEvents("Bad"))).message, /must not contain '\/'/);
  });
});

describe("unhandled orchestrator errors", () => {
  test("fail the instance with failureDetails and the result string \"Orchestrator function 'X' failed: ...\"", () => {
    class InventoryError extends Error {
      override name = "InventoryError";
    }
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("Reserve");
      throw new InventoryError("out of stock", { cause: new Error("warehouse closed") });
    });
    const r = run(fn, episode(0, newExecutionStarted("PlaceOrder"), newTaskScheduled(0, "Reserve")), batch(10, newTaskCompleted(0)));
    assert.equal(r.completion?.status, "Failed");
    assert.equal(r.completion.result, JSON.stringify("Orchestrator function 'PlaceOrder' failed: out of stock"));
    const d = r.completion.failureDetails!;
    assert.equal(d.errorType, "InventoryError");
    assert.equal(d.errorMessage, "out of stock");
    assert.match(d.stackTrace ?? "", /InventoryError: out of stock/);
    assert.equal(d.innerFailure?.errorMessage, "warehouse closed");
  });

  test("an error thrown before the first yield fails the first episode", () => {
    // A generator body runs on the first next(): the throw surfaces there.
    const fn = orch(function* () {
      throw new TypeError("bad input");
    });
    const r = run(fn, [], startEvents("Early"));
    assert.equal(r.completion?.failureDetails?.errorType, "TypeError");
    assert.equal(r.completion.result, JSON.stringify("Orchestrator function 'Early' failed: bad input"));
  });

  test("a thrown non-Error value is described", () => {
    const fn = orch(function* () {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- testing what users do
      throw { reason: "plain object" };
    });
    const r = run(fn, [], startEvents("Obj"));
    assert.deepEqual(r.completion?.failureDetails, { errorType: "object", errorMessage: '{"reason":"plain object"}', isNonRetriable: false });
  });

  test("a non-serializable return value fails the orchestration", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A");
      return { f: 1n };
    });
    const r = run(fn, episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A")), batch(10, newTaskCompleted(0)));
    assert.equal(r.completion?.failureDetails?.code, "PAYLOAD_NOT_SERIALIZABLE");
    assert.match(r.completion.failureDetails.errorMessage, /The output of orchestrator 'O' is not JSON-serializable/);
  });

  test("an orchestrator function that throws when called fails the instance", () => {
    const fn = (() => {
      throw new Error("factory broke");
    }) as unknown as OrchestratorFunction;
    const r = run(fn, [], startEvents("Thrower"));
    assert.equal(r.completion?.result, JSON.stringify("Orchestrator function 'Thrower' failed: factory broke"));
  });
});
