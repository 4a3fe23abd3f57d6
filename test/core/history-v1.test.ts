/**
 * Histories written by history format 1 (Perdure before engine v2: entity requests as EventSent
 * events named op/lock/release with JSON in `input`, answers as EventRaised named after the request,
 * failure details with `message`/`stack`) still replay. The fixtures in test/fixtures/v1 were
 * produced by commit 534a49b running test/fixtures/v1/generate.ts.txt.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { EntityId } from "../../src/core/entity-id.js";
import type { LockHandle } from "../../src/core/entity-tasks.js";
import { OrchestrationExecutor } from "../../src/core/executor.js";
import { readHistory } from "../../src/core/history-v1.js";
import type { HistoryEvent } from "../../src/core/history.js";
import { orch } from "./harness.js";

const fixture = (name: string): HistoryEvent[] => JSON.parse(readFileSync(new URL(`../fixtures/v1/${name}`, import.meta.url), "utf8")) as HistoryEvent[];

/** The orchestrator that wrote entity-tour.history.json, unchanged. */
const entityTour = orch(function* (ctx) {
  const a = new EntityId("counter", "a");
  const b = new EntityId("counter", "b");
  const first: unknown = yield ctx.df.callEntity(a, "add", 5);
  ctx.df.signalEntity(a, "add", 1);
  const got: unknown = yield ctx.df.callEntity(a, "get");
  let failed = "";
  try {
    yield ctx.df.callEntity(b, "fail");
  } catch (e) {
    failed = (e as Error).message;
  }
  const lock = (yield ctx.df.lock(a, b)) as LockHandle;
  const inLock: unknown = yield ctx.df.callEntity(b, "add", 2);
  lock.release();
  let caught = "";
  try {
    yield ctx.df.callActivity("boom");
  } catch (e) {
    caught = (e as Error).message;
  }
  const echoed: unknown = yield ctx.df.callActivity("echo", { got });
  return { first: first ?? null, got, failed, inLock: inLock ?? null, caught, echoed };
});

describe("history format 1", () => {
  const history = fixture("entity-tour.history.json");

  test("the fixture is what format 1 wrote (so this test reads the old format, not the new)", () => {
    const started = history.find((e) => e.type === "ExecutionStarted");
    assert.equal(started?.type === "ExecutionStarted" && started.historyFormatVersion, 1);
    assert.deepEqual([...new Set(history.filter((e) => e.type === "EventSent").map((e) => (e as { name: string }).name))].sort(), ["lock", "op", "release"]);
    assert.ok(history.every((e) => !e.type.startsWith("Entity")));
  });

  test("replays from scratch with the same code: no new action, the same result", () => {
    const result = new OrchestrationExecutor(entityTour).execute(history, []);
    assert.equal(result.replayFailure, undefined, String(result.replayFailure));
    assert.deepEqual(result.actions, []);
    const recorded = history.find((e) => e.type === "ExecutionCompleted");
    assert.ok(recorded?.type === "ExecutionCompleted");
    assert.equal(result.completion?.status, "Completed");
    assert.equal(result.completion?.result, recorded.result);
    assert.deepEqual(JSON.parse(result.completion.result!), {
      first: null,
      got: 6,
      failed: "Operation 'fail' of entity @counter@b failed: counter refused",
      inLock: null,
      caught: JSON.parse(recorded.result!).caught,
      echoed: { got: 6 },
    });
  });

  test("a change of the entity operation is still caught as nondeterminism", () => {
    const changed = orch(function* (ctx) {
      yield ctx.df.callEntity(new EntityId("counter", "a"), "subtract", 5);
    });
    const result = new OrchestrationExecutor(changed).execute(history, []);
    assert.equal(result.replayFailure?.name, "NonDeterminismError");
    assert.match(result.replayFailure.message, /a call of operation 'add' on entity @counter@a with sequence ID 0.*a call of operation 'subtract' on entity @counter@a/);
  });

  test("read as format 2: typed entity requests and answers, failure details with the durable-functions names", () => {
    const read = readHistory(history);
    const types = read.map((e) => e.type).filter((t) => t.startsWith("Entity"));
    assert.deepEqual(types, [
      "EntityOperationCalled",
      "EntityOperationCompleted",
      "EntityOperationSignaled",
      "EntityOperationCalled",
      "EntityOperationCompleted",
      "EntityOperationCalled",
      "EntityOperationFailed",
      "EntityLockRequested",
      "EntityLockGranted",
      "EntityOperationCalled",
      "EntityOperationCompleted",
      "EntityUnlockSent",
      "EntityUnlockSent",
    ]);
    const failed = read.find((e) => e.type === "EntityOperationFailed");
    assert.ok(failed?.type === "EntityOperationFailed");
    assert.equal(failed.failureDetails.errorMessage, "counter refused");
    assert.equal(failed.failureDetails.isNonRetriable, false);
    const taskFailed = read.find((e) => e.type === "TaskFailed");
    assert.ok(taskFailed?.type === "TaskFailed");
    assert.equal(taskFailed.failureDetails.errorMessage, "activity broke");
    assert.equal(taskFailed.failureDetails.code, "E_BOOM");
    assert.match(taskFailed.failureDetails.stackTrace ?? "", /activity broke/);
    const lock = read.find((e) => e.type === "EntityLockRequested");
    assert.ok(lock?.type === "EntityLockRequested");
    assert.deepEqual(lock.lockSet, ["@counter@a", "@counter@b"]);
  });

  test("a failed format-1 execution replays to the same failure", () => {
    const failing = fixture("failing.history.json");
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("boom");
    });
    const result = new OrchestrationExecutor(fn).execute(failing, []);
    assert.deepEqual(result.actions, []);
    assert.equal(result.completion?.status, "Failed");
    assert.equal(result.completion.failureDetails?.code, "TASK_FAILED");
  });
});
