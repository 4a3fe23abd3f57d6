import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HistoryEventType } from "../../src/core/history.js";
import type { OrchestrationRuntimeStatus } from "../../src/core/status.js";
import { DEFAULT_RETRY_POLICY, isPoison, type ParkInfo, parkInfo, retryDelayMs } from "../../src/core/step-policy.js";
import { planEntityStep, planReplayFailure, planStep } from "../../src/core/step-plan.js";

const policy = { ...DEFAULT_RETRY_POLICY, maxDequeueCount: 10 };
const parked = (code: string, attempts: number): ParkInfo => ({ code, message: "m", since: 1, attempts, retryAt: 2 });

describe("the retry delay", () => {
  test("doubles from the initial delay and stops at the cap", () => {
    const p = { initialDelayMs: 1_000, maxDelayMs: 60_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map((n) => retryDelayMs(n, p)), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    assert.equal(retryDelayMs(0, p), 1_000, "a record written without a delivery waits the initial delay");
  });

  test("a park record keeps `since` for the same code and starts over for another", () => {
    const first = parkInfo("NONDETERMINISM", "m", 1, 100, undefined, DEFAULT_RETRY_POLICY);
    assert.deepEqual(first, { code: "NONDETERMINISM", message: "m", since: 100, attempts: 1, retryAt: 1_100 });
    assert.equal(parkInfo("NONDETERMINISM", "m", 2, 500, first, DEFAULT_RETRY_POLICY).since, 100);
    assert.equal(parkInfo("STORAGE_ERROR", "m", 3, 900, first, DEFAULT_RETRY_POLICY).since, 900);
  });
});

describe("poison", () => {
  test("only past the cap", () => {
    assert.equal(isPoison(10, undefined, policy), false);
    assert.equal(isPoison(11, undefined, policy), true);
  });

  test("the delivery right after any park a worker wrote is a real attempt; a crash after it is poison again", () => {
    for (const code of ["POISON_MESSAGE", "NONDETERMINISM", "STORAGE_ERROR"]) {
      assert.equal(isPoison(13, parked(code, 12), policy), false, `${code}: the attempt the park promised`);
      assert.equal(isPoison(14, parked(code, 12), policy), true, `${code}: that attempt died without a decision`);
    }
  });

  test("a step that keeps parking is never mistaken for one that keeps dying", () => {
    let record: ParkInfo | undefined;
    for (let delivery = 1; delivery <= 30; delivery++) {
      assert.equal(isPoison(delivery, record, policy), false, `delivery ${delivery}`);
      record = parkInfo("NONDETERMINISM", "m", delivery, delivery * 1000, record, policy);
    }
  });

  test("a mark of stranded work (no delivery) does not count as an attempt", () => {
    assert.equal(isPoison(11, parked("FUNCTION_NOT_FOUND", 0), policy), true);
  });
});

describe("planStep: what a step does before any code runs", () => {
  const facts = (o: { status?: OrchestrationRuntimeStatus; parked?: ParkInfo; dequeueCount?: number; hasFunction?: boolean; events?: HistoryEventType[] }) => ({
    runtimeStatus: o.status ?? "Running",
    parked: o.parked,
    dequeueCount: o.dequeueCount ?? 1,
    hasFunction: o.hasFunction ?? true,
    eventTypes: o.events ?? ["EventRaised"],
  });

  test("an ordinary step runs", () => {
    assert.deepEqual(planStep(facts({}), policy), { kind: "run" });
    assert.deepEqual(planStep(facts({ events: ["ExecutionTerminated"] }), policy), { kind: "run" }, "a termination of a healthy instance runs (the code releases its locks)");
  });

  test("a finished instance only consumes; a rewind needs the function (kept for a host that has it) and is not poison-free", () => {
    assert.deepEqual(planStep(facts({ status: "Completed", hasFunction: false, dequeueCount: 50 }), policy), { kind: "consume", keepRewinds: false });
    assert.deepEqual(planStep(facts({ status: "Failed", events: ["EventRaised", "ExecutionRewound"], hasFunction: false }), policy), { kind: "consume", keepRewinds: true });
    assert.deepEqual(planStep(facts({ status: "Failed", events: ["ExecutionRewound"] }), policy), { kind: "rewind" });
    assert.equal(planStep(facts({ status: "Failed", events: ["ExecutionRewound"], dequeueCount: 11 }), policy).kind, "park");
    assert.deepEqual(planStep(facts({ status: "Completed", events: ["ExecutionRewound"] }), policy), { kind: "consume", keepRewinds: false }, "only Failed instances rewind");
  });

  test("a termination ends the instance without its code when the code cannot or must not run", () => {
    const t: HistoryEventType[] = ["ExecutionTerminated"];
    assert.deepEqual(planStep(facts({ events: t, hasFunction: false }), policy), { kind: "terminateWithoutCode" });
    assert.deepEqual(planStep(facts({ events: t, parked: parked("NONDETERMINISM", 3) }), policy), { kind: "terminateWithoutCode" });
    assert.deepEqual(planStep(facts({ events: t, dequeueCount: 11 }), policy), { kind: "terminateWithoutCode" }, "poison: the code may be what kills workers");
  });

  test("poison and a missing function park", () => {
    const p = planStep(facts({ dequeueCount: 11 }), policy);
    assert.equal(p.kind === "park" && p.code, "POISON_MESSAGE");
    assert.match(p.kind === "park" ? p.message : "", /taken 11 times without completing/);
    const missing = planStep(facts({ hasFunction: false }), policy);
    assert.equal(missing.kind === "park" && missing.code, "FUNCTION_NOT_FOUND");
  });

  test("entities: poison and a missing function park, otherwise the batch runs", () => {
    assert.equal(planEntityStep({ parked: undefined, dequeueCount: 11, hasFunction: true }, policy).kind, "park");
    assert.equal(planEntityStep({ parked: parked("POISON_MESSAGE", 11), dequeueCount: 12, hasFunction: true }, policy).kind, "run");
    const missing = planEntityStep({ parked: undefined, dequeueCount: 1, hasFunction: false }, policy);
    assert.equal(missing.kind === "park" && missing.code, "FUNCTION_NOT_FOUND");
    assert.deepEqual(planEntityStep({ parked: undefined, dequeueCount: 1, hasFunction: true }, policy), { kind: "run" });
  });

  test("a failed replay: a termination still ends it; nondeterminism fails only when asked; anything else parks with its code", () => {
    assert.deepEqual(planReplayFailure({ code: "NONDETERMINISM", isNondeterminism: true }, true, policy), { kind: "terminateWithoutCode" });
    assert.deepEqual(planReplayFailure({ code: "NONDETERMINISM", isNondeterminism: true }, false, policy), { kind: "park", code: "NONDETERMINISM" });
    assert.deepEqual(planReplayFailure({ code: "NONDETERMINISM", isNondeterminism: true }, false, { onNondeterminism: "fail" }), { kind: "fail" });
    assert.deepEqual(planReplayFailure({ code: "HISTORY_UNREADABLE", isNondeterminism: false }, false, { onNondeterminism: "fail" }), { kind: "park", code: "HISTORY_UNREADABLE" });
    assert.deepEqual(planReplayFailure({ code: undefined, isNondeterminism: false }, false, policy), { kind: "park", code: "INTERNAL_ERROR" });
  });
});
