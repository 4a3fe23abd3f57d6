import assert from "node:assert/strict";
import { it } from "node:test";
import { eventually, forEachStore, storedHistory } from "../helpers/hosts.js";

forEachStore("continueAsNew", (start) => {
  it("restarts with a fresh history and the same instance id until done", async () => {
    const host = await start((app) => {
      app.orchestration("counter", function* (ctx) {
        const value = (ctx.df.getInput<number | undefined>() ?? 0) + 1;
        yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 5));
        if (value < 5) {
          ctx.df.continueAsNew(value);
          return;
        }
        return value;
      });
    });
    const id = await host.client.startNew("counter", { instanceId: "eternal" });
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.output, 5);
    assert.equal(status.instanceId, "eternal");
    assert.equal((await host.client.getStatus(id)).input, 4, "input of the last execution");
    const history = await storedHistory(host, id);
    assert.equal(history.filter((e) => e.type === "ExecutionStarted").length, 1, "only the last execution's history is kept");
    assert.equal((history.find((e) => e.type === "ExecutionStarted") as unknown as { generation: number }).generation, 4);
  });

  it("carries unconsumed external events over to the next execution (stateful singleton)", async () => {
    const host = await start((app) => {
      app.orchestration("singleton", function* (ctx) {
        let total = ctx.df.getInput<number | undefined>() ?? 0;
        const op = (yield ctx.df.waitForExternalEvent("op")) as { add?: number; end?: boolean };
        if (op.end) return total;
        total += op.add ?? 0;
        ctx.df.setCustomStatus({ total });
        ctx.df.continueAsNew(total);
      });
    });
    const id = await host.client.startNew("singleton", { instanceId: "counter-1" });
    for (let i = 1; i <= 30; i++) await host.client.raiseEvent(id, "op", { add: i });
    await host.client.raiseEvent(id, "op", { end: true });
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 20_000 });
    assert.equal(status.output, 465, "every one of 30 burst operations applied exactly once");
    assert.deepEqual(status.customStatus, { total: 465 }, "custom status carries over until set again");
  });

  it("drops unconsumed events when asked to", async () => {
    const host = await start((app) => {
      app.orchestration("forgetful", function* (ctx) {
        const round = ctx.df.getInput<number | undefined>() ?? 0;
        if (round === 0) {
          yield ctx.df.waitForExternalEvent("start");
          // The "extra" event raised together with "start" is dropped here.
          yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 50));
          ctx.df.continueAsNew(1, { preserveUnprocessedEvents: false });
          return;
        }
        const timer = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 200));
        const extra = ctx.df.waitForExternalEvent("extra");
        const winner: unknown = yield ctx.df.Task.any([extra, timer]);
        return winner === extra ? "kept" : "dropped";
      });
    });
    const id = await host.client.startNew("forgetful");
    await host.client.raiseEvent(id, "start");
    await host.client.raiseEvent(id, "extra");
    assert.equal((await host.client.waitForCompletion(id)).output, "dropped");
  });

  it("reports ContinuedAsNew/Running between executions, never a terminal status", async () => {
    const host = await start((app) => {
      app.orchestration("looper", function* (ctx) {
        const n = ctx.df.getInput<number>();
        yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 20));
        if (n > 0) ctx.df.continueAsNew(n - 1);
        return "done";
      });
    });
    const id = await host.client.startNew("looper", { input: 3 });
    const seen = new Set<string>();
    await eventually(async () => {
      const s = await host.client.getStatus(id);
      seen.add(s.runtimeStatus);
      return s.runtimeStatus === "Completed";
    });
    for (const s of seen) assert.ok(["Pending", "Running", "ContinuedAsNew", "Completed"].includes(s), `unexpected status ${s}`);
  });
});
