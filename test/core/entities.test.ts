import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EntityRequest, OrchestratorAction } from "../../src/core/actions.js";
import { EntityId } from "../../src/core/entity-id.js";
import type { EntityOperationFailedError } from "../../src/core/errors.js";
import type { LockHandle } from "../../src/core/entity-tasks.js";
import type { HistoryEvent } from "../../src/core/history.js";
import { at, failure, newExecutionStarted, newExecutionTerminated } from "./factories.js";
import { orch, Simulation } from "./harness.js";

/** The entity requests a step sends, in sequence order. */
const sends = (actions: readonly OrchestratorAction[]): EntityRequest[] => actions.flatMap((a) => (a.kind === "SendEntityMessage" ? [a.request] : []));
const answered = (requestId: string, result?: unknown): HistoryEvent => ({ type: "EntityOperationCompleted", eventId: -1, timestamp: at(), requestId, ...(result !== undefined ? { result: JSON.stringify(result) } : {}) });
const granted = (requestId: string): HistoryEvent => ({ type: "EntityLockGranted", eventId: -1, timestamp: at(), requestId });

describe("EntityId", () => {
  test("keeps name and key as given (as durable-functions does), lower-cases the name in its instance ID, and round-trips", () => {
    const id = new EntityId("Counter", "MyKey");
    assert.equal(id.name, "Counter");
    assert.equal(id.key, "MyKey");
    assert.equal(id.toString(), "@counter@MyKey");
    assert.deepEqual(EntityId.fromInstanceId("@counter@MyKey@with@ats"), new EntityId("counter", "MyKey@with@ats"));
    assert.ok(EntityId.isEntityInstanceId("@a@b"));
    assert.ok(!EntityId.isEntityInstanceId("plain") && !EntityId.isEntityInstanceId("@@b"));
    assert.equal(EntityId.from({ name: "X", key: "k" }).toString(), "@x@k");
  });

  test("refuses bad names and keys with clear errors", () => {
    const cases: [string, string, RegExp][] = [
      ["", "k", /name must be a non-empty string/],
      ["a@b", "k", /must not contain '@'/],
      ["1abc", "k", /not valid/],
      ["c", "", /key of entity 'c' must be a non-empty string/],
      ["c", "a/b", /must not contain '\/'/],
      ["c", "a#b", /keys must not contain/],
      ["c", "tab\t", /keys must not contain/],
      ["c", "..", /'\.' and '\.\.'/],
      ["c", "x".repeat(201), /limit is 200/],
    ];
    for (const [name, key, pattern] of cases) assert.throws(() => new EntityId(name, key), { code: "INVALID_ARGUMENT", message: pattern }, `${name}/${key}`);
    assert.throws(() => EntityId.from("nope"), /Expected an entity ID/);
  });
});

describe("callEntity and signalEntity", () => {
  test("a call sends an operation message and yields the response's value", () => {
    const sim = new Simulation(
      orch(function* (ctx) {
        ctx.df.signalEntity(new EntityId("counter", "k"), "reset");
        const v = yield ctx.df.callEntity(new EntityId("Counter", "k"), "add", 5);
        return v;
      }),
    );
    const r0 = sim.step(0, newExecutionStarted("O", undefined, { instanceId: "orch-1", executionId: "exec-1" }));
    const [signal, call] = sends(r0.actions);
    assert.deepEqual({ ...signal!, requestId: "" }, { type: "EntityOperationSignaled", requestId: "", targetInstanceId: "@counter@k", operation: "reset", parentInstanceId: "orch-1", parentExecutionId: "exec-1" });
    assert.deepEqual({ ...call!, requestId: "" }, { type: "EntityOperationCalled", requestId: "", targetInstanceId: "@counter@k", operation: "add", input: "5", parentInstanceId: "orch-1", parentExecutionId: "exec-1" });
    assert.match(call!.requestId, /^[0-9a-f-]{36}$/);
    // An answer to another request changes nothing; the right one resumes the call.
    const ignored = sim.step(5, answered("not-a-request", 1));
    assert.equal(ignored.completion, undefined);
    const r1 = sim.step(10, answered(call!.requestId, 8));
    assert.equal(r1.completion?.status, "Completed");
    assert.equal(r1.completion?.result, "8");
  });

  test("an operation's failure reaches the orchestration as EntityOperationFailedError", () => {
    const sim = new Simulation(
      orch(function* (ctx) {
        try {
          yield ctx.df.callEntity(new EntityId("counter", "k"), "explode");
        } catch (err) {
          const e = err as EntityOperationFailedError;
          return { code: e.code, entity: e.entityId, op: e.operationName, message: e.failureDetails.errorMessage };
        }
      }),
    );
    const r0 = sim.step(0, newExecutionStarted("O"));
    const request = sends(r0.actions)[0]!;
    const r1 = sim.step(10, { type: "EntityOperationFailed", eventId: -1, timestamp: at(), requestId: request.requestId, failureDetails: failure("boom") });
    assert.deepEqual(JSON.parse(r1.completion!.result!), { code: "ENTITY_OPERATION_FAILED", entity: "@counter@k", op: "explode", message: "boom" });
  });
});

describe("critical sections", () => {
  const a = new EntityId("account", "a");
  const b = new EntityId("account", "b");

  test("lock goes to the first entity in sorted order, the grant resumes the section, release unlocks all", () => {
    const sim = new Simulation(
      orch(function* (ctx) {
        const lock = (yield ctx.df.lock([b, a])) as LockHandle;
        const held = ctx.df.lockedEntities.map(String);
        const balance = yield ctx.df.callEntity(a, "get");
        lock.release();
        return { held, balance, after: ctx.df.lockedEntities.length };
      }),
    );
    const r0 = sim.step(0, newExecutionStarted("T", undefined, { instanceId: "t-1", executionId: "e-1" }));
    const [lockMsg] = sends(r0.actions);
    assert.equal(lockMsg!.targetInstanceId, "@account@a", "the sorted order, not the order given");
    assert.deepEqual({ ...lockMsg!, requestId: "" }, { type: "EntityLockRequested", requestId: "", targetInstanceId: "@account@a", lockSet: ["@account@a", "@account@b"], position: 0, parentInstanceId: "t-1", parentExecutionId: "e-1" });
    const r1 = sim.step(10, granted(lockMsg!.requestId));
    const call = sends(r1.actions)[0]!;
    assert.equal(call.type === "EntityOperationCalled" && call.operation, "get");
    const r2 = sim.step(20, answered(call.requestId, 100));
    const releases = sends(r2.actions);
    assert.deepEqual(releases.map((s) => [s.targetInstanceId, s.type]), [["@account@a", "EntityUnlockSent"], ["@account@b", "EntityUnlockSent"]]);
    assert.deepEqual(releases[0], { type: "EntityUnlockSent", requestId: lockMsg!.requestId, targetInstanceId: "@account@a", parentInstanceId: "t-1", parentExecutionId: "e-1" });
    assert.deepEqual(JSON.parse(r2.completion!.result!), { held: ["@account@a", "@account@b"], balance: 100, after: 0 });
  });

  test("locks are released when the orchestration returns, fails or is terminated while holding them", () => {
    for (const ending of ["return", "throw", "terminate"] as const) {
      const sim = new Simulation(
        orch(function* (ctx) {
          yield ctx.df.lock([a]);
          if (ending === "throw") throw new Error("failed inside the section");
          if (ending === "terminate") yield ctx.df.waitForExternalEvent("never");
          return "done";
        }),
      );
      const r0 = sim.step(0, newExecutionStarted("T"));
      const lockMsg = sends(r0.actions)[0]!;
      const r1 = ending === "terminate" ? (sim.step(10, granted(lockMsg.requestId)), sim.step(20, newExecutionTerminated("stop"))) : sim.step(10, granted(lockMsg.requestId));
      assert.ok(r1.completion, ending);
      assert.deepEqual(sends(r1.actions).map((s) => [s.targetInstanceId, s.type, s.requestId]), [["@account@a", "EntityUnlockSent", lockMsg.requestId]], ending);
    }
  });

  test("a lock still waiting for its grant is released too when the orchestration ends", () => {
    const sim = new Simulation(
      orch(function* (ctx) {
        const winner: unknown = yield ctx.df.Task.any([ctx.df.lock([a, b]), ctx.df.createTimer(new Date(Date.parse("2026-01-01T00:00:00Z") + 5))]);
        return winner === undefined ? "?" : "gave up";
      }),
    );
    sim.step(0, newExecutionStarted("T"));
    const r1 = sim.step(10, { type: "TimerFired", eventId: -1, timestamp: new Date(0).toISOString(), timerId: 1, fireAt: new Date(0).toISOString() });
    assert.equal(r1.completion?.status, "Completed");
    assert.deepEqual(sends(r1.actions).map((s) => s.targetInstanceId), ["@account@a", "@account@b"]);
  });

  const violations: [string, (ctx: Parameters<Parameters<typeof orch>[0]>[0]) => Generator<never, unknown, unknown>][] = [
    ["nested lock", function* (ctx) {
      yield ctx.df.lock([a]) as never;
      yield ctx.df.lock([b]) as never;
    }],
    ["calling an entity that is not locked", function* (ctx) {
      yield ctx.df.lock([a]) as never;
      yield ctx.df.callEntity(b, "get") as never;
    }],
    ["signalling a locked entity", function* (ctx) {
      yield ctx.df.lock([a]) as never;
      ctx.df.signalEntity(a, "add", 1);
    }],
    ["parallel calls to one locked entity", function* (ctx) {
      yield ctx.df.lock([a]) as never;
      yield ctx.df.Task.all([ctx.df.callEntity(a, "get"), ctx.df.callEntity(a, "get")]) as never;
    }],
    ["a sub-orchestration inside the section", function* (ctx) {
      yield ctx.df.lock([a]) as never;
      yield ctx.df.callSubOrchestrator("Child") as never;
    }],
  ];
  for (const [name, body2] of violations) {
    test(`refuses ${name} with LOCKING_RULES_VIOLATION (and still releases the lock)`, () => {
      const sim = new Simulation(orch(body2));
      const r0 = sim.step(0, newExecutionStarted("T"));
      const lockMsg = sends(r0.actions)[0]!;
      const r1 = sim.step(10, granted(lockMsg.requestId));
      assert.equal(r1.completion?.status, "Failed", name);
      assert.equal(r1.completion?.failureDetails?.code, "LOCKING_RULES_VIOLATION", name);
      assert.ok(sends(r1.actions).some((s) => s.type === "EntityUnlockSent"), `${name}: the lock is released`);
    });
  }

  test("a call that was created but never yielded does not count as outstanding; a refused yield is catchable", () => {
    const sim = new Simulation(
      orch(function* (ctx) {
        yield ctx.df.lock([a]);
        ctx.df.callEntity(a, "get"); // never yielded: never sent
        let refused = "";
        try {
          yield ctx.df.Task.all([ctx.df.callEntity(a, "get"), ctx.df.callEntity(a, "get")]);
        } catch (err) {
          refused = (err as { code?: string }).code ?? "";
        }
        return refused;
      }),
    );
    const r0 = sim.step(0, newExecutionStarted("T"));
    const r1 = sim.step(10, granted(sends(r0.actions)[0]!.requestId));
    assert.equal(r1.completion?.status, "Completed");
    assert.equal(JSON.parse(r1.completion.result!), "LOCKING_RULES_VIOLATION");
    // Only the first call of the pair went out; the section still ends with a release.
    assert.deepEqual(sends(r1.actions).map((x) => x.type), ["EntityOperationCalled", "EntityUnlockSent"]);
  });
});
