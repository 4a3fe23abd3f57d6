/**
 * durable-functions v3's registered-function handles (`const hello = df.app.activity(...)`, then
 * `yield hello(input)` or `yield hello(input).withRetry(options)`), and the invocation context
 * of @azure/functions that activities and entities receive.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { EntityId } from "../../src/core/entity-id.js";
import { RetryOptions } from "../../src/core/retry-options.js";
import type { ActivityContext } from "../../src/runtime/registry.js";
import { forEachStore } from "../helpers/hosts.js";

const LEVELS = ["log", "trace", "debug", "info", "warn", "error"] as const;

forEachStore("registered-function handles", (start) => {
  it("yield activity(input) and activity(input).withRetry(options) call the registered activity", async () => {
    const attempts = new Map<string, number>();
    const host = await start((app) => {
      const hello = app.activity("hello", { handler: (name: string) => `Hello ${name}` });
      const flaky = app.activity("flaky", {
        handler: (key: string) => {
          const n = (attempts.get(key) ?? 0) + 1;
          attempts.set(key, n);
          if (n < 3) throw new Error(`attempt ${n} of ${key} failed`);
          return `${key} after ${n}`;
        },
      });
      app.orchestration("greetAll", function* (context) {
        const first: unknown = yield hello("Tokyo");
        const both: unknown = yield context.df.Task.all([hello("Cairo"), hello("Lima")]);
        const retried: unknown = yield flaky("x").withRetry(new RetryOptions(10, 3));
        let refused = "";
        try {
          yield flaky("y").withRetry(new RetryOptions(10, 2));
        } catch (err) {
          refused = (err as Error).message;
        }
        // withRetry belongs to a call that was not yielded yet.
        const once = hello("again");
        yield once;
        let late = "";
        try {
          once.withRetry(new RetryOptions(10, 2));
        } catch (err) {
          late = (err as Error).message;
        }
        return { first, both, retried, refused, late };
      });
    });
    const id = await host.client.startNew("greetAll");
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 15_000 });
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
    const out = status.output as { first: string; both: string[]; retried: string; refused: string; late: string };
    assert.equal(out.first, "Hello Tokyo");
    assert.deepEqual(out.both, ["Hello Cairo", "Hello Lima"]);
    assert.equal(out.retried, "x after 3");
    assert.match(out.refused, /attempt 2 of y failed/);
    assert.equal(attempts.get("y"), 2, "two attempts, as the policy says");
    assert.match(out.late, /already yielded/);
  });

  it("yield orchestration(input[, instanceId]) starts the registered orchestrator as a sub-orchestration", async () => {
    const host = await start((app) => {
      const double = app.activity("double", { handler: (n: number) => n * 2 });
      const child = app.orchestration("child", function* (context) {
        return yield double(context.df.getInput<number>());
      });
      app.orchestration("parent", function* () {
        const a: unknown = yield child(5);
        const b: unknown = yield child(6, "fixed-child");
        const c: unknown = yield child(7).withRetry(new RetryOptions(10, 2));
        return [a, b, c];
      });
    });
    await host.client.startNew("parent", { instanceId: "p1" });
    const status = await host.client.waitForCompletion("p1", { timeoutInMilliseconds: 15_000 });
    assert.equal(status.runtimeStatus, "Completed", JSON.stringify(status.output));
    assert.deepEqual(status.output, [10, 12, 14]);
    assert.equal((await host.client.getStatus("p1:0")).output, 10, "the default child ID is <parent>:<sequence>");
    assert.equal((await host.client.getStatus("fixed-child")).parentInstanceId, "p1");
  });

  it("a handle's sub-orchestration inside a critical section is refused at the yield, like context.df's", async () => {
    const host = await start((app) => {
      app.entity("counter", (context: { df: { setState(v: number): void } }) => context.df.setState(1));
      const child = app.orchestration("noop", function* () {
        return 1;
      });
      app.orchestration("locker", function* (context) {
        const lock = (yield context.df.lock(new EntityId("counter", "c"))) as { release(): void };
        try {
          yield child();
          return "started";
        } catch (err) {
          return (err as Error).name;
        } finally {
          lock.release();
        }
      });
    });
    const id = await host.client.startNew("locker");
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 15_000 });
    assert.equal(status.output, "LockingRulesViolationError");
  });

  it("activities and entities get the invocation context of @azure/functions", async () => {
    const seen: Record<string, unknown>[] = [];
    const host = await start((app) => {
      app.activity("inspect", {
        extraOutputs: [{ type: "note", name: "note", path: "out/{x}" }],
        handler: (_: unknown, context: ActivityContext) => {
          context.extraOutputs.set("note", "kept");
          for (const level of LEVELS) context[level]("from", "activity");
          seen.push({
            functionName: context.functionName,
            invocationId: typeof context.invocationId,
            trigger: context.options.trigger.type,
            extraInputs: context.options.extraInputs.length,
            extraOutputs: context.options.extraOutputs.map((o) => o.name),
            note: context.extraOutputs.get({ type: "generic", name: "note" }),
            attempt: context.attempt,
          });
          return 1;
        },
      });
      app.entity("probe", (context) => {
        for (const level of LEVELS) context[level]("from", "entity");
        seen.push({ functionName: context.functionName, trigger: context.options.trigger.type, key: context.df.entityKey });
        context.df.setState(1);
      });
      app.orchestration("inspectAll", function* (context) {
        yield context.df.callActivity("inspect");
        return yield context.df.callEntity(new EntityId("probe", "k"), "look");
      });
    });
    const id = await host.client.startNew("inspectAll");
    assert.equal((await host.client.waitForCompletion(id, { timeoutInMilliseconds: 15_000 })).runtimeStatus, "Completed");
    assert.deepEqual(seen, [
      { functionName: "inspect", invocationId: "string", trigger: "activityTrigger", extraInputs: 0, extraOutputs: ["note"], note: "kept", attempt: 1 },
      { functionName: "probe", trigger: "entityTrigger", key: "k" },
    ]);
  });
});
