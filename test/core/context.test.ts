import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { MAX_CUSTOM_STATUS_BYTES } from "../../src/core/context.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { OrchestrationExecutor } from "../../src/core/executor.js";
import { nameBasedUuid, sha1 } from "../../src/core/guid.js";
import { at, batch, episode, newExecutionStarted, newTaskCompleted, newTaskScheduled, startEvents } from "./factories.js";
import { orch, run, Simulation } from "./harness.js";

describe("setCustomStatus", () => {
  test("the JSON custom status is returned with the step and kept across steps and replays", () => {
    const fn = orch(function* (ctx) {
      ctx.df.setCustomStatus({ stage: "started" });
      yield ctx.df.callActivity("A");
      assert.deepEqual(ctx.df.customStatus, { stage: "started" });
      ctx.df.setCustomStatus("almost");
      yield ctx.df.callActivity("B");
      return "done";
    });
    const sim = new Simulation(fn);
    assert.equal(sim.step(0, newExecutionStarted("O")).customStatus, '{"stage":"started"}');
    assert.equal(sim.step(10, newTaskCompleted(0)).customStatus, '"almost"');
    const r = sim.step(20, newTaskCompleted(1));
    assert.equal(r.customStatus, '"almost"');
    assert.equal(r.completion?.status, "Completed");
  });

  test("never set → undefined", () => {
    const fn = orch(function* (ctx) {
      yield ctx.df.callActivity("A");
    });
    assert.equal(run(fn, [], startEvents("O")).customStatus, undefined);
  });

  test("a status over 16 KB once serialised is refused with INVALID_ARGUMENT; the previous status stays", () => {
    let caught: unknown;
    const fn = orch(function* (ctx) {
      ctx.df.setCustomStatus("x".repeat(MAX_CUSTOM_STATUS_BYTES - 2)); // exactly 16384 bytes with the quotes
      try {
        ctx.df.setCustomStatus("x".repeat(MAX_CUSTOM_STATUS_BYTES - 1));
      } catch (err) {
        caught = err;
      }
      yield ctx.df.callActivity("A");
    });
    const r = run(fn, [], startEvents("O"));
    assert.equal(MAX_CUSTOM_STATUS_BYTES, 16 * 1024);
    assert.ok(caught instanceof InvalidArgumentError);
    assert.equal(caught.code, "INVALID_ARGUMENT");
    assert.match(caught.message, /16385 bytes once serialised; the limit is 16384/);
    assert.equal(r.customStatus?.length, MAX_CUSTOM_STATUS_BYTES);
  });

  test("the limit counts UTF-8 bytes, not characters", () => {
    const fn = orch(function* (ctx) {
      ctx.df.setCustomStatus("é".repeat(9000)); // 9002 characters, 18002 bytes
      yield ctx.df.callActivity("A");
    });
    const r = run(fn, [], startEvents("O"));
    assert.equal(r.completion?.status, "Failed");
    assert.match(r.completion.failureDetails?.errorMessage ?? "", /18002 bytes/);
  });

  test("an uncaught limit error fails the orchestration", () => {
    const fn = orch(function* (ctx) {
      ctx.df.setCustomStatus({ blob: "y".repeat(20_000) });
      yield ctx.df.callActivity("A");
    });
    const r = run(fn, [], startEvents("O"));
    assert.equal(r.completion?.status, "Failed");
    assert.equal(r.completion.failureDetails?.code, "INVALID_ARGUMENT");
  });
});

describe("instance information", () => {
  test("getInput returns the parsed input (the same object on each call), instanceId and parentInstanceId", () => {
    const seen: unknown[] = [];
    const fn = orch(function* (ctx) {
      const input = ctx.df.getInput<{ items: number[] }>();
      seen.push(input, ctx.df.getInput() === input, ctx.df.instanceId, ctx.df.parentInstanceId);
      yield ctx.df.callActivity("A");
    });
    run(fn, [], startEvents("Child", { items: [1, 2] }, { instanceId: "child-7", parentInstance: { name: "Parent", instanceId: "parent-1", executionId: "pe", taskScheduledId: 4 } }));
    assert.deepEqual(seen, [{ items: [1, 2] }, true, "child-7", "parent-1"]);
  });

  test("top-level instance: no parent, undefined input", () => {
    const seen: unknown[] = [];
    const fn = orch(function* (ctx) {
      seen.push(ctx.df.getInput(), ctx.df.parentInstanceId, ctx.functionName);
      yield ctx.df.callActivity("A");
    });
    run(fn, [], startEvents("Top"));
    assert.deepEqual(seen, [undefined, undefined, "Top"]);
  });
});

describe("isReplaying and currentUtcDateTime", () => {
  test("isReplaying is true while past events are replayed and false for new ones; the clock follows OrchestratorStarted", () => {
    const trace: Array<[string, boolean, string]> = [];
    const fn = orch(function* (ctx) {
      trace.push(["start", ctx.df.isReplaying, ctx.df.currentUtcDateTime.toISOString()]);
      yield ctx.df.callActivity("A");
      trace.push(["after A", ctx.df.isReplaying, ctx.df.currentUtcDateTime.toISOString()]);
      yield ctx.df.callActivity("B");
      trace.push(["after B", ctx.df.isReplaying, ctx.df.currentUtcDateTime.toISOString()]);
    });
    const past = [
      ...episode(1000, newExecutionStarted("O", undefined, { timestamp: at(500) }), newTaskScheduled(0, "A")),
      ...episode(61_000, newTaskCompleted(0), newTaskScheduled(1, "B")),
    ];
    const realNow = Date.now;
    Date.now = () => {
      throw new Error("the executor read the wall clock");
    };
    try {
      run(fn, past, batch(125_000, newTaskCompleted(1)));
    } finally {
      Date.now = realNow;
    }
    assert.deepEqual(trace, [
      ["start", true, at(1000)],
      ["after A", true, at(61_000)],
      ["after B", false, at(125_000)],
    ]);
  });

  test("currentUtcDateTime returns a copy: mutating it changes nothing", () => {
    const seen: string[] = [];
    const fn = orch(function* (ctx) {
      ctx.df.currentUtcDateTime.setTime(0);
      seen.push(ctx.df.currentUtcDateTime.toISOString());
      yield ctx.df.callActivity("A");
    });
    run(fn, [], batch(42, newExecutionStarted("O")));
    assert.deepEqual(seen, [at(42)]);
  });

  test("context.log is replay-safe: it prints only when not replaying", () => {
    const lines: string[] = [];
    const fn = orch(function* (ctx) {
      ctx.log("starting");
      yield ctx.df.callActivity("A");
      ctx.warn("after A");
      yield ctx.df.callActivity("B");
      ctx.error("after B");
    });
    const past = [...episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A")), ...episode(10, newTaskCompleted(0), newTaskScheduled(1, "B"))];
    new OrchestrationExecutor(fn, { log: (level, message) => lines.push(`${level}:${message}`) }).execute(past, batch(20, newTaskCompleted(1)));
    assert.deepEqual(lines, ["error:after B"]);
  });
});

describe("newGuid", () => {
  const V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  function guidOrchestrator(sink: string[][]) {
    return orch(function* (ctx) {
      const first = [ctx.df.newGuid(), ctx.df.newGuid(), ctx.df.newGuid("custom")];
      yield ctx.df.callActivity("A");
      const second = [ctx.df.newGuid()];
      sink.push([...first, ...second]);
      yield ctx.df.callActivity("B");
    });
  }

  test("deterministic across replays, different per call, valid version-5 UUIDs", () => {
    const a: string[][] = [];
    const b: string[][] = [];
    const past = episode(0, newExecutionStarted("O"), newTaskScheduled(0, "A"));
    run(guidOrchestrator(a), past, batch(10, newTaskCompleted(0)));
    run(guidOrchestrator(b), past, batch(10, newTaskCompleted(0)));
    const guids = a[0]!;
    assert.deepEqual(b[0], guids, "a replay produces the same GUIDs at the same call positions");
    assert.equal(new Set(guids).size, guids.length, "every call gives a new GUID");
    for (const g of guids) assert.match(g, V5);
  });

  test("depends on the instance ID (given or default)", () => {
    const one: string[][] = [];
    const other: string[][] = [];
    const past = (id: string) => episode(0, newExecutionStarted("O", undefined, { instanceId: id }), newTaskScheduled(0, "A"));
    run(guidOrchestrator(one), past("i-1"), batch(10, newTaskCompleted(0)));
    run(guidOrchestrator(other), past("i-2"), batch(10, newTaskCompleted(0)));
    assert.notEqual(one[0]![0], other[0]![0]);
    assert.equal(one[0]![2], nameBasedUuid(`custom_${at(0)}_2`));
  });

  test("the SHA-1 and name-based UUID match node:crypto (RFC 4122 §4.3)", () => {
    const ns = "9e952958-5e33-4daf-827f-2fa12937b875";
    const nsBytes = Buffer.from(ns.replace(/-/g, ""), "hex");
    for (const name of ["", "abc", "inst-1_2024-01-01T00:00:00.000Z_0", "é€𝄞 unicode", "x".repeat(200)]) {
      const bytes = [...Buffer.from(name, "utf8")];
      assert.deepEqual(sha1(bytes), [...createHash("sha1").update(Buffer.from(bytes)).digest()], `sha1 of ${JSON.stringify(name.slice(0, 20))}`);
      const h = createHash("sha1").update(Buffer.concat([nsBytes, Buffer.from(name, "utf8")])).digest().subarray(0, 16);
      h[6] = (h[6]! & 0x0f) | 0x50;
      h[8] = (h[8]! & 0x3f) | 0x80;
      const hex = h.toString("hex");
      const expected = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      assert.equal(nameBasedUuid(name), expected);
    }
  });
});
