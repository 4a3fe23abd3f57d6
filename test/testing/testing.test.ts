/**
 * perdure/testing on the seed patterns: every test drives a real host on the memory store with a
 * manual clock (or the direct runner), so hours and weeks of durable time pass in milliseconds.
 */
import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import { describe, it } from "node:test";
import { createApp, type DurableApp } from "../../src/app.js";
import type { OrchestrationContext } from "../../src/core/context.js";
import type { RegisteredEntity } from "../../src/core/registered-types.js";
import { EntityId } from "../../src/core/entity-id.js";
import { RetryOptions } from "../../src/core/retry-options.js";
import type { Task } from "../../src/core/tasks.js";
import { createTestHost, mockSequence, runOrchestrator } from "../../src/testing.js";

const HOUR = 3600_000;

/** Human interaction: approval within 72 hours, else escalation. */
function approvalApp(): DurableApp {
  const app = createApp();
  app.orchestration("approval", function* (ctx: OrchestrationContext) {
    const request = ctx.df.getInput<{ id: string }>();
    yield ctx.df.callActivity("sendApprovalRequest", request);
    const deadline = new Date(ctx.df.currentUtcDateTime.getTime() + 72 * HOUR);
    const timeout = ctx.df.createTimer(deadline);
    const approval = ctx.df.waitForExternalEvent("ApprovalEvent");
    const winner: Task = yield ctx.df.Task.any([approval, timeout]);
    if (winner === approval) {
      timeout.cancel();
      return approval.result ? "approved" : "rejected";
    }
    yield ctx.df.callActivity("escalate", request);
    return "timed out";
  });
  app.activity("sendApprovalRequest", { handler: () => "sent" });
  app.activity("escalate", { handler: () => "escalated" });
  return app;
}

describe("perdure/testing: test host", () => {
  it("human interaction: approved within the 72-hour window", async () => {
    await using host = createTestHost({ app: approvalApp() });
    const id = await host.start("approval", { id: "r1" });
    assert.deepEqual(host.calls("sendApprovalRequest"), [{ input: { id: "r1" }, result: "sent" }]);
    await host.advanceTime(24 * HOUR);
    await host.raiseEvent(id, "ApprovalEvent", true);
    const status = await host.waitForStatus(id, "Completed");
    assert.equal(status.output, "approved");
    assert.deepEqual(host.calls("escalate"), []);
    await host.assertHistory(id, [
      "ExecutionStarted",
      { type: "TaskScheduled", name: "sendApprovalRequest", input: { id: "r1" } },
      { type: "TaskCompleted", result: "sent" },
      { type: "TimerCreated", fireAt: new Date(Date.parse("2026-01-01T00:00:00Z") + 72 * HOUR) },
      { type: "EventRaised", name: "ApprovalEvent", input: true },
      { type: "ExecutionCompleted", orchestrationStatus: "Completed", result: "approved" },
    ]);
  });

  it("human interaction: no answer, so the 72-hour timeout escalates", async () => {
    await using host = createTestHost({ app: approvalApp() });
    host.mockActivity("escalate", (input) => `escalated ${(input as { id: string }).id}`);
    const id = await host.start("approval", { id: "r2" });
    await host.advanceTime(72 * HOUR - 1);
    assert.equal((await host.client.getStatus(id)).runtimeStatus, "Running", "not a millisecond early");
    await host.advanceTime(1);
    const status = await host.waitForStatus(id, "Completed");
    assert.equal(status.output, "timed out");
    assert.deepEqual(host.calls("escalate"), [{ input: { id: "r2" }, result: "escalated r2" }]);
    const fired = (await host.history(id)).find((e) => e.type === "TimerFired");
    assert.equal(fired?.type === "TimerFired" && fired.fireAt, "2026-01-04T00:00:00.000Z");
  });

  it("monitor: polls every hour for a week (168 polls) until the job is done", async () => {
    await using host = createTestHost({
      register: (app) => {
        app.orchestration("monitor", function* (ctx: OrchestrationContext) {
          const { jobId } = ctx.df.getInput<{ jobId: string }>();
          const expiry = ctx.df.currentUtcDateTime.getTime() + 7 * 24 * HOUR;
          let polls = 0;
          while (ctx.df.currentUtcDateTime.getTime() < expiry) {
            polls++;
            const done: boolean = yield ctx.df.callActivity("checkJob", jobId);
            if (done) {
              yield ctx.df.callActivity("notify", { jobId, polls });
              return { polls, at: ctx.df.currentUtcDateTime.toISOString() };
            }
            yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + HOUR));
          }
          return { polls, at: "expired" };
        });
      },
    });
    let checks = 0;
    host.mockActivity("checkJob", () => ++checks >= 168);
    host.mockActivity("notify", null);
    const id = await host.start("monitor", { jobId: "j1" });
    const status = await host.waitForStatus(id, "Completed", { advanceTimeUpTo: 7 * 24 * HOUR });
    assert.deepEqual(status.output, { polls: 168, at: "2026-01-07T23:00:00.000Z" });
    assert.equal(host.calls("checkJob").length, 168);
    assert.deepEqual(host.calls("notify"), [{ input: { jobId: "j1", polls: 168 }, result: null }]);
    assert.equal(host.now().toISOString(), "2026-01-07T23:00:00.000Z");
  });

  it("retries with backoff: fails twice, then succeeds; the retry timers wait 1 s, then 2 s", async () => {
    await using host = createTestHost({
      register: (app) => {
        app.orchestration("withRetry", function* (ctx: OrchestrationContext) {
          const retry = new RetryOptions(1000, 5);
          retry.backoffCoefficient = 2;
          return yield ctx.df.callActivityWithRetry("flaky", retry, "payload");
        });
      },
    });
    host.mockActivity("flaky", mockSequence({ error: "down" }, { error: new Error("still down") }, "ok"));
    const id = await host.start("withRetry");
    await host.advanceTime(10_000);
    assert.equal((await host.waitForStatus(id, "Completed")).output, "ok");
    const calls = host.calls("flaky");
    assert.equal(calls.length, 3);
    assert.ok("error" in calls[0]! && calls[0].error.message === "down");
    assert.ok("error" in calls[1]! && calls[1].error.message === "still down");
    assert.deepEqual(calls[2], { input: "payload", result: "ok" });
    const history = await host.history(id);
    const failedAt = history.filter((e) => e.type === "TaskFailed").map((e) => Date.parse(e.timestamp));
    const delays = history.flatMap((e) => (e.type === "TimerCreated" ? [Date.parse(e.fireAt)] : [])).map((t, i) => t - failedAt[i]!);
    assert.deepEqual(delays, [1000, 2000]);
  });

  it("fan-out/fan-in with mocks and call records", async () => {
    await using host = createTestHost({
      register: (app) => {
        app.orchestration("fanOut", function* (ctx: OrchestrationContext) {
          const files: string[] = yield ctx.df.callActivity("listFiles", "/data");
          const sizes: number[] = yield ctx.df.Task.all(files.map((f) => ctx.df.callActivity("fileSize", f)));
          return sizes.reduce((a, b) => a + b, 0);
        });
        app.activity("listFiles", { handler: () => { throw new Error("the real one touches the disk"); } });
      },
    });
    host.mockActivity("listFiles", ["a", "bb", "ccc", "dddd"]);
    host.mockActivity("fileSize", async (f) => (f as string).length * 10);
    const id = await host.start("fanOut");
    assert.equal((await host.waitForStatus(id, "Completed")).output, 100);
    assert.deepEqual(host.calls("fileSize").map((c) => c.input).sort(), ["a", "bb", "ccc", "dddd"]);
    assert.deepEqual(host.calls("FILESIZE").map((c) => ("result" in c ? c.result : undefined)).sort(), [10, 20, 30, 40], "names are case-insensitive");
  });

  it("a mocked sub-orchestration answers at once, and its failure reaches the parent", async () => {
    await using host = createTestHost({
      register: (app) => {
        app.orchestration("parent", function* (ctx: OrchestrationContext) {
          const shipped: unknown = yield ctx.df.callSubOrchestrator("ship", { order: 1 });
          try {
            yield ctx.df.callSubOrchestrator("invoice", { order: 1 });
          } catch (err) {
            return { shipped, invoice: (err as Error).message };
          }
          return { shipped };
        });
      },
    });
    host.mockSubOrchestration("ship", (input) => ({ tracking: `T-${(input as { order: number }).order}` }));
    host.mockSubOrchestration("invoice", { error: "billing is down" });
    const id = await host.start("parent");
    const status = await host.waitForStatus(id, "Completed");
    assert.deepEqual(status.output, { shipped: { tracking: "T-1" }, invoice: "Orchestrator function 'invoice' failed: billing is down" });
    assert.deepEqual(host.calls("ship"), [{ input: { order: 1 }, result: { tracking: "T-1" } }]);
    assert.equal(host.calls("invoice").length, 1);
  });

  it("seeds an entity's state; an orchestration reads it", async () => {
    const app = createApp();
    app.entity("counter", (ctx) => {
      const state = ctx.df.getState(() => 0) as number;
      if (ctx.df.operationName === "add") ctx.df.setState(state + ctx.df.getInput<number>());
      if (ctx.df.operationName === "get") ctx.df.return(state);
    });
    app.orchestration("readCounter", function* (ctx: OrchestrationContext) {
      yield ctx.df.callEntity(new EntityId("counter", "c1"), "add", 1);
      return yield ctx.df.callEntity(new EntityId("counter", "c1"), "get");
    });
    await using host = createTestHost({ app });
    await host.seedEntity(new EntityId("counter", "c1"), 41);
    assert.deepEqual(await host.client.readEntityState(new EntityId("counter", "c1")), { entityExists: true, entityState: 41 });
    const id = await host.start("readCounter");
    assert.equal((await host.waitForStatus(id, "Completed")).output, 42);
  });

  it("seeds a class-based entity's fields", async () => {
    class Account {
      balance = 0;
      deposit(amount: number): number {
        this.balance += amount;
        return this.balance;
      }
    }
    await using host = createTestHost({
      register: (app) => {
        app.entity("account", Account);
        app.orchestration("deposit", function* (ctx: OrchestrationContext) {
          return yield ctx.df.callEntity(new EntityId("account", "a1"), "deposit", 5);
        });
      },
    });
    await host.seedEntity(new EntityId("account", "a1"), { balance: 100 });
    const id = await host.start("deposit");
    assert.equal((await host.waitForStatus(id, "Completed")).output, 105);
    assert.deepEqual((await host.client.readEntityState(new EntityId("account", "a1"))).entityState, { balance: 105 });
  });

  it("async HTTP API: the starter answers 202 with a status URL, which says 202 while the work runs and 200 with the output after", async () => {
    await using host = createTestHost({
      http: true,
      register: (app) => {
        // The durable-functions HTTP starter, and a report that takes an hour of durable time.
        app.client.http("HttpStart", {
          route: "orchestrators/{orchestratorName}",
          methods: ["POST"],
          handler: async (request, client) => client.createCheckStatusResponse(request, await client.startNew(request.params.orchestratorName!, { input: await request.json() })),
        });
        app.client.http("Nothing", { route: "nothing", methods: ["POST"], handler: () => new Response(null, { status: 205 }) });
        app.orchestration("report", function* (ctx: OrchestrationContext) {
          const rows: number = yield ctx.df.callActivity("gather", ctx.df.getInput<{ month: string }>());
          yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + HOUR));
          return { month: ctx.df.getInput<{ month: string }>().month, rows };
        });
      },
    });
    host.mockActivity("gather", 1200);
    const started = await host.fetch("/api/orchestrators/report", { method: "POST", body: JSON.stringify({ month: "2026-01" }), headers: { "content-type": "application/json" } });
    assert.equal(started.status, 202);
    const body = (await started.json()) as { id: string; statusQueryGetUri: string };
    const location = started.headers.get("location")!;
    assert.equal(location, body.statusQueryGetUri);
    assert.ok(location.startsWith(host.url), location);

    const running = await host.fetch(location);
    assert.equal(running.status, 202, "202 while it runs");
    assert.equal(((await running.json()) as { runtimeStatus: string }).runtimeStatus, "Running");
    assert.deepEqual(host.calls("gather"), [{ input: { month: "2026-01" }, result: 1200 }]);

    await host.advanceTime(HOUR);
    const done = await host.fetch(location);
    assert.equal(done.status, 200);
    const final = (await done.json()) as { runtimeStatus: string; output: unknown };
    assert.equal(final.runtimeStatus, "Completed");
    assert.deepEqual(final.output, { month: "2026-01", rows: 1200 });

    // The response is fetch's own: its status (a body-less 205 too) and URL as sent.
    const nothing = await host.fetch("/api/nothing", { method: "POST" });
    assert.equal(nothing.status, 205);
    assert.equal(nothing.url, `${host.url}/api/nothing`);
  });

  it("says how to get HTTP when the test host has none", async () => {
    await using host = createTestHost({ register: (app) => app.activity("a", { handler: () => 1 }) });
    await assert.rejects(host.fetch("/api/x"), /createTestHost\(\{ http: true/);
    assert.throws(() => host.url, /serves no HTTP: create it with createTestHost\(\{ http: true/);
  });

  it("aggregator: one entity sums what many senders signal, and a signal for later waits for the clock", async () => {
    interface Stats {
      count: number;
      sum: number;
    }
    let stats: RegisteredEntity<Stats, { record(value: number): void; get(): Stats }> | undefined;
    await using host = createTestHost({
      register: (app) => {
        stats = app.entity<Stats, { record(value: number): void; get(): Stats }>("stats", (ctx) => {
          const state = ctx.df.getState(() => ({ count: 0, sum: 0 }));
          if (ctx.df.operationName === "record") ctx.df.setState({ count: state.count + 1, sum: state.sum + ctx.df.getInput<number>() });
          else ctx.df.return(state);
        });
        app.orchestration("sender", function* (ctx: OrchestrationContext) {
          const from = ctx.df.getInput<number>();
          for (let v = from; v < from + 10; v++) ctx.df.signalEntity(stats!.id("day"), "record", v);
          return yield* ctx.df.callEntity(stats!.id("day"), "get");
        });
      },
    });
    const ids = await Promise.all([1, 11, 21, 31, 41].map((from) => host.start("sender", from)));
    await host.runUntilIdle();
    for (const id of ids) assert.equal((await host.waitForStatus(id, "Completed")).runtimeStatus, "Completed");
    assert.deepEqual((await host.client.readEntityState(stats!.id("day"))).entityState, { count: 50, sum: 1275 });

    await host.client.signalEntity(stats!.id("day"), "record", 1000, { signalTime: new Date(host.now().getTime() + HOUR) });
    await host.advanceTime(HOUR - 1);
    assert.deepEqual((await host.client.readEntityState(stats!.id("day"))).entityState, { count: 50, sum: 1275 }, "not yet");
    await host.advanceTime(1);
    assert.deepEqual((await host.client.readEntityState(stats!.id("day"))).entityState, { count: 51, sum: 2275 });
  });

  it("leaves the app it was given as it was: mocks live in the test host", async () => {
    const app = approvalApp();
    {
      await using host = createTestHost({ app });
      host.mockActivity("escalate", "mocked");
      host.mockActivity("onlyInTheTest", 1);
    }
    assert.equal(app.registry.getActivity("onlyInTheTest"), undefined);
    assert.equal(await (app.registry.getActivity("escalate")!.handler as () => unknown)(), "escalated");
  });

  describe("failure paths", () => {
    it("unknown instance: waitForStatus and history say so", async () => {
      await using host = createTestHost({ app: approvalApp() });
      await assert.rejects(host.waitForStatus("nope", "Completed"), (err: Error) => (err as { code?: string }).code === "INSTANCE_NOT_FOUND" && /nope/.test(err.message));
      await assert.rejects(host.history("nope"), /nope/);
    });

    it("waitForStatus that never holds throws a clear AssertionError naming the current status", async () => {
      await using host = createTestHost({ app: approvalApp() });
      const id = await host.start("approval", { id: "r3" });
      await assert.rejects(host.waitForStatus(id, "Completed"), (err: unknown) => {
        assert.ok(err instanceof AssertionError);
        assert.match(err.message, /waited for status Completed, but the instance is Running/);
        assert.match(err.message, /next timer is due at 2026-01-04T00:00:00.000Z/);
        return true;
      });
      // With enough time allowed, it gets there.
      assert.equal((await host.waitForStatus(id, "Completed", { advanceTimeUpTo: 72 * HOUR })).output, "timed out");
    });

    it("unknown functions: start and seedEntity name what is missing", async () => {
      await using host = createTestHost({ app: approvalApp() });
      await assert.rejects(host.start("noSuchOrchestration"), /noSuchOrchestration/);
      await assert.rejects(host.seedEntity(new EntityId("noSuchEntity", "k"), 1), /no entity named 'noSuchEntity'/);
    });

    it("mocking a name twice is refused", () => {
      const host = createTestHost({ app: approvalApp() });
      host.mockActivity("escalate", 1);
      assert.throws(() => host.mockActivity("Escalate", 2), /already mocked.*mockSequence/s);
      host.mockSubOrchestration("child", 1);
      assert.throws(() => host.mockSubOrchestration("child", 2), /already mocked/);
    });

    it("a call of a function neither registered nor mocked fails runUntilIdle with its name", async () => {
      await using host = createTestHost({
        register: (app) => {
          app.orchestration("callsMissing", function* (ctx: OrchestrationContext) {
            return yield ctx.df.callActivity("missingActivity");
          });
        },
      });
      await assert.rejects(host.start("callsMissing"), /activity 'missingActivity'.*mock them/s);
    });

    it("waits for an activity that takes real time, and stops an orchestration that never waits", async () => {
      await using host = createTestHost({
        maxSteps: 200,
        register: (app) => {
          app.orchestration("slow", function* (ctx: OrchestrationContext) {
            return yield ctx.df.callActivity("slowIo");
          });
          app.orchestration("spin", function* (ctx: OrchestrationContext) {
            yield ctx.df.callActivity("tick");
            ctx.df.continueAsNew(null);
          });
        },
      });
      host.mockActivity("slowIo", () => new Promise((resolve) => setTimeout(() => resolve("io done"), 30)));
      host.mockActivity("tick", 1);
      const slow = await host.start("slow");
      assert.equal((await host.waitForStatus(slow, "Completed")).output, "io done");
      await assert.rejects(host.start("spin"), /more than 200 steps.*continueAsNew without a timer/s);
    });

    it("assertHistory shows where the history differs", async () => {
      await using host = createTestHost({ app: approvalApp() });
      const id = await host.start("approval", { id: "r4" });
      await assert.rejects(host.assertHistory(id, ["ExecutionStarted", "TimerCreated"]), (err: unknown) => {
        assert.ok(err instanceof AssertionError);
        assert.match(err.message, /event #1 is TaskScheduled .*; expected TimerCreated/);
        return true;
      });
    });
  });
});

describe("perdure/testing: runOrchestrator", () => {
  function* chain(ctx: OrchestrationContext): Generator<Task, unknown, unknown> {
    const a = (yield ctx.df.callActivity("hello", "Tokyo")) as string;
    const b = (yield ctx.df.callActivity("hello", "Seattle")) as string;
    ctx.df.setCustomStatus({ step: 2 });
    const c = (yield ctx.df.callActivity("hello", "London")) as string;
    return [a, b, c];
  }

  it("chaining: scripted results, actions in order, custom status", async () => {
    const r = await runOrchestrator(chain, { results: { hello: (city) => `Hello ${String(city)}!` } });
    assert.equal(r.status, "Completed");
    assert.deepEqual(r.output, ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]);
    assert.deepEqual(r.actions, [
      { kind: "activity", name: "hello", input: "Tokyo" },
      { kind: "activity", name: "hello", input: "Seattle" },
      { kind: "activity", name: "hello", input: "London" },
    ]);
    assert.deepEqual(r.customStatus, { step: 2 });
  });

  it("a failure path: the activity's error fails the orchestration", async () => {
    const r = await runOrchestrator(chain, { results: { hello: (city, ctx) => (ctx.call === 2 ? Promise.reject(new Error(`no route to ${String(city)}`)) : "hi") } });
    assert.equal(r.status, "Failed");
    assert.match(r.error!.message, /Activity function 'hello' failed: no route to Seattle/);
    assert.equal(r.actions.length, 2);
  });

  function* approval(ctx: OrchestrationContext): Generator<Task, unknown, unknown> {
    const timeout = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 72 * HOUR));
    const event = ctx.df.waitForExternalEvent("Approval");
    const winner = yield ctx.df.Task.any([event, timeout]);
    if (winner === event) {
      timeout.cancel();
      return `approved: ${String(event.result)}`;
    }
    return "timed out";
  }

  it("Task.any with a timer: the event wins when it comes in time, the timer otherwise", async () => {
    const inTime = await runOrchestrator(approval, { events: [{ name: "Approval", data: "yes", afterMs: 5 * HOUR }] });
    assert.equal(inTime.output, "approved: yes");
    assert.equal(inTime.now.toISOString(), "2026-01-01T05:00:00.000Z");
    const late = await runOrchestrator(approval, { events: [{ name: "Approval", data: "yes", afterMs: 73 * HOUR }] });
    assert.equal(late.output, "timed out");
    assert.deepEqual(late.actions, [{ kind: "timer", fireAt: new Date("2026-01-04T00:00:00.000Z") }]);
    function* waitsOnly(ctx: OrchestrationContext): Generator<Task, unknown, unknown> {
      return yield ctx.df.waitForExternalEvent("never");
    }
    const waiting = await runOrchestrator(waitsOnly);
    assert.equal(waiting.status, "Running", "an event the script does not send leaves it waiting");
  });

  it("says which call has no scripted result, and catches nondeterministic code", async () => {
    await assert.rejects(runOrchestrator(chain, { results: {} }), /activity 'hello', which has no scripted result/);
    let n = 0;
    function* nondeterministic(ctx: OrchestrationContext): Generator<Task, unknown, unknown> {
      n++;
      yield ctx.df.callActivity(n === 1 ? "a" : "b");
      return "done";
    }
    await assert.rejects(runOrchestrator(nondeterministic, { results: { a: 1, b: 2 } }), /Non-Deterministic/);
  });
});
