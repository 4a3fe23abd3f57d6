import assert from "node:assert/strict";
import { it } from "node:test";
import { RetryOptions } from "../../src/core/retry-options.js";
import type { TaskFailedError } from "../../src/core/errors.js";
import { eventually, forEachStore, storedHistory } from "../helpers/hosts.js";

forEachStore("sub-orchestrations", (start) => {
  it("runs children with derived and given ids, passing input, output and parentInstanceId", async () => {
    const host = await start((app) => {
      app.activity("double", { handler: (n: number) => n * 2 });
      app.orchestration("child", function* (ctx) {
        const doubled: unknown = yield ctx.df.callActivity("double", ctx.df.getInput<number>());
        return { doubled, parent: ctx.df.parentInstanceId ?? null, me: ctx.df.instanceId };
      });
      app.orchestration("parent", function* (ctx) {
        const a: unknown = yield ctx.df.callSubOrchestrator("child", 1);
        const b: unknown = yield ctx.df.callSubOrchestrator("child", 2, "my-child");
        const parallel: unknown = yield ctx.df.Task.all([ctx.df.callSubOrchestrator("child", 3), ctx.df.callSubOrchestrator("child", 4)]);
        return { a, b, parallel, parentSees: ctx.df.parentInstanceId ?? null };
      });
    });
    const id = await host.client.startNew("parent", { instanceId: "p1" });
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.runtimeStatus, "Completed");
    assert.deepEqual(status.output, {
      a: { doubled: 2, parent: "p1", me: "p1:0" },
      b: { doubled: 4, parent: "p1", me: "my-child" },
      parallel: [
        { doubled: 6, parent: "p1", me: "p1:2" },
        { doubled: 8, parent: "p1", me: "p1:3" },
      ],
      parentSees: null,
    });
    const child = await host.client.getStatus("p1:0");
    assert.equal(child.runtimeStatus, "Completed");
    assert.equal(child.parentInstanceId, "p1");
  });

  it("propagates a child's failure with its details; the parent can catch it", async () => {
    const host = await start((app) => {
      app.orchestration("throwsErrorInLine", function* () {
        throw new TypeError("throwsErrorInLine does what it says on the tin.");
      });
      app.orchestration("parentCatches", function* (ctx) {
        try {
          yield ctx.df.callSubOrchestrator("throwsErrorInLine", undefined, "failing-child");
        } catch (err) {
          const e = err as TaskFailedError;
          return { message: e.message, kind: e.taskKind, type: e.failureDetails.errorType };
        }
      });
    });
    const id = await host.client.startNew("parentCatches");
    const status = await host.client.waitForCompletion(id);
    assert.deepEqual(status.output, {
      message: "Orchestrator function 'throwsErrorInLine' failed: throwsErrorInLine does what it says on the tin.",
      kind: "orchestrator",
      type: "TypeError",
    });
    assert.equal((await host.client.getStatus("failing-child")).runtimeStatus, "Failed");
  });

  it("retries a failing child under the same given instance id", async () => {
    let attempts = 0;
    const host = await start((app) => {
      app.activity("count", {
        handler: () => {
          attempts++;
          if (attempts < 2) throw new Error("not yet");
          return attempts;
        },
      });
      app.orchestration("flakyChild", function* (ctx) {
        return yield ctx.df.callActivity("count");
      });
      app.orchestration("retryParent", function* (ctx) {
        return yield ctx.df.callSubOrchestratorWithRetry("flakyChild", new RetryOptions(20, 3), undefined, "fixed-child");
      });
    });
    const id = await host.client.startNew("retryParent");
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.output, 2);
    const history = await storedHistory(host, id);
    const created = history.filter((e) => e.type === "SubOrchestrationInstanceCreated") as { instanceId: string }[];
    assert.deepEqual(created.map((c) => c.instanceId), ["fixed-child", "fixed-child"]);
  });

  it("fails the sub-orchestration call when the child id belongs to a running instance", async () => {
    const host = await start((app) => {
      app.orchestration("waiter", function* (ctx) {
        yield ctx.df.waitForExternalEvent("never");
      });
      app.orchestration("collides", function* (ctx) {
        try {
          yield ctx.df.callSubOrchestrator("waiter", undefined, "busy");
          return "started";
        } catch (err) {
          return (err as Error).message;
        }
      });
    });
    await host.client.startNew("waiter", { instanceId: "busy" });
    await eventually(async () => (await host.client.getStatus("busy")).runtimeStatus === "Running", 10_000, "busy running");
    const id = await host.client.startNew("collides");
    const status = await host.client.waitForCompletion(id);
    assert.match(String(status.output), /instance with ID 'busy' and status Running already exists/);
    await host.client.terminate("busy", "cleanup");
    await host.client.waitForCompletion("busy");
  });
});
