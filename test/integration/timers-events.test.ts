import assert from "node:assert/strict";
import { it } from "node:test";
import type { Task } from "../../src/core/tasks.js";
import { ManualClock } from "../helpers/clock.js";
import { eventually, forEachStore } from "../helpers/hosts.js";

forEachStore("timers and external events", (start) => {
  it("waits on a durable timer and resumes after it fires, never before", async () => {
    const host = await start((app) => {
      app.orchestration("sleeper", function* (ctx) {
        const fireAt = new Date(ctx.df.currentUtcDateTime.getTime() + 150);
        yield ctx.df.createTimer(fireAt);
        return { fireAt: fireAt.toISOString(), resumedAt: ctx.df.currentUtcDateTime.toISOString() };
      });
    });
    const id = await host.client.startNew("sleeper");
    const out = (await host.client.waitForCompletion(id)).output as { fireAt: string; resumedAt: string };
    assert.ok(Date.parse(out.resumedAt) >= Date.parse(out.fireAt), `resumed ${out.resumedAt} >= fireAt ${out.fireAt}`);
  });

  it("handles timers of any length (30 days) with a manual clock", async () => {
    const clock = new ManualClock();
    const host = await start(
      (app) => {
        app.orchestration("month", function* (ctx) {
          yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 30 * 24 * 3600_000));
          return "a month later";
        });
      },
      { clock, pollIntervalMs: 10 },
    );
    const id = await host.client.startNew("month");
    await eventually(async () => {
      const h = await host.client.getStatus(id, { showHistory: true });
      return h.history!.some((e) => e.EventType === "TimerCreated");
    });
    clock.advance(29 * 24 * 3600_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await host.client.getStatus(id)).runtimeStatus, "Running", "not early");
    clock.advance(24 * 3600_000);
    const status = await host.client.waitForCompletion(id);
    assert.equal(status.output, "a month later");
  });

  it("buffers events raised before the orchestration waits for them (FIFO per name)", async () => {
    const host = await start((app) => {
      app.orchestration("lateListener", function* (ctx) {
        yield ctx.df.waitForExternalEvent("go");
        const first: unknown = yield ctx.df.waitForExternalEvent("data");
        const second: unknown = yield ctx.df.waitForExternalEvent("DATA");
        return [first, second];
      });
    });
    const id = await host.client.startNew("lateListener");
    await host.client.raiseEvent(id, "data", { n: 1 });
    await host.client.raiseEvent(id, "data", { n: 2 });
    await host.client.raiseEvent(id, "go");
    const status = await host.client.waitForCompletion(id);
    assert.deepEqual(status.output, [{ n: 1 }, { n: 2 }]);
  });

  it("delivers to several waiters on one name", async () => {
    const host = await start((app) => {
      app.orchestration("twoWaiters", function* (ctx) {
        const a = ctx.df.waitForExternalEvent("vote");
        const b = ctx.df.waitForExternalEvent("vote");
        const both = (yield ctx.df.Task.all([a, b])) as unknown[];
        return both.map(String).sort();
      });
    });
    const id = await host.client.startNew("twoWaiters");
    await eventually(async () => (await host.client.getStatus(id)).runtimeStatus === "Running");
    await host.client.raiseEvent(id, "vote", "yes");
    await host.client.raiseEvent(id, "vote", "no");
    assert.deepEqual((await host.client.waitForCompletion(id)).output, ["no", "yes"]);
  });

  it("Task.any returns the winning task: event before timeout, and timeout before event", async () => {
    const host = await start((app) => {
      app.orchestration("approval", function* (ctx) {
        const timeoutMs = ctx.df.getInput<number>();
        const timer = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + timeoutMs));
        const event = ctx.df.waitForExternalEvent("Approval");
        const winner = (yield ctx.df.Task.any([event, timer])) as Task;
        if (winner === event) {
          timer.cancel();
          return { approved: winner.result, canceled: timer.isCanceled };
        }
        return "timed out";
      });
    });
    const fast = await host.client.startNew("approval", { input: 60_000 });
    await host.client.raiseEvent(fast, "Approval", true);
    const fastStatus = await host.client.waitForCompletion(fast, { timeoutInMilliseconds: 10_000 });
    assert.deepEqual(fastStatus.output, { approved: true, canceled: true }, "completes without waiting a minute for the canceled timer");
    const slow = await host.client.startNew("approval", { input: 100 });
    assert.equal((await host.client.waitForCompletion(slow)).output, "timed out");
  });

  it("completes when the generator returns even if a timer is still pending", async () => {
    const host = await start((app) => {
      app.activity("quick", { handler: () => "fast" });
      app.orchestration("noCancel", function* (ctx) {
        const timer = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 3600_000));
        const winner = (yield ctx.df.Task.any([ctx.df.callActivity("quick"), timer])) as Task;
        return winner.result;
      });
    });
    const id = await host.client.startNew("noCancel");
    const status = await host.client.waitForCompletion(id, { timeoutInMilliseconds: 10_000 });
    assert.equal(status.runtimeStatus, "Completed");
    assert.equal(status.output, "fast");
  });

  it("nests Task.any of a Task.all and a timer", async () => {
    const host = await start((app) => {
      app.activity("square", { handler: (n: number) => n * n });
      app.orchestration("nested", function* (ctx) {
        const all = ctx.df.Task.all([1, 2, 3].map((n) => ctx.df.callActivity("square", n)));
        const timer = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 3600_000));
        const winner = (yield ctx.df.Task.any([all, timer])) as Task;
        timer.cancel();
        return winner === all ? winner.result : "timeout";
      });
    });
    const id = await host.client.startNew("nested");
    assert.deepEqual((await host.client.waitForCompletion(id)).output, [1, 4, 9]);
  });

  it("Task.all fails fast with the first error", async () => {
    const host = await start((app) => {
      app.activity("ok", { handler: () => "fine" });
      app.activity("bad", {
        handler: () => {
          throw new Error("bad one");
        },
      });
      app.orchestration("allFails", function* (ctx) {
        try {
          yield ctx.df.Task.all([ctx.df.callActivity("ok"), ctx.df.callActivity("bad"), ctx.df.callActivity("ok")]);
        } catch (err) {
          return (err as Error).message;
        }
      });
    });
    const id = await host.client.startNew("allFails");
    assert.equal((await host.client.waitForCompletion(id)).output, "Activity function 'bad' failed: bad one");
  });
});
