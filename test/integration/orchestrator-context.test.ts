import assert from "node:assert/strict";
import { it } from "node:test";
import type { DurableApp } from "../../src/app.js";
import type { Host } from "../../src/host/host.js";
import { eventually, forEachStore, storedHistory } from "../helpers/hosts.js";

forEachStore("orchestrator context", (start) => {
  it("exposes input, instanceId, custom status, deterministic time and GUIDs", async () => {
    const host = await start((app) => {
      app.activity("noop", { handler: () => null });
      app.orchestration("introspect", function* (ctx) {
        const t0 = ctx.df.currentUtcDateTime.toISOString();
        const g1 = ctx.df.newGuid();
        const g2 = ctx.df.newGuid();
        ctx.df.setCustomStatus({ stage: "first" });
        yield ctx.df.callActivity("noop");
        const t1 = ctx.df.currentUtcDateTime.toISOString();
        ctx.df.setCustomStatus({ stage: "second" });
        return { input: ctx.df.getInput(), id: ctx.df.instanceId, t0, t1, g1, g2, guidNamed: ctx.df.newGuid("other") };
      });
    });
    const id = await host.client.startNew("introspect", { instanceId: "ctx-1", input: { a: [1, "x"] } });
    const status = await host.client.waitForCompletion(id);
    const out = status.output as Record<string, string>;
    assert.deepEqual(out.input, { a: [1, "x"] });
    assert.equal(out.id, "ctx-1");
    assert.ok(Date.parse(out.t1!) >= Date.parse(out.t0!));
    assert.match(out.g1!, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(out.g1, out.g2);
    assert.deepEqual(status.customStatus, { stage: "second" });
    // The determinism self-check after this test replays the history and must reproduce the same GUIDs and times.
  });

  it("shows custom status while running", async () => {
    const host = await start((app) => {
      app.orchestration("progress", function* (ctx) {
        ctx.df.setCustomStatus("waiting for go");
        yield ctx.df.waitForExternalEvent("go");
        return "went";
      });
    });
    const id = await host.client.startNew("progress");
    let s = await host.client.getStatus(id);
    for (let i = 0; i < 500 && s.customStatus === null; i++) {
      await new Promise((r) => setTimeout(r, 10));
      s = await host.client.getStatus(id);
    }
    assert.equal(s.customStatus, "waiting for go");
    assert.equal(s.runtimeStatus, "Running");
    await host.client.raiseEvent(id, "go");
    assert.equal((await host.client.waitForCompletion(id)).output, "went");
  });

  it("logs only when not replaying", async () => {
    const lines: string[] = [];
    const host = await start(
      (app) => {
        app.activity("noop", { handler: () => null });
        app.orchestration("chatty", function* (ctx) {
          ctx.log("before");
          yield ctx.df.callActivity("noop");
          ctx.log(`after (replaying: ${String(ctx.df.isReplaying)})`);
          return "ok";
        });
      },
      { logger: { info: (m) => lines.push(m), warn: () => undefined, error: () => undefined }, executorCacheSize: 0 },
    );
    const id = await host.client.startNew("chatty");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.output, "ok");
    // Without the executor cache the second step replays the first: "before" must still print once.
    assert.deepEqual(lines.filter((l) => /before|after/.test(l)).map((l) => l.replace(/^\[.*?\] /, "")), ["before", "after (replaying: false)"]);
  });

  it("fails the instance with a clear error when a non-task is yielded", async () => {
    const host = await start((app) => {
      app.orchestration("yieldsNumber", function* () {
        yield 42 as never;
      });
    });
    const id = await host.client.startNew("yieldsNumber");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Failed");
    assert.match(String(status.output), /yielded a value of type number. Only tasks created by context.df/);
    assert.equal(status.failureDetails?.code, "ORCHESTRATOR_CONSTRAINT_VIOLATION");
  });

  it("fails the instance on an unhandled error, with type, message and stack", async () => {
    const host = await start((app) => {
      app.orchestration("throws", function* () {
        throw new SyntaxError("bad orchestrator");
      });
    });
    const id = await host.client.startNew("throws");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Failed");
    assert.equal(status.output, "Orchestrator function 'throws' failed: bad orchestrator");
    assert.equal(status.failureDetails?.errorType, "SyntaxError");
    assert.match(status.failureDetails?.stackTrace ?? "", /bad orchestrator/);
  });

  it("rejects async orchestrators at registration", async () => {
    await start((app) => {
      assert.throws(
        () =>
          app.orchestration("asyncOne", async function () {
            await Promise.resolve();
          } as never),
        /must be synchronous generators/,
      );
    });
  });

  it("keeps running orchestrations in the executor cache (no replay per step)", async () => {
    const host = await start((app) => {
      app.activity("step", { handler: (n: number) => n });
      app.orchestration("tenSteps", function* (ctx) {
        let sum = 0;
        for (let i = 0; i < 10; i++) sum += (yield ctx.df.callActivity("step", i)) as number;
        return sum;
      });
    });
    const id = await host.client.startNew("tenSteps");
    assert.equal((await host.client.waitForCompletion(id)).output, 45);
    const cache = host.worker.processor.cache;
    assert.equal(cache.misses, 1, "replayed only once: when the instance was first loaded");
    assert.equal(cache.hits, 10);
  });
});

forEachStore("nondeterminism", (start) => {
  /** An orchestration whose first activity depends on `version`, waiting for an event after it. */
  const changing = (version: () => number) => (app: DurableApp): void => {
    app.activity("a", { handler: () => "a" });
    app.activity("b", { handler: () => "b" });
    app.orchestration("changing", function* (ctx) {
      yield ctx.df.callActivity(version() === 1 ? "a" : "b");
      yield ctx.df.waitForExternalEvent("continue");
      return "done";
    });
  };
  const firstStepDone = async (host: Host, id: string): Promise<void> => {
    await eventually(async () => (await host.client.getStatus(id, { showHistory: true })).history!.some((e) => e.EventType === "TaskCompleted"));
  };

  it("with onNondeterminism: 'fail', fails the instance with a precise message (Durable Functions' behaviour)", async () => {
    let version = 1;
    const host = await start(changing(() => version), { skipReplayCheck: true, executorCacheSize: 0, retry: { onNondeterminism: "fail" } });
    const id = await host.client.startNew("changing");
    await firstStepDone(host, id);
    version = 2;
    await host.client.raiseEvent(id, "continue");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Failed");
    assert.equal(status.failureDetails?.code, "NONDETERMINISM");
    assert.match(String(status.output), /Non-Deterministic workflow detected: .*activity task named 'a' with sequence ID 0.*instead scheduled an activity task named 'b'/);
  });

  it("by default parks the instance with the precise reason, and completes it once the code is reverted", async () => {
    let version = 1;
    const host = await start(changing(() => version), { executorCacheSize: 0, retry: { initialDelayMs: 20, maxDelayMs: 50 } });
    const id = await host.client.startNew("changing");
    await firstStepDone(host, id);
    version = 2;
    await host.client.raiseEvent(id, "continue");
    const parked = await eventually(async () => {
      const s = await host.client.getStatus(id);
      return s.parked && s.parked.attempts >= 2 ? s : undefined;
    }, 10_000, "the instance to park and be retried");
    assert.equal(parked.runtimeStatus, "Running", "parked, not failed");
    assert.equal(parked.parked!.code, "NONDETERMINISM");
    assert.match(parked.parked!.message, /activity task named 'a' with sequence ID 0.*instead scheduled an activity task named 'b'/);
    assert.ok(parked.parked!.since instanceof Date && parked.parked!.retryAt instanceof Date);
    // The history is untouched: still the first episode only, the event still waiting.
    assert.equal((await storedHistory(host, id)).some((e) => e.type === "EventRaised"), false);
    version = 1;
    const done = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
    assert.equal(done.runtimeStatus, "Completed");
    assert.equal(done.output, "done");
    assert.equal(done.parked, undefined, "the park record goes with the first successful step");
  });
});
